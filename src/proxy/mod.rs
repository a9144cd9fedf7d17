//! Forwarding to backends: the pooled client, header hygiene, and request bodies that verify
//! themselves while they stream.
//!
//! A body whose declared SHA-256 is checked here never hands its last frame to the backend
//! before the digest matches; on a mismatch the body ends with an error, hyper aborts the
//! upstream request, and the backend never completes the object.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use sha2::{Digest, Sha256};

pub mod api;
pub mod backend;
pub mod body;
pub mod form_body;
pub mod pool;
pub mod s3;
pub mod send;
pub mod tls;
pub mod upload_id;

/// Headers that describe one hop, never forwarded (RFC 9110 §7.6.1), plus client auth.
pub const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-connection",
];

/// Response headers that identify the backend (its software, its host id): dropped unless the
/// backend's `pass_fingerprints` is set.
const FINGERPRINTS: &[&str] = &["server", "x-amz-id-2", "x-powered-by", "via"];
const FINGERPRINT_PREFIXES: &[&str] = &["x-minio-", "x-rgw-", "x-garage-", "x-ceph-"];

/// Cleans a backend response's headers for the client: hop-by-hop headers always go, backend
/// fingerprints unless `pass_fingerprints`.
pub fn response_headers(headers: &mut HeaderMap, pass_fingerprints: bool) {
    for name in HOP_BY_HOP {
        headers.remove(*name);
    }
    if pass_fingerprints {
        return;
    }
    for name in FINGERPRINTS {
        headers.remove(*name);
    }
    let vendor: Vec<http::HeaderName> = headers
        .keys()
        .filter(|k| {
            FINGERPRINT_PREFIXES
                .iter()
                .any(|p| k.as_str().starts_with(p))
        })
        .cloned()
        .collect();
    for name in vendor {
        headers.remove(name);
    }
}

/// Replaces the text of a `<Location>` element (the backend's own URL in a
/// CompleteMultipartUpload result) with `location`; a body without one is returned unchanged.
pub fn replace_location(body: &[u8], location: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(body);
    let (Some(start), Some(end)) = (text.find("<Location>"), text.find("</Location>")) else {
        return body.to_vec();
    };
    let start = start + "<Location>".len();
    if end < start {
        return body.to_vec();
    }
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..start]);
    out.push_str(&crate::xml::escape(location));
    out.push_str(&text[end..]);
    out.into_bytes()
}

/// The backend request line of a typed S3 request, path style: `/{bucket}/{key}` with the key
/// encoded by the gateway (one encoding, `/` kept), and the operation's own parameters. Nothing of
/// the client's request line is reused.
pub fn s3_upstream_target(request: &crate::s3::Classified) -> (String, String) {
    use crate::sigv4::encoding::uri_encode_into;
    let mut path = Vec::with_capacity(64);
    path.push(b'/');
    if let Some(bucket) = &request.target.bucket {
        path.extend_from_slice(bucket.as_bytes());
        if let Some(key) = &request.target.key {
            path.push(b'/');
            uri_encode_into(&mut path, key.as_bytes(), true);
        }
    }
    let mut query = Vec::new();
    for (name, value) in &request.params {
        if !query.is_empty() {
            query.push(b'&');
        }
        query.extend_from_slice(name.as_bytes());
        if !value.is_empty() || !crate::s3::subresources::KEYWORDS.contains(name) {
            query.push(b'=');
            uri_encode_into(&mut query, value.as_bytes(), false);
        }
    }
    let ascii = |v: Vec<u8>| String::from_utf8(v).expect("percent-encoding yields ASCII");
    (ascii(path), ascii(query))
}

/// Error of a verifying body: the digest did not match, or the body was cut short or ran long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    Sha256Mismatch {
        client: String,
        computed: String,
    },
    Length {
        expected: u64,
        got: u64,
    },
    Upstream(String),
    /// A POST form that is not what the gateway read (see [`form_body`]).
    Form(String),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::Sha256Mismatch { .. } => f.write_str("x-amz-content-sha256 mismatch"),
            BodyError::Length { expected, got } => write!(
                f,
                "body length {got} differs from Content-Length {expected}"
            ),
            BodyError::Upstream(e) => write!(f, "client body error: {e}"),
            BodyError::Form(e) => write!(f, "POST form: {e}"),
        }
    }
}

impl std::error::Error for BodyError {}

/// Streams `inner` while hashing it; the frame that completes `length` bytes is released only
/// if the SHA-256 of the whole body equals `expected`. Memory: one frame.
pub struct VerifiedBody<B> {
    inner: B,
    hasher: Option<Sha256>,
    expected: Option<[u8; 32]>,
    length: u64,
    seen: u64,
    /// Where a failure is reported for the response (the body itself only sees an error).
    failure: std::sync::Arc<std::sync::Mutex<Option<BodyError>>>,
}

impl<B> VerifiedBody<B> {
    /// `expected`: the declared digest (`None` for UNSIGNED-PAYLOAD, which only checks length).
    pub fn new(
        inner: B,
        expected: Option<[u8; 32]>,
        length: u64,
    ) -> (Self, std::sync::Arc<std::sync::Mutex<Option<BodyError>>>) {
        let failure = std::sync::Arc::new(std::sync::Mutex::new(None));
        (
            VerifiedBody {
                inner,
                hasher: expected.map(|_| Sha256::new()),
                expected,
                length,
                seen: 0,
                failure: failure.clone(),
            },
            failure,
        )
    }

    fn fail(&mut self, e: BodyError) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.clone());
        Poll::Ready(Some(Err(e)))
    }
}

impl<B> Body for VerifiedBody<B>
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
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Err(e))) => {
                let e = BodyError::Upstream(e.to_string());
                this.fail(e)
            }
            Poll::Ready(None) => {
                if this.seen != this.length {
                    let e = BodyError::Length {
                        expected: this.length,
                        got: this.seen,
                    };
                    return this.fail(e);
                }
                if this.length == 0
                    && let (Some(h), Some(expected)) = (this.hasher.take(), this.expected)
                {
                    let computed: [u8; 32] = h.finalize().into();
                    if computed != expected {
                        let e = BodyError::Sha256Mismatch {
                            client: hex::encode(expected),
                            computed: hex::encode(computed),
                        };
                        return this.fail(e);
                    }
                }
                Poll::Ready(None)
            }
            Poll::Ready(Some(Ok(frame))) => {
                let Ok(data) = frame.into_data() else {
                    // Trailers are not forwarded in this mode.
                    return Poll::Ready(Some(Ok(Frame::data(Bytes::new()))));
                };
                this.seen += data.len() as u64;
                if this.seen > this.length {
                    let e = BodyError::Length {
                        expected: this.length,
                        got: this.seen,
                    };
                    return this.fail(e);
                }
                if let Some(h) = &mut this.hasher {
                    h.update(&data);
                }
                if this.seen == this.length
                    && let (Some(h), Some(expected)) = (this.hasher.take(), this.expected)
                {
                    // This frame completes the body: release it only if the digest matches.
                    let computed: [u8; 32] = h.finalize().into();
                    if !bool::from(subtle::ConstantTimeEq::ct_eq(&computed[..], &expected[..])) {
                        let e = BodyError::Sha256Mismatch {
                            client: hex::encode(expected),
                            computed: hex::encode(computed),
                        };
                        return this.fail(e);
                    }
                }
                Poll::Ready(Some(Ok(Frame::data(data))))
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.length)
    }
}

/// Decodes an aws-chunked body as it streams: only verified data goes out, and the chunk that
/// completes the object is released only after the final chunk, the trailer signature and the
/// trailing checksum have verified (see [`crate::sigv4::ChunkedDecoder`]). Memory: one chunk.
pub struct ChunkedBody<B> {
    inner: B,
    decoder: crate::sigv4::ChunkedDecoder,
    pending: std::collections::VecDeque<Bytes>,
    decoded_length: u64,
    done: bool,
    failure: std::sync::Arc<std::sync::Mutex<Option<crate::sigv4::SigV4Error>>>,
}

impl<B> ChunkedBody<B> {
    pub fn new(
        inner: B,
        decoder: crate::sigv4::ChunkedDecoder,
        decoded_length: u64,
    ) -> (
        Self,
        std::sync::Arc<std::sync::Mutex<Option<crate::sigv4::SigV4Error>>>,
    ) {
        let failure = std::sync::Arc::new(std::sync::Mutex::new(None));
        (
            ChunkedBody {
                inner,
                decoder,
                pending: Default::default(),
                decoded_length,
                done: false,
                failure: failure.clone(),
            },
            failure,
        )
    }

    fn fail(
        &mut self,
        e: crate::sigv4::SigV4Error,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let message = e.to_string();
        *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
        self.done = true;
        Poll::Ready(Some(Err(BodyError::Upstream(message))))
    }
}

impl<B> Body for ChunkedBody<B>
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
        loop {
            if let Some(data) = this.pending.pop_front() {
                return Poll::Ready(Some(Ok(Frame::data(data))));
            }
            if this.done {
                return Poll::Ready(None);
            }
            let mut out = Vec::new();
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => {
                    return this.fail(crate::sigv4::SigV4Error::IncompleteBody {
                        message: format!("the request body ended with an error: {e}"),
                    });
                }
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data()
                        && let Err(e) = this.decoder.push(&data, &mut out)
                    {
                        return this.fail(e);
                    }
                }
                Poll::Ready(None) => {
                    if let Err(e) = this.decoder.finish(&mut out) {
                        return this.fail(e);
                    }
                    this.done = true;
                }
            }
            this.pending
                .extend(out.into_iter().filter(|b| !b.is_empty()));
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.decoded_length)
    }
}

/// Who an upstream request is waiting on while its body is being sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stall {
    /// The client has not sent the next bytes.
    Client,
    /// The body is sent (or the backend stopped reading it): the backend has not answered.
    Backend,
}

/// Progress of an upstream request body, shared between the body and the forwarder, so a long
/// upload that keeps moving is never cut off by the backend timeout, and a stalled one is
/// blamed on the right side.
#[derive(Debug)]
pub struct Progress {
    state: std::sync::Mutex<ProgressState>,
}

#[derive(Debug, Clone, Copy)]
struct ProgressState {
    last: std::time::Instant,
    sent_all: bool,
    waiting_on_client: bool,
}

impl Progress {
    /// When the current wait started, and who is being waited on.
    pub fn waiting_since(&self) -> (std::time::Instant, Stall) {
        let s = *self.state.lock().unwrap_or_else(|p| p.into_inner());
        let who = if !s.sent_all && s.waiting_on_client {
            Stall::Client
        } else {
            Stall::Backend
        };
        (s.last, who)
    }

    fn update(&self, f: impl FnOnce(&mut ProgressState)) {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

/// A body that reports its [`Progress`] each time it is polled.
pub struct Tracked<B> {
    inner: B,
    progress: std::sync::Arc<Progress>,
}

impl<B: Body> Tracked<B> {
    pub fn new(inner: B) -> (Self, std::sync::Arc<Progress>) {
        let empty = inner.is_end_stream() || inner.size_hint().exact() == Some(0);
        let progress = std::sync::Arc::new(Progress {
            state: std::sync::Mutex::new(ProgressState {
                last: std::time::Instant::now(),
                sent_all: empty,
                waiting_on_client: false,
            }),
        });
        (
            Tracked {
                inner,
                progress: progress.clone(),
            },
            progress,
        )
    }
}

impl<B: Body + Unpin> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        let end = this.inner.is_end_stream();
        this.progress.update(|s| match &polled {
            Poll::Pending => s.waiting_on_client = true,
            Poll::Ready(Some(Ok(_))) => {
                s.last = std::time::Instant::now();
                s.waiting_on_client = false;
                s.sent_all |= end;
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => {
                s.last = std::time::Instant::now();
                s.waiting_on_client = false;
                s.sent_all = true;
            }
        });
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A backend response body that fails when the backend sends nothing for `idle` while the
/// gateway is waiting for it (time the client takes to read does not count). The client's
/// connection is then closed mid-body, which every S3 client reports as a truncated download,
/// instead of hanging forever.
pub struct IdleTimeout<B> {
    inner: B,
    idle: std::time::Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
    waiting: bool,
}

/// The backend went silent in the middle of a response body.
#[derive(Debug)]
pub struct BackendIdle(pub std::time::Duration);

impl std::fmt::Display for BackendIdle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the backend sent nothing for {} s in the middle of a response body",
            self.0.as_secs()
        )
    }
}

impl std::error::Error for BackendIdle {}

impl<B> IdleTimeout<B> {
    pub fn new(inner: B, idle: std::time::Duration) -> Self {
        IdleTimeout {
            inner,
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
            waiting: false,
        }
    }
}

impl<B> Body for IdleTimeout<B>
where
    B: Body + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = B::Data;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, Self::Error>>> {
        let this = &mut *self;
        if !this.waiting {
            // A new wait starts now: time spent while nobody asked for data does not count.
            let deadline = tokio::time::Instant::now() + this.idle;
            this.timer.as_mut().reset(deadline);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.waiting = false;
                Poll::Ready(frame.map(|r| r.map_err(Into::into)))
            }
            Poll::Pending => {
                this.waiting = true;
                match this.timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        tracing::warn!(
                            idle_seconds = this.idle.as_secs(),
                            "backend went silent mid-response; closing the client connection"
                        );
                        Poll::Ready(Some(Err(Box::new(BackendIdle(this.idle)))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use http_body_util::BodyExt;

    use super::*;

    /// A body made of fixed frames.
    pub(super) struct Frames(pub(super) VecDeque<Bytes>);

    impl Body for Frames {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Ready(self.0.pop_front().map(|b| Ok(Frame::data(b))))
        }
    }

    fn frames(parts: &[&'static [u8]]) -> Frames {
        Frames(parts.iter().map(|p| Bytes::from_static(p)).collect())
    }

    /// Polls the body to the end; returns the data released before the first error.
    async fn drain<B: Body<Data = Bytes> + Unpin>(mut body: B) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(f) => out.extend_from_slice(&f.into_data().unwrap_or_default()),
                Err(_) => return (out, false),
            }
        }
        (out, true)
    }

    #[tokio::test]
    async fn a_matching_body_streams_through() {
        let digest: [u8; 32] = Sha256::digest(b"hello world").into();
        let (body, failure) = VerifiedBody::new(frames(&[b"hello ", b"world"]), Some(digest), 11);
        assert_eq!(drain(body).await, (b"hello world".to_vec(), true));
        assert!(failure.lock().unwrap().is_none());
    }

    #[tokio::test]
    async fn a_mismatch_withholds_the_last_frame() {
        let digest: [u8; 32] = Sha256::digest(b"hello world").into();
        let (body, failure) = VerifiedBody::new(frames(&[b"hello ", b"there"]), Some(digest), 11);
        let (released, ok) = drain(body).await;
        assert!(!ok);
        assert_eq!(
            released, b"hello ",
            "the completing frame must never be released"
        );
        assert!(matches!(
            *failure.lock().unwrap(),
            Some(BodyError::Sha256Mismatch { .. })
        ));
    }

    #[tokio::test]
    async fn length_errors() {
        let (body, _) = VerifiedBody::new(frames(&[b"abc"]), None, 5);
        assert!(!drain(body).await.1, "too short");
        let (body, failure) = VerifiedBody::new(frames(&[b"abc", b"def"]), None, 5);
        let (released, ok) = drain(body).await;
        assert!(!ok && released == b"abc");
        assert!(matches!(
            *failure.lock().unwrap(),
            Some(BodyError::Length {
                expected: 5,
                got: 6
            })
        ));
        let empty: [u8; 32] = Sha256::digest(b"").into();
        let (body, _) = VerifiedBody::new(frames(&[]), Some(empty), 0);
        assert!(drain(body).await.1);
    }

    #[test]
    fn fingerprints_are_dropped_unless_passed() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("connection", "keep-alive"),
            ("server", "MinIO"),
            ("x-amz-id-2", "dd9025bab4ad464b049177c95eb6ebf3"),
            ("x-minio-deployment-id", "x"),
            ("x-amz-request-id", "r"),
            ("etag", "\"e\""),
        ] {
            h.append(
                http::HeaderName::from_static(k),
                http::HeaderValue::from_static(v),
            );
        }
        let mut passed = h.clone();
        response_headers(&mut h, false);
        let mut names: Vec<_> = h.keys().map(|k| k.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["etag", "x-amz-request-id"]);
        response_headers(&mut passed, true);
        assert_eq!(passed.len(), 5, "only hop-by-hop headers go: {passed:?}");
    }
}
