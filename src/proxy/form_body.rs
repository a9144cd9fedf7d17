//! The file of a browser POST upload, streamed to the backend as a PutObject body: exactly the
//! bytes between the file part's headers and the form's closing delimiter, whose length the
//! gateway computed from the Content-Length (the backend gets that Content-Length). The final
//! bytes are held back until the closing delimiter has arrived exactly where expected and nothing
//! follows it; if the form's boundary shows up inside the file (another multipart reader would end
//! the file there), or the form ends early or runs long, the body fails and the upstream request
//! is aborted, so the backend never completes the object. Memory: one frame.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame};

use super::BodyError;

/// Streams a POST form's file part (see the module docs).
pub struct FormFileBody<B> {
    inner: B,
    /// Bytes already read past the file part's headers (by the form reader).
    pending: Option<Bytes>,
    /// The file's length, and how much of it has been passed on or is held.
    expected: u64,
    seen: u64,
    /// `\r\n--boundary`: must not occur inside the file.
    delimiter: Vec<u8>,
    /// The last `delimiter.len() - 1` bytes of the file so far (a delimiter split across frames).
    tail: Vec<u8>,
    /// What must follow the file: `\r\n--boundary--\r\n`, and how much of it has arrived.
    closing: Vec<u8>,
    closed: usize,
    /// The file's final bytes, released once the closing delimiter is verified.
    held: Option<Bytes>,
    finished: bool,
    failure: Arc<Mutex<Option<BodyError>>>,
}

impl<B> FormFileBody<B> {
    pub fn new(
        inner: B,
        pending: Bytes,
        expected: u64,
        boundary: &str,
    ) -> (FormFileBody<B>, Arc<Mutex<Option<BodyError>>>) {
        let failure = Arc::new(Mutex::new(None));
        (
            FormFileBody {
                inner,
                pending: Some(pending),
                expected,
                seen: 0,
                delimiter: format!("\r\n--{boundary}").into_bytes(),
                tail: Vec::new(),
                closing: format!("\r\n--{boundary}--\r\n").into_bytes(),
                closed: 0,
                held: None,
                finished: false,
                failure: failure.clone(),
            },
            failure,
        )
    }

    fn fail(&mut self, why: &str) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let e = BodyError::Form(why.to_string());
        *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.clone());
        self.finished = true;
        Poll::Ready(Some(Err(e)))
    }

    /// Takes one frame of form bytes: the file's share is checked for the delimiter and returned
    /// (or held, if it ends the file); the rest must be the closing delimiter.
    fn take(&mut self, mut data: Bytes) -> Result<Option<Bytes>, &'static str> {
        let room = (self.expected - self.seen).min(data.len() as u64) as usize;
        let file = data.split_to(room);
        let mut window = std::mem::take(&mut self.tail);
        window.extend_from_slice(&file);
        if memchr::memmem::find(&window, &self.delimiter).is_some() {
            return Err("the file contains the form's boundary: another part follows it");
        }
        let keep = window.len().min(self.delimiter.len() - 1);
        self.tail = window[window.len() - keep..].to_vec();
        self.seen += file.len() as u64;
        if !data.is_empty() {
            let rest = &self.closing[self.closed..];
            if data.len() > rest.len() || !rest.starts_with(&data) {
                return Err(
                    "the file must be the form's last part, ending with the closing boundary",
                );
            }
            self.closed += data.len();
        }
        if self.seen == self.expected && !file.is_empty() {
            // The file's last bytes: held until the form has ended as it must.
            self.held = Some(match self.held.take() {
                Some(h) => [h, file].concat().into(),
                None => file,
            });
            return Ok(None);
        }
        Ok((!file.is_empty()).then_some(file))
    }
}

impl<B> Body for FormFileBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        if this.finished {
            return Poll::Ready(None);
        }
        loop {
            let data = match this.pending.take() {
                Some(d) => d,
                None => match Pin::new(&mut this.inner).poll_frame(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(Err(e))) => {
                        let why = format!("the form was cut off: {e}");
                        let e = BodyError::Upstream(why);
                        *this.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.clone());
                        this.finished = true;
                        return Poll::Ready(Some(Err(e)));
                    }
                    Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                        Ok(d) => d,
                        Err(_) => continue,
                    },
                    Poll::Ready(None) => {
                        if this.seen != this.expected || this.closed != this.closing.len() {
                            return this.fail("the form ended before its closing boundary");
                        }
                        this.finished = true;
                        return match this.held.take() {
                            Some(last) => Poll::Ready(Some(Ok(Frame::data(last)))),
                            None => Poll::Ready(None),
                        };
                    }
                },
            };
            match this.take(data) {
                Err(why) => return this.fail(why),
                Ok(Some(file)) => return Poll::Ready(Some(Ok(Frame::data(file)))),
                Ok(None) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::Frames;
    use super::*;
    use http_body_util::BodyExt;
    use std::collections::VecDeque;

    const B: &str = "XyZ";

    /// What the backend receives of a form whose rest (file and closing) is `rest`, split into
    /// frames of `size` bytes, for a file of `expected` bytes; or the failure.
    fn run(rest: &[u8], size: usize, expected: u64) -> Result<Vec<u8>, BodyError> {
        let frames: VecDeque<Bytes> = rest.chunks(size).map(Bytes::copy_from_slice).collect();
        let (body, failure) = FormFileBody::new(Frames(frames), Bytes::new(), expected, B);
        let got = futures_block(body.collect());
        match got {
            Ok(c) => {
                assert!(failure.lock().unwrap().is_none());
                Ok(c.to_bytes().to_vec())
            }
            Err(e) => {
                assert_eq!(failure.lock().unwrap().as_ref(), Some(&e));
                Err(e)
            }
        }
    }

    fn futures_block<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn the_file_passes_byte_exact_at_every_frame_size() {
        let file = b"hello\r\n--Xy not quite the boundary\r\n";
        let rest = [file.as_slice(), b"\r\n--XyZ--\r\n"].concat();
        for size in 1..rest.len() + 1 {
            assert_eq!(
                run(&rest, size, file.len() as u64).unwrap(),
                file,
                "frames of {size}"
            );
        }
    }

    #[test]
    fn a_boundary_inside_the_file_fails_at_every_frame_size() {
        // Another reader ends the file at the first delimiter and reads a second part.
        let rest =
            b"abc\r\n--XyZ\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nv\r\n--XyZ--\r\n";
        let expected = (rest.len() - b"\r\n--XyZ--\r\n".len()) as u64;
        for size in 1..rest.len() + 1 {
            assert!(
                matches!(run(rest, size, expected), Err(BodyError::Form(_))),
                "frames of {size}"
            );
        }
    }

    #[test]
    fn a_form_that_runs_long_ends_early_or_ends_otherwise_fails() {
        let good = b"12345\r\n--XyZ--\r\n";
        for (rest, expected) in [
            (&b"12345\r\n--XyZ--\r\nextra"[..], 5),
            (&b"12345\r\n--XyZ--"[..], 5),
            (&b"12345"[..], 5),
            (&b"1234"[..], 5),
            (&good[..], 4),
            (&good[..], 6),
        ] {
            assert!(
                run(rest, 3, expected).is_err(),
                "{:?} {expected}",
                String::from_utf8_lossy(rest)
            );
        }
        assert_eq!(run(good, 3, 5).unwrap(), b"12345");
    }

    #[test]
    fn the_last_bytes_are_held_until_the_form_has_ended() {
        // Frame by frame: the file's final bytes come out only with the end of the client body.
        let frames: VecDeque<Bytes> = [&b"12"[..], b"345", b"\r\n--XyZ--\r\n"]
            .into_iter()
            .map(Bytes::copy_from_slice)
            .collect();
        let (mut body, _) = FormFileBody::new(Frames(frames), Bytes::new(), 5, B);
        let next = |b: &mut FormFileBody<Frames>| {
            futures_block(b.frame()).map(|f| f.unwrap().into_data().unwrap())
        };
        assert_eq!(next(&mut body).as_deref(), Some(&b"12"[..]));
        // "345" completed the file: held, and released only after the closing delimiter.
        assert_eq!(next(&mut body).as_deref(), Some(&b"345"[..]));
        assert_eq!(next(&mut body), None);
    }
}
