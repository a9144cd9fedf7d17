//! The aws-chunked body: an incremental decoder that verifies chunk signatures, the trailer
//! signature and the trailing checksum (spec sigv4-s3.md §4.2–4.4, §4.6).
//!
//! Memory is bounded by one chunk. A chunk's data is released only after its signature has
//! verified, and the chunk that completes `x-amz-decoded-content-length` is withheld until the
//! final zero-length chunk, the trailer signature and the checksum have all verified: a backend
//! fed from this decoder can never complete an object whose body failed verification.

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::AmzDate;
use super::checksum::{Checksum, ChecksumAlgorithm};
use super::error::{SigV4Error, SignatureMismatch};
use super::signing_key::SigningKey;
use super::verify::SigningContext;

/// Largest chunk accepted (MinIO uses the same cap).
pub const MAX_CHUNK_SIZE: usize = 16 * 1024 * 1024;
/// Longest chunk-header or trailer line.
const MAX_LINE: usize = 4096;
/// Largest trailer section and number of trailer fields.
const MAX_TRAILER_BYTES: usize = 16 * 1024;
const MAX_TRAILER_FIELDS: usize = 100;

/// `<label>\n<timestamp>\n<scope>\n<previous signature>\n<hashes…>`, signed: the string to
/// sign shared by chunk and trailer signatures.
fn sign_link(
    key: &SigningKey,
    label: &[u8],
    date: &AmzDate,
    scope: &str,
    previous: &[u8; 32],
    hashes: &[&[u8; 32]],
) -> [u8; 32] {
    let mut sts = Vec::with_capacity(label.len() + 18 + scope.len() + 65 * (1 + hashes.len()));
    sts.extend_from_slice(label);
    sts.push(b'\n');
    sts.extend_from_slice(date.as_str().as_bytes());
    sts.push(b'\n');
    sts.extend_from_slice(scope.as_bytes());
    sts.push(b'\n');
    push_hex(&mut sts, previous);
    for hash in hashes {
        sts.push(b'\n');
        push_hex(&mut sts, hash);
    }
    key.sign(&sts)
}

/// SHA-256 of the empty string (the fixed middle line of a chunk's string to sign).
const EMPTY_HASH: [u8; 32] = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// Signature of one chunk: `AWS4-HMAC-SHA256-PAYLOAD` string to sign.
pub fn chunk_signature(
    key: &SigningKey,
    date: &AmzDate,
    scope: &str,
    previous: &[u8; 32],
    data_sha256: &[u8; 32],
) -> [u8; 32] {
    sign_link(
        key,
        b"AWS4-HMAC-SHA256-PAYLOAD",
        date,
        scope,
        previous,
        &[&EMPTY_HASH, data_sha256],
    )
}

/// Signature of the trailer: `AWS4-HMAC-SHA256-TRAILER` over the canonical trailers
/// (`name:value\n` in name order, without `x-amz-trailer-signature`).
pub fn trailer_signature(
    key: &SigningKey,
    date: &AmzDate,
    scope: &str,
    previous: &[u8; 32],
    canonical_trailers: &[u8],
) -> [u8; 32] {
    sign_link(
        key,
        b"AWS4-HMAC-SHA256-TRAILER",
        date,
        scope,
        previous,
        &[&Sha256::digest(canonical_trailers).into()],
    )
}

fn push_hex(out: &mut Vec<u8>, bytes: &[u8; 32]) {
    let mut buf = [0u8; 64];
    hex::encode_to_slice(bytes, &mut buf).expect("64 bytes fit");
    out.extend_from_slice(&buf);
}

/// Canonical trailer text from (lower-case name, value) pairs.
pub fn canonical_trailers(trailers: &[(String, String)]) -> Vec<u8> {
    let mut sorted: Vec<&(String, String)> = trailers
        .iter()
        .filter(|(n, _)| n != "x-amz-trailer-signature")
        .collect();
    sorted.sort();
    let mut out = Vec::new();
    for (name, value) in sorted {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(value.trim().as_bytes());
        out.push(b'\n');
    }
    out
}

/// What the body's headers declared.
#[derive(Debug, Clone)]
pub struct ChunkedParams {
    /// `x-amz-decoded-content-length`.
    pub decoded_length: u64,
    /// Lower-case trailer names from `x-amz-trailer` (empty if none).
    pub trailers: Vec<String>,
    /// `Some` for signed chunks (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`).
    pub signing: Option<SigningContext>,
    /// Signed chunks with a signed trailer.
    pub signed_trailer: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading `size[;chunk-signature=…]\r\n`.
    Header,
    /// Reading chunk data.
    Data,
    /// Expecting the CRLF after chunk data.
    DataEnd,
    /// After the last chunk without trailers: expecting the final CRLF.
    FinalCrlf,
    /// Reading trailer lines.
    Trailer,
    Done,
}

/// Incremental aws-chunked decoder and verifier.
pub struct ChunkedDecoder {
    params: ChunkedParams,
    checksum: Option<(ChecksumAlgorithm, Checksum)>,
    state: State,
    line: Vec<u8>,
    chunk_size: usize,
    chunk_signature: Option<[u8; 32]>,
    chunk: Vec<u8>,
    previous: [u8; 32],
    decoded_so_far: u64,
    withheld: Option<Bytes>,
    trailers: Vec<(String, String)>,
    trailer_bytes: usize,
    crlf_seen: usize,
}

fn incomplete(message: impl Into<String>) -> SigV4Error {
    SigV4Error::IncompleteBody {
        message: message.into(),
    }
}

impl ChunkedDecoder {
    pub fn new(params: ChunkedParams) -> Result<ChunkedDecoder, SigV4Error> {
        let mut checksum = None;
        for name in &params.trailers {
            match ChecksumAlgorithm::from_header_name(name) {
                Some(alg) if checksum.is_none() => checksum = Some((alg, Checksum::new(alg))),
                Some(_) => {
                    return Err(SigV4Error::InvalidRequest(
                        "x-amz-trailer may name only one checksum".into(),
                    ));
                }
                None => {
                    return Err(SigV4Error::InvalidRequest(format!(
                        "x-amz-trailer names '{name}', which is not a supported checksum"
                    )));
                }
            }
        }
        if params.signed_trailer && params.trailers.is_empty() {
            return Err(SigV4Error::InvalidRequest(
                "a trailer payload needs the x-amz-trailer header".into(),
            ));
        }
        let previous = params
            .signing
            .as_ref()
            .map(|s| s.seed_signature)
            .unwrap_or([0; 32]);
        Ok(ChunkedDecoder {
            params,
            checksum,
            state: State::Header,
            line: Vec::with_capacity(128),
            chunk_size: 0,
            chunk_signature: None,
            chunk: Vec::new(),
            previous,
            decoded_so_far: 0,
            withheld: None,
            trailers: Vec::new(),
            trailer_bytes: 0,
            crlf_seen: 0,
        })
    }

    /// The verified trailers (available once the body is done).
    pub fn trailers(&self) -> &[(String, String)] {
        &self.trailers
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Feeds wire bytes; appends released (verified) data to `out`.
    pub fn push(&mut self, mut input: &[u8], out: &mut Vec<Bytes>) -> Result<(), SigV4Error> {
        while !input.is_empty() {
            match self.state {
                State::Header | State::Trailer => {
                    let Some(nl) = input.iter().position(|&b| b == b'\n') else {
                        self.append_line(input)?;
                        return Ok(());
                    };
                    self.append_line(&input[..nl])?;
                    input = &input[nl + 1..];
                    let mut line = std::mem::take(&mut self.line);
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    let result = if self.state == State::Header {
                        self.header_line(&line, out)
                    } else {
                        self.trailer_line(&line, out)
                    };
                    line.clear();
                    self.line = line;
                    result?;
                }
                State::Data => {
                    let want = self.chunk_size - self.chunk.len();
                    let take = want.min(input.len());
                    self.chunk.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    if self.chunk.len() == self.chunk_size {
                        self.state = State::DataEnd;
                        self.crlf_seen = 0;
                    }
                }
                State::DataEnd | State::FinalCrlf => {
                    let expected = b"\r\n"[self.crlf_seen];
                    if input[0] != expected {
                        return Err(incomplete(
                            "the aws-chunked framing is broken: expected CRLF after a chunk",
                        ));
                    }
                    input = &input[1..];
                    self.crlf_seen += 1;
                    if self.crlf_seen == 2 {
                        if self.state == State::DataEnd {
                            self.end_of_chunk(out)?;
                        } else {
                            self.complete(out)?;
                        }
                    }
                }
                State::Done => {
                    return Err(incomplete(
                        "unexpected data after the end of the aws-chunked body",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Call at the end of the wire body; fails unless the body was complete and verified.
    pub fn finish(&mut self, out: &mut Vec<Bytes>) -> Result<(), SigV4Error> {
        match self.state {
            State::Done => Ok(()),
            // Unsigned-trailer bodies may omit the final CRLF (seen from some SDKs).
            State::Trailer
                if self.line.is_empty()
                    && !self.params.signed_trailer
                    && self.trailers_complete() =>
            {
                self.complete(out)
            }
            State::FinalCrlf if self.params.signing.is_none() && self.crlf_seen == 0 => {
                self.complete(out)
            }
            _ => Err(incomplete(
                "You did not provide the number of bytes specified by the Content-Length HTTP header",
            )),
        }
    }

    fn append_line(&mut self, bytes: &[u8]) -> Result<(), SigV4Error> {
        if self.line.len() + bytes.len() > MAX_LINE {
            return Err(incomplete(
                "an aws-chunked header or trailer line is too long",
            ));
        }
        if self.state == State::Trailer {
            self.trailer_bytes += bytes.len() + 1;
            if self.trailer_bytes > MAX_TRAILER_BYTES {
                return Err(SigV4Error::InvalidRequest(
                    "the trailer section is too large".into(),
                ));
            }
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn header_line(&mut self, line: &[u8], out: &mut Vec<Bytes>) -> Result<(), SigV4Error> {
        let text = std::str::from_utf8(line)
            .map_err(|_| incomplete("an aws-chunked chunk header is not ASCII"))?;
        let (size_text, extensions) = text.split_once(';').unwrap_or((text, ""));
        if size_text.is_empty()
            || size_text.len() > 16
            || !size_text.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(incomplete(format!(
                "the aws-chunked chunk size '{}' is not hexadecimal",
                size_text.escape_default()
            )));
        }
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| incomplete("the aws-chunked chunk size is too large"))?;
        if size > MAX_CHUNK_SIZE {
            return Err(incomplete(format!(
                "an aws-chunked chunk of {size} bytes exceeds the {MAX_CHUNK_SIZE}-byte limit"
            )));
        }
        let signature = extensions.strip_prefix("chunk-signature=");
        if self.params.signing.is_some() {
            let sig = signature.ok_or_else(|| SigV4Error::SignatureDoesNotMatch(Box::default()))?;
            self.chunk_signature = Some(
                super::authorization::decode_signature(sig)
                    .ok_or_else(|| SigV4Error::SignatureDoesNotMatch(Box::default()))?,
            );
        }
        // Unsigned mode: chunk-signature extensions (sent by some SDKs) are parsed and ignored.
        if self.decoded_so_far + size as u64 > self.params.decoded_length {
            return Err(incomplete(
                "the aws-chunked body carries more data than x-amz-decoded-content-length",
            ));
        }
        self.chunk_size = size;
        self.chunk.clear();
        if size == 0 {
            self.last_chunk(out)
        } else {
            self.chunk.reserve(size);
            self.state = State::Data;
            Ok(())
        }
    }

    fn verify_chunk(&mut self, data: &[u8]) -> Result<(), SigV4Error> {
        if let (Some(ctx), Some(provided)) = (&self.params.signing, self.chunk_signature.take()) {
            let data_hash: [u8; 32] = Sha256::digest(data).into();
            let expected =
                chunk_signature(&ctx.key, &ctx.date, &ctx.scope, &self.previous, &data_hash);
            if !bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], &provided[..])) {
                return Err(SigV4Error::SignatureDoesNotMatch(Box::new(
                    SignatureMismatch {
                        signature_provided: hex::encode(provided),
                        ..SignatureMismatch::default()
                    },
                )));
            }
            self.previous = provided;
        }
        Ok(())
    }

    fn end_of_chunk(&mut self, out: &mut Vec<Bytes>) -> Result<(), SigV4Error> {
        let data = std::mem::take(&mut self.chunk);
        self.verify_chunk(&data)?;
        if let Some((_, checksum)) = &mut self.checksum {
            checksum.update(&data);
        }
        self.decoded_so_far += data.len() as u64;
        let data = Bytes::from(data);
        if self.decoded_so_far == self.params.decoded_length {
            // The chunk that completes the object waits for the final chunk and the trailer.
            self.withheld = Some(data);
        } else {
            out.push(data);
        }
        self.state = State::Header;
        Ok(())
    }

    fn last_chunk(&mut self, out: &mut Vec<Bytes>) -> Result<(), SigV4Error> {
        self.verify_chunk(&[])?;
        if self.decoded_so_far != self.params.decoded_length {
            return Err(incomplete(format!(
                "the aws-chunked body carries {} bytes but x-amz-decoded-content-length is {}",
                self.decoded_so_far, self.params.decoded_length
            )));
        }
        if self.params.trailers.is_empty() {
            self.state = State::FinalCrlf;
            self.crlf_seen = 0;
            let _ = out;
        } else {
            self.state = State::Trailer;
        }
        Ok(())
    }

    fn trailers_complete(&self) -> bool {
        self.params
            .trailers
            .iter()
            .all(|t| self.trailers.iter().any(|(n, _)| n == t))
            && (!self.params.signed_trailer
                || self
                    .trailers
                    .iter()
                    .any(|(n, _)| n == "x-amz-trailer-signature"))
    }

    fn trailer_line(&mut self, line: &[u8], out: &mut Vec<Bytes>) -> Result<(), SigV4Error> {
        if line.is_empty() {
            // Empty lines before the set is complete are the `\n\r\n` variant some clients write.
            return if self.trailers_complete() {
                self.complete(out)
            } else {
                Ok(())
            };
        }
        let malformed = || {
            SigV4Error::InvalidRequest("The trailer is malformed (MalformedTrailerError)".into())
        };
        let text = std::str::from_utf8(line).map_err(|_| malformed())?;
        let (name, value) = text.split_once(':').ok_or_else(malformed)?;
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim().to_string();
        let known = name == "x-amz-trailer-signature" && self.params.signed_trailer
            || self.params.trailers.contains(&name);
        if !known {
            return Err(SigV4Error::InvalidRequest(format!(
                "The trailer '{name}' was not announced in x-amz-trailer"
            )));
        }
        if self.trailers.iter().any(|(n, _)| *n == name)
            || self.trailers.len() >= MAX_TRAILER_FIELDS
        {
            return Err(malformed());
        }
        self.trailers.push((name, value));
        Ok(())
    }

    /// Everything has arrived: verify the trailer signature and the checksum, then release.
    fn complete(&mut self, out: &mut Vec<Bytes>) -> Result<(), SigV4Error> {
        if !self.trailers_complete() {
            return Err(incomplete("the aws-chunked trailer is incomplete"));
        }
        if self.params.signed_trailer
            && let Some(ctx) = &self.params.signing
        {
            let provided = self
                .trailers
                .iter()
                .find(|(n, _)| n == "x-amz-trailer-signature")
                .map(|(_, v)| v.as_str())
                .unwrap_or("");
            let provided = super::authorization::decode_signature(provided)
                .ok_or_else(|| SigV4Error::SignatureDoesNotMatch(Box::default()))?;
            let expected = trailer_signature(
                &ctx.key,
                &ctx.date,
                &ctx.scope,
                &self.previous,
                &canonical_trailers(&self.trailers),
            );
            if !bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], &provided[..])) {
                return Err(SigV4Error::SignatureDoesNotMatch(Box::new(
                    SignatureMismatch {
                        signature_provided: hex::encode(provided),
                        ..SignatureMismatch::default()
                    },
                )));
            }
        }
        if let Some((alg, checksum)) = self.checksum.take() {
            let sent = self
                .trailers
                .iter()
                .find(|(n, _)| n == alg.header_name())
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let sent_bytes = data_encoding::BASE64.decode(sent.as_bytes()).map_err(|_| {
                SigV4Error::InvalidRequest(format!(
                    "Value for {} trailing header is invalid.",
                    alg.header_name()
                ))
            })?;
            let computed = checksum.finalize();
            if sent_bytes != computed {
                return Err(SigV4Error::BadDigest {
                    message: format!(
                        "The {} you specified did not match the calculated checksum.",
                        alg.label()
                    ),
                });
            }
        }
        self.state = State::Done;
        if let Some(last) = self.withheld.take() {
            out.push(last);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
