//! Forwarding an authorized S3 request: the upstream request built from the typed request
//! (path, query and allowlisted headers from the classification, the body verified while it
//! streams, the backend's signature), sent with the backend timeouts, and the answers the gateway
//! rewrites (ListBuckets to the caller's buckets, upload ids it issues, Locations naming the
//! gateway). What goes wrong is a [`ForwardError`], which the S3 handler renders.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::backend::BackendClient;
use super::body::{GatewayBody, boxed};
use super::pool::{PooledBody, Unanswered};
use super::{BodyError, Stall, VerifiedBody};
use crate::sigv4::{AmzDate, PayloadMode, SigV4Error};
use crate::sts::Keyring;
use crate::xml::escape as xml_escape;

/// What forwarding needs of the gateway beyond the request: the same for every request of a
/// config snapshot (and the connection thread, for the pool).
pub struct GatewayFacts<'a> {
    /// Issues the upload ids clients see (see [`super::upload_id`]).
    pub keyring: &'a Keyring,
    /// The region clients sign for: GetBucketLocation's answer.
    pub region: &'a str,
    /// `http` or `https`, as clients reach the gateway (a CompleteMultipartUpload `Location`).
    pub scheme: &'static str,
    /// Hosts under which buckets are virtual-hosted.
    pub public_hosts: &'a [String],
    /// The connection thread (see `server::workers`), whose idle upstream connections are used.
    pub worker: usize,
}

/// Why an authorized request got no backend answer to pass on.
#[derive(Debug, Clone)]
pub enum ForwardError {
    /// No S3 backend is configured for the request's host.
    NoBackend,
    ContentLengthNotANumber,
    /// A PUT or POST with a chunked body that is not aws-chunked.
    MissingContentLength,
    /// aws-chunked without `x-amz-decoded-content-length`.
    MissingDecodedLength,
    /// A streaming-signed body on a request that was not signed.
    UnsignedStreaming,
    /// The body failed verification, or the decoder or re-signing refused it.
    SigV4(SigV4Error),
    /// The parts the gateway built do not form a request.
    Unforwardable,
    /// The client stopped sending the body for the backend's timeout.
    ClientStalled,
    /// The backend stayed silent for its timeout.
    BackendTimeout {
        seconds: u64,
    },
    Unreachable,
    /// TLS to the backend failed (logged with the reason).
    Tls,
    /// The backend connection broke before an answer.
    Broken,
    /// An answer the gateway rewrites was cut off, too large, or not S3's XML.
    BadAnswer {
        operation: &'static str,
    },
    /// A browser POST form was not what the gateway read (upstream aborted).
    MalformedForm(String),
}

/// The request body: streamed from the client, built by the gateway (DeleteObjects), or a
/// browser POST form's file (checked as it streams by [`super::form_body::FormFileBody`]).
pub enum RequestBody {
    Stream(Incoming),
    Buffered(Bytes),
    FormFile(super::form_body::FormFileBody<Incoming>, FailureSlot),
}

/// Where a verifying body reports why it failed.
pub type FailureSlot = std::sync::Arc<std::sync::Mutex<Option<BodyError>>>;

/// Where the outgoing body reports a verification failure.
enum Outgoing {
    Plain(std::sync::Arc<std::sync::Mutex<Option<BodyError>>>),
    Chunked(std::sync::Arc<std::sync::Mutex<Option<SigV4Error>>>),
}

impl Outgoing {
    /// The body's verification failure, as S3 names it, if it failed.
    fn failure(&self) -> Option<ForwardError> {
        match self {
            Outgoing::Plain(f) => f.lock().unwrap_or_else(|p| p.into_inner()).clone().map(|f| match f {
                BodyError::Sha256Mismatch { client, computed } => {
                    ForwardError::SigV4(SigV4Error::XAmzContentSHA256Mismatch { client, computed })
                }
                BodyError::Form(why) => ForwardError::MalformedForm(why),
                BodyError::Length { .. } | BodyError::Upstream(_) => ForwardError::SigV4(SigV4Error::IncompleteBody {
                    message: "You did not provide the number of bytes specified by the Content-Length HTTP header".into(),
                }),
            }),
            Outgoing::Chunked(f) => f
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
                .map(ForwardError::SigV4),
        }
    }
}

/// Sends the typed request to the backend: path and query come from `classified`, `headers` are
/// its allowlisted headers (nothing of the client's request line or headers is copied), the body is the client's,
/// verified while it streams (or the gateway's own, for DeleteObjects).
#[allow(clippy::too_many_arguments)]
pub async fn forward(
    facts: &GatewayFacts<'_>,
    backend: Option<&BackendClient>,
    parts: &http::request::Parts,
    host: &str,
    classified: &crate::s3::Classified,
    mut headers: http::HeaderMap,
    body: RequestBody,
    mode: PayloadMode,
    payload_line: &str,
    signing: Option<crate::sigv4::SigningContext>,
    who: &str,
    caller_account: Option<&str>,
) -> Result<Response<GatewayBody>, ForwardError> {
    let Some(backend) = backend else {
        return Err(ForwardError::NoBackend);
    };
    let (path, query) = super::s3_upstream_target(classified);
    headers.insert(header::HOST, backend.host.clone());
    let (upstream_body, outgoing, backend_hash) =
        upstream_body(body, parts, &mut headers, mode, payload_line, signing)?;
    backend
        .signer
        .sign(
            parts.method.as_str(),
            &path,
            &query,
            &mut headers,
            &backend_hash,
            AmzDate::now(),
        )
        .map_err(ForwardError::SigV4)?;
    let result = super::send::send_rebuilt(
        backend,
        facts.worker,
        parts.method.clone(),
        &path,
        &query,
        headers,
        upstream_body,
    )
    .await
    .ok_or(ForwardError::Unforwardable)?;
    if let Some(e) = outgoing.failure() {
        tracing::info!(caller = who, error = ?e, "request body failed verification; upstream aborted");
        return Err(e);
    }
    let response = match result {
        Err(Stall::Client) => {
            tracing::info!(
                caller = who,
                "client stopped sending the request body; upstream aborted"
            );
            return Err(ForwardError::ClientStalled);
        }
        Err(Stall::Backend) => {
            tracing::warn!(backend = %backend.name, timeout_seconds = backend.timeout.as_secs(), "backend did not answer in time; upstream aborted");
            return Err(ForwardError::BackendTimeout {
                seconds: backend.timeout.as_secs(),
            });
        }
        Ok(Err(Unanswered::Unreachable)) => return Err(ForwardError::Unreachable),
        Ok(Err(Unanswered::Tls(reason))) => {
            tracing::warn!(backend = %backend.name, %reason, "TLS to the backend failed; request not sent");
            return Err(ForwardError::Tls);
        }
        Ok(Err(Unanswered::Broken)) => return Err(ForwardError::Broken),
        Ok(Ok(response)) => response,
    };
    answer(facts, backend, host, classified, caller_account, response).await
}

/// The upstream body and what it reports, with the payload hash the backend's signature uses.
type Upstream = (super::pool::UpstreamBody, Outgoing, String);

/// The body the backend gets, by kind: the gateway's own, aws-chunked decoded, plain checked
/// against its hash and length, or a POST form's file.
fn upstream_body(
    body: RequestBody,
    parts: &http::request::Parts,
    headers: &mut http::HeaderMap,
    mode: PayloadMode,
    payload_line: &str,
    signing: Option<crate::sigv4::SigningContext>,
) -> Result<Upstream, ForwardError> {
    let content_length = content_length(parts, mode)?;
    Ok(match body {
        RequestBody::Buffered(bytes) => gateway_body(bytes, headers),
        RequestBody::Stream(body) if mode.is_streaming() => {
            chunked_body(body, parts, headers, mode, signing)?
        }
        RequestBody::Stream(body) => plain_body(body, headers, mode, payload_line, content_length),
        RequestBody::FormFile(body, failure) => {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(content_length));
            (
                body.boxed_unsync(),
                Outgoing::Plain(failure),
                "UNSIGNED-PAYLOAD".to_string(),
            )
        }
    })
}

/// Content-Length of a body forwarded as it came (a PUT or POST with a chunked body that is not
/// aws-chunked needs one).
fn content_length(parts: &http::request::Parts, mode: PayloadMode) -> Result<u64, ForwardError> {
    match parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .map(str::parse::<u64>)
    {
        Some(Ok(n)) => Ok(n),
        Some(Err(_)) => Err(ForwardError::ContentLengthNotANumber),
        None if matches!(parts.method, http::Method::PUT | http::Method::POST)
            && !mode.is_streaming()
            && parts.headers.contains_key(header::TRANSFER_ENCODING) =>
        {
            Err(ForwardError::MissingContentLength)
        }
        None => Ok(0),
    }
}

/// A body built by the gateway from what it checked (DeleteObjects), with its own Content-MD5.
fn gateway_body(bytes: Bytes, headers: &mut http::HeaderMap) -> Upstream {
    for name in crate::s3::headers::CHECKSUMS {
        headers.remove(*name);
    }
    let md5 = <md5::Md5 as md5::Digest>::digest(&bytes);
    let sha = <sha2::Sha256 as sha2::Digest>::digest(&bytes);
    headers.insert(
        "content-md5",
        HeaderValue::from_str(&data_encoding::BASE64.encode(&md5))
            .expect("base64 is a valid header value"),
    );
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    (
        http_body_util::Full::new(bytes)
            .map_err(|never: std::convert::Infallible| match never {})
            .boxed_unsync(),
        Outgoing::Plain(Default::default()),
        hex::encode(sha),
    )
}

/// An aws-chunked body, decoded here: the backend gets the verified plain bytes.
fn chunked_body(
    body: Incoming,
    parts: &http::request::Parts,
    headers: &mut http::HeaderMap,
    mode: PayloadMode,
    signing: Option<crate::sigv4::SigningContext>,
) -> Result<Upstream, ForwardError> {
    // Decode the aws-chunked envelope here; the backend gets the verified plain bytes.
    let decoded_length = match parts
        .headers
        .get("x-amz-decoded-content-length")
        .and_then(|v| v.to_str().ok())
        .map(str::parse::<u64>)
    {
        Some(Ok(n)) => n,
        _ => return Err(ForwardError::MissingDecodedLength),
    };
    let trailers: Vec<String> = parts
        .headers
        .get_all("x-amz-trailer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    let (signing, signed_trailer) = match mode {
        // Only a signed request has a streaming-signed body (its payload line is signed).
        PayloadMode::StreamingSigned { trailer } if signing.is_some() => (signing, trailer),
        PayloadMode::StreamingSigned { .. } => return Err(ForwardError::UnsignedStreaming),
        _ => (None, false),
    };
    let decoder = match crate::sigv4::ChunkedDecoder::new(crate::sigv4::ChunkedParams {
        decoded_length,
        trailers,
        signing,
        signed_trailer,
    }) {
        Ok(d) => d,
        Err(e) => return Err(ForwardError::SigV4(e)),
    };
    let (chunked, failure) = super::ChunkedBody::new(body, decoder, decoded_length);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(decoded_length));
    Ok((
        chunked.boxed_unsync(),
        Outgoing::Chunked(failure),
        "UNSIGNED-PAYLOAD".to_string(),
    ))
}

/// A body forwarded as it came, checked against its signed SHA-256 (if any) and its length.
fn plain_body(
    body: Incoming,
    headers: &mut http::HeaderMap,
    mode: PayloadMode,
    payload_line: &str,
    content_length: u64,
) -> Upstream {
    let expected = match mode {
        PayloadMode::Sha256(h) => Some(h),
        _ => None,
    };
    let (verified, failure) = VerifiedBody::new(body, expected, content_length);
    let hash = if expected.is_some() {
        payload_line.to_string()
    } else {
        "UNSIGNED-PAYLOAD".to_string()
    };
    if content_length > 0 {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(content_length));
    }
    (verified.boxed_unsync(), Outgoing::Plain(failure), hash)
}

/// The backend's answer as the client gets it: the answers the gateway owns rewritten, the rest
/// streamed with the backend's fingerprints removed.
async fn answer(
    facts: &GatewayFacts<'_>,
    backend: &BackendClient,
    host: &str,
    classified: &crate::s3::Classified,
    caller_account: Option<&str>,
    response: Response<PooledBody>,
) -> Result<Response<GatewayBody>, ForwardError> {
    let ok = response.status() == StatusCode::OK;
    match classified.operation {
        // The backend's region is its own (radosgw answers its zonegroup, "default"); clients
        // sign for the gateway's, so the gateway says which once the backend found the bucket.
        "GetBucketLocation" if ok => Ok(location_answer(facts, backend, response)),
        // As on S3, ListBuckets lists the caller's account's buckets: the backend lists all of
        // them, so the gateway keeps those the config says the caller's account owns.
        "ListBuckets" if ok => {
            let account = caller_account.unwrap_or("");
            rewritten(response, backend, MAX_LIST_BODY, "ListBuckets", |body| {
                own_buckets(body, |name| backend.buckets.lookup(name).owner == account)
            })
            .await
        }
        "CompleteMultipartUpload" if !backend.pass_fingerprints => {
            let location = client_location(facts, host, classified);
            rewritten(
                response,
                backend,
                MAX_LOCATION_BODY,
                classified.operation,
                |body| String::from_utf8(super::replace_location(body, &location)).ok(),
            )
            .await
        }
        // Clients see upload ids the gateway issued, never the backend's (see proxy::upload_id).
        "CreateMultipartUpload" | "ListParts" | "ListMultipartUploads" if ok => {
            upload_ids_answer(facts, backend, classified, response).await
        }
        _ => {
            let (mut rparts, rbody) = response.into_parts();
            super::response_headers(&mut rparts.headers, backend.pass_fingerprints);
            Ok(Response::from_parts(
                rparts,
                super::IdleTimeout::new(rbody, backend.timeout).boxed_unsync(),
            ))
        }
    }
}

/// GetBucketLocation answered with the gateway's region.
fn location_answer(
    facts: &GatewayFacts<'_>,
    backend: &BackendClient,
    response: Response<PooledBody>,
) -> Response<GatewayBody> {
    let (mut rparts, _) = response.into_parts();
    super::response_headers(&mut rparts.headers, backend.pass_fingerprints);
    let region = facts.region;
    let constraint = if region == "us-east-1" { "" } else { region };
    let body = Bytes::from(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{}</LocationConstraint>",
        xml_escape(constraint)
    ));
    rparts.headers.remove(header::TRANSFER_ENCODING);
    rparts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    rparts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    Response::from_parts(rparts, boxed(http_body_util::Full::new(body)))
}

/// CreateMultipartUpload, ListParts and ListMultipartUploads with the upload ids the gateway
/// issues in place of the backend's.
async fn upload_ids_answer(
    facts: &GatewayFacts<'_>,
    backend: &BackendClient,
    classified: &crate::s3::Classified,
    response: Response<PooledBody>,
) -> Result<Response<GatewayBody>, ForwardError> {
    use super::upload_id;
    let bucket = classified.target.bucket.as_deref().unwrap_or("");
    let scope = upload_id::UploadScope {
        backend: &backend.name,
        bucket,
        key: classified.target.key.as_deref().unwrap_or(""),
    };
    let keyring = facts.keyring;
    rewritten(
        response,
        backend,
        MAX_LIST_BODY,
        classified.operation,
        |body| match classified.operation {
            "CreateMultipartUpload" => upload_id::issue_in_initiate(body, keyring, scope),
            "ListParts" => upload_id::issue_in_parts(body, keyring, scope),
            _ => upload_id::issue_in_listing(body, keyring, &backend.name, bucket),
        },
    )
    .await
}

/// Largest CompleteMultipartUpload answer read to rewrite its `<Location>`.
const MAX_LOCATION_BODY: usize = 1024 * 1024;

/// Largest listing answer read to rewrite it: ListBuckets (10,000 buckets with owner and dates
/// fit easily), ListMultipartUploads and ListParts (1,000 entries each).
const MAX_LIST_BODY: usize = 8 * 1024 * 1024;

/// A backend answer whose body the gateway rewrites: read whole (at most `limit` bytes, within
/// the backend's timeout), then replaced by `rewrite`'s document. An answer that is cut off, too
/// large, or not the XML S3 sends for `operation` is a 502, never passed on as it came.
async fn rewritten(
    response: Response<PooledBody>,
    backend: &BackendClient,
    limit: usize,
    operation: &'static str,
    rewrite: impl FnOnce(&[u8]) -> Option<String>,
) -> Result<Response<GatewayBody>, ForwardError> {
    let (mut rparts, rbody) = response.into_parts();
    super::response_headers(&mut rparts.headers, backend.pass_fingerprints);
    let read = http_body_util::Limited::new(rbody, limit).collect();
    let body = match tokio::time::timeout(backend.timeout, read).await {
        Ok(Ok(body)) => rewrite(&body.to_bytes()),
        _ => None,
    };
    let Some(body) = body else {
        return Err(ForwardError::BadAnswer { operation });
    };
    let body = Bytes::from(body);
    rparts.headers.remove(header::TRANSFER_ENCODING);
    rparts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    Ok(Response::from_parts(
        rparts,
        boxed(http_body_util::Full::new(body)),
    ))
}

/// A ListAllMyBucketsResult with only the `<Bucket>` entries whose `<Name>` passes `keep`, the
/// rest of the document byte for byte; `None` if it is not such a document.
fn own_buckets(xml: &[u8], keep: impl Fn(&str) -> bool) -> Option<String> {
    let text = std::str::from_utf8(xml).ok()?;
    let doc = roxmltree::Document::parse(text).ok()?;
    let root = doc.root_element();
    if root.tag_name().name() != "ListAllMyBucketsResult" {
        return None;
    }
    let mut drop = Vec::new();
    if let Some(buckets) = root.children().find(|n| n.has_tag_name("Buckets")) {
        for b in buckets.children().filter(|n| n.has_tag_name("Bucket")) {
            let name = b
                .children()
                .find(|n| n.has_tag_name("Name"))
                .and_then(|n| n.text())?;
            if !keep(name) {
                drop.push(b.range());
            }
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for r in drop {
        out.push_str(&text[at..r.start]);
        at = r.end;
    }
    out.push_str(&text[at..]);
    Some(out)
}

/// The object's URL as the client addressed the gateway (`host`: the request's one reading of
/// its host; and its addressing style), for a
/// `<Location>` that must not name the backend.
fn client_location(
    facts: &GatewayFacts<'_>,
    host: &str,
    classified: &crate::s3::Classified,
) -> String {
    let scheme = facts.scheme;
    let bucket = classified.target.bucket.as_deref().unwrap_or("");
    let key = crate::sigv4::encoding::uri_encode(
        classified.target.key.as_deref().unwrap_or("").as_bytes(),
        true,
    );
    let host_name = crate::s3::address::host_name(host);
    let virtual_hosted = facts
        .public_hosts
        .iter()
        .any(|base| host_name == format!("{bucket}.{base}"));
    if virtual_hosted {
        format!("{scheme}://{host}/{key}")
    } else {
        format!("{scheme}://{host}/{bucket}/{key}")
    }
}
