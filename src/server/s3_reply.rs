//! S3's refusals, rendered in one place: [`error_response`] writes S3's `<Error>` (no body for
//! HEAD; the code becomes the metrics label and the audit record's error code), and one function
//! per typed error (SigV4, credentials, classification, forwarding) maps it onto S3's status,
//! code, message and extra elements. [`Reply`] carries a request's rendering facts through its
//! pipeline; [`read_signed_body`] reads the small signed bodies the gateway parses itself.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::{GatewayBody, boxed, xml_escape};
use crate::identity::CredentialError;
use crate::proxy::s3::ForwardError;
use crate::s3::ClassifyError;
use crate::sigv4::{PayloadMode, SigV4Error};

/// An S3 `<Error>` with extra elements (already escaped values), no body for HEAD.
pub fn error_response(
    status: u16,
    code: &str,
    message: &str,
    extra: &[(&str, String)],
    head: bool,
    request_id: &str,
) -> Response<GatewayBody> {
    let mut body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>",
        xml_escape(code),
        xml_escape(message)
    );
    for (name, value) in extra {
        body.push_str(&format!("<{name}>{}</{name}>", xml_escape(value)));
    }
    body.push_str(&format!("<RequestId>{request_id}</RequestId></Error>"));
    let body = if head {
        Bytes::new()
    } else {
        Bytes::from(body)
    };
    let mut r = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/xml")
        .header("x-amz-request-id", request_id)
        .header(
            header::DATE,
            httpdate::fmt_http_date(std::time::SystemTime::now()),
        );
    if head && let Ok(v) = HeaderValue::from_str(code) {
        r = r.header("x-amz-error-code", v);
    }
    r = r.extension(super::metrics::Refusal(code.to_string()));
    crate::audit::note_error(code, message);
    r.body(boxed(http_body_util::Full::new(body)))
        .expect("static response parts are valid")
}

pub(super) fn sigv4_error(e: &SigV4Error, head: bool, request_id: &str) -> Response<GatewayBody> {
    let mut extra: Vec<(&str, String)> = Vec::new();
    match e {
        SigV4Error::AuthorizationHeaderMalformed {
            region: Some(r), ..
        }
        | SigV4Error::AuthorizationQueryParametersError {
            region: Some(r), ..
        } => extra.push(("Region", r.clone())),
        SigV4Error::HeadersNotSigned { headers } => {
            extra.push(("HeadersNotSigned", headers.join(", ")))
        }
        SigV4Error::RequestTimeTooSkewed {
            request_time,
            server_time,
            max_skew_ms,
        } => {
            extra.push(("RequestTime", request_time.clone()));
            extra.push(("ServerTime", server_time.clone()));
            extra.push(("MaxAllowedSkewMilliseconds", max_skew_ms.to_string()));
        }
        SigV4Error::AccessDenied {
            expired: Some(x), ..
        } => {
            extra.push(("X-Amz-Expires", x.expires_seconds.to_string()));
            extra.push(("Expires", x.expires.clone()));
            extra.push(("ServerTime", x.server_time.clone()));
        }
        SigV4Error::SignatureDoesNotMatch(m) if !m.string_to_sign.is_empty() => {
            extra.push(("AWSAccessKeyId", m.access_key_id.clone()));
            extra.push(("StringToSign", m.string_to_sign.clone()));
            extra.push(("SignatureProvided", m.signature_provided.clone()));
            // The canonical request echoes headers; the session token line is redacted.
            let canonical: String = m
                .canonical_request
                .lines()
                .map(|l| {
                    if l.starts_with("x-amz-security-token:") {
                        "x-amz-security-token:<redacted>"
                    } else {
                        l
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
            extra.push(("CanonicalRequest", canonical));
        }
        SigV4Error::XAmzContentSHA256Mismatch { client, computed } => {
            extra.push(("ClientComputedContentSHA256", client.clone()));
            extra.push(("S3ComputedContentSHA256", computed.clone()));
        }
        _ => {}
    }
    error_response(e.status(), e.code(), &e.message(), &extra, head, request_id)
}

/// S3's `RequestTimeout`: the client stopped sending a body the gateway was reading.
pub(super) fn request_timeout(head: bool, request_id: &str) -> Response<GatewayBody> {
    error_response(
        400,
        "RequestTimeout",
        "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.",
        &[],
        head,
        request_id,
    )
}

pub(super) fn credential_error(
    e: CredentialError,
    head: bool,
    request_id: &str,
) -> Response<GatewayBody> {
    match e {
        CredentialError::UnknownAccessKey => error_response(
            403,
            "InvalidAccessKeyId",
            "The AWS access key ID you provided does not exist in our records.",
            &[],
            head,
            request_id,
        ),
        CredentialError::InvalidToken => error_response(
            403,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
            &[],
            head,
            request_id,
        ),
        CredentialError::Expired => error_response(
            400,
            "ExpiredToken",
            "The provided token has expired.",
            &[],
            head,
            request_id,
        ),
        CredentialError::Revoked => error_response(
            403,
            "AccessDenied",
            crate::revocation::REVOKED_MESSAGE,
            &[],
            head,
            request_id,
        ),
    }
}

/// S3's answer when an authorized request got no backend answer to pass on.
pub(super) fn forward_error(
    e: ForwardError,
    head: bool,
    request_id: &str,
) -> Response<GatewayBody> {
    let (status, code, message) = match e {
        ForwardError::SigV4(e) => return sigv4_error(&e, head, request_id),
        ForwardError::ClientStalled => return request_timeout(head, request_id),
        ForwardError::NoBackend => (
            503,
            "ServiceUnavailable",
            "No S3 backend is configured".to_string(),
        ),
        ForwardError::ContentLengthNotANumber => (
            400,
            "InvalidRequest",
            "Content-Length is not a number".into(),
        ),
        ForwardError::MissingContentLength => (
            411,
            "MissingContentLength",
            "You must provide the Content-Length HTTP header.".into(),
        ),
        ForwardError::MissingDecodedLength => (
            411,
            "MissingContentLength",
            "aws-chunked uploads need the x-amz-decoded-content-length header.".into(),
        ),
        ForwardError::UnsignedStreaming => (403, "AccessDenied", "Access Denied".into()),
        ForwardError::Unforwardable => (
            400,
            "InvalidRequest",
            "The request cannot be forwarded".into(),
        ),
        ForwardError::BackendTimeout { seconds } => (
            504,
            "GatewayTimeout",
            format!("The backend did not answer within {seconds} seconds"),
        ),
        ForwardError::Unreachable => (
            503,
            "ServiceUnavailable",
            "The backend is unreachable".into(),
        ),
        ForwardError::Tls => (
            502,
            "BadGateway",
            "The backend's TLS certificate or handshake was refused by the gateway (see its log)"
                .into(),
        ),
        ForwardError::Broken => (502, "BadGateway", "The backend connection failed".into()),
        ForwardError::MalformedForm(why) => (
            400,
            "MalformedPOSTRequest",
            format!("The body of your POST request is not well-formed multipart/form-data: {why}"),
        ),
        ForwardError::BadAnswer { operation } => (
            502,
            "BadGateway",
            format!(
                "The backend's {operation} answer was cut off, too large, or not the XML S3 sends"
            ),
        ),
    };
    error_response(status, code, &message, &[], head, request_id)
}

pub(super) fn classify_error(
    e: ClassifyError,
    head: bool,
    request_id: &str,
) -> Response<GatewayBody> {
    let status = match e.code {
        "NoSuchUpload" => 404,
        "MethodNotAllowed" => 405,
        "NotImplemented" => 501,
        _ => 400,
    };
    let extra: Vec<(&str, String)> = e
        .argument
        .map(|a| vec![("ArgumentName", a)])
        .unwrap_or_default();
    error_response(status, e.code, &e.message, &extra, head, request_id)
}

/// A refusal, already in S3's shape.
pub(super) type Refused = Box<Response<GatewayBody>>;

/// How this request's refusals are rendered: no body for HEAD, its request id.
/// A refusal on the S3 path, typed. [`render`] turns each variant into S3's status, code,
/// message and extra elements: the one place S3 errors become bytes (and the metrics label and
/// audit error code, which are the rendered code).
#[derive(Debug)]
pub(super) enum S3Error {
    SigV4(SigV4Error),
    Credential(CredentialError),
    Classify(ClassifyError),
    Forward(ForwardError),
    /// The client stopped sending a body the gateway was reading.
    RequestTimeout,
    /// The request's host has no one reading.
    Host(&'static str),
    /// An unsigned request that is not a GET or HEAD.
    AnonymousWrite,
    /// An unsigned GET or HEAD that carries a body.
    AnonymousBody,
    /// `response-*` overrides on an unsigned request.
    AnonymousOverrides,
    /// The query string does not decode.
    Query(String),
    /// A policy refusal: the message (with the encoded failure message), or `None` for an
    /// anonymous caller (S3's bare "Access Denied").
    AccessDenied(Option<String>),
    BodyAlreadyRead,
    /// A bucket policy change by an account that does not own the bucket.
    NotBucketOwner,
    MalformedPolicy(String),
    /// The managed policy file could not be written (logged).
    PolicyNotStored,
    NoSuchBucketPolicy {
        bucket: String,
    },
    /// Put/DeleteBucketPolicy or Put/DeleteBucketCors on a bucket whose policy or CORS rules
    /// the gateway does not manage.
    NotManaged {
        operation: &'static str,
    },
    MalformedCors(String),
    NoSuchCorsConfiguration {
        bucket: String,
    },
    /// A rate limit refused the request.
    SlowDown(crate::throttle::Throttled),
    /// A refused browser POST upload (S3's code and wording).
    Post(crate::s3::post_policy::PostError),
    /// A refused CORS preflight: the method asked for, and whether an object was addressed.
    Preflight {
        refusal: crate::cors::PreflightRefusal,
        method: String,
        object: bool,
    },
}

/// S3's answer for `e`.
pub(super) fn render(e: S3Error, head: bool, request_id: &str) -> Response<GatewayBody> {
    let (status, code, message, extra): (u16, &str, String, Vec<(&str, String)>) = match e {
        S3Error::SigV4(e) => return sigv4_error(&e, head, request_id),
        S3Error::Credential(e) => return credential_error(e, head, request_id),
        S3Error::Classify(e) => return classify_error(e, head, request_id),
        S3Error::Forward(e) => return forward_error(e, head, request_id),
        S3Error::RequestTimeout => return request_timeout(head, request_id),
        S3Error::SlowDown(t) => {
            let mut r = error_response(
                503,
                "SlowDown",
                "Please reduce your request rate.",
                &[],
                head,
                request_id,
            );
            super::limits::add_retry_after(&mut r, &t);
            return r;
        }
        S3Error::Host(message) => (400, "InvalidRequest", message.into(), vec![]),
        S3Error::AnonymousWrite => (
            403,
            "AccessDenied",
            "Access Denied: an anonymous request can only read (GET or HEAD) what a bucket policy grants to \"*\"".into(),
            vec![],
        ),
        S3Error::AnonymousBody => (
            400,
            "InvalidRequest",
            "An anonymous GET or HEAD request carries no body".into(),
            vec![],
        ),
        S3Error::AnonymousOverrides => (
            400,
            "InvalidRequest",
            "Request specific response headers cannot be used for anonymous GET requests.".into(),
            vec![],
        ),
        S3Error::Query(message) => (400, "InvalidRequest", message, vec![]),
        S3Error::AccessDenied(message) => (
            403,
            "AccessDenied",
            message.unwrap_or_else(|| "Access Denied".into()),
            vec![],
        ),
        S3Error::BodyAlreadyRead => (
            500,
            "InternalError",
            "The request body was already read".into(),
            vec![],
        ),
        S3Error::NotBucketOwner => (
            405,
            "MethodNotAllowed",
            "The bucket policy can only be changed by the bucket owner's account".into(),
            vec![],
        ),
        S3Error::MalformedPolicy(message) => (400, "MalformedPolicy", message, vec![]),
        S3Error::PolicyNotStored => (
            500,
            "InternalError",
            "The bucket policy could not be stored".into(),
            vec![],
        ),
        S3Error::NoSuchBucketPolicy { bucket } => (
            404,
            "NoSuchBucketPolicy",
            "The bucket policy does not exist".into(),
            vec![("BucketName", bucket)],
        ),
        S3Error::NotManaged { operation } => (
            501,
            "NotImplemented",
            if operation.ends_with("Cors") {
                format!(
                    "{operation} is not accepted through this gateway for this bucket: its CORS rules are set in the stsgate config (backends.buckets.cors; manage_cors = true lets this call write them)"
                )
            } else {
                format!(
                    "{operation} is not accepted through this gateway for this bucket: its policy is set in the stsgate config (backends.buckets.policy; manage_policy = true lets this call write it)"
                )
            },
            vec![],
        ),
        S3Error::MalformedCors(message) => (400, "MalformedXML", message, vec![]),
        S3Error::NoSuchCorsConfiguration { bucket } => (
            404,
            "NoSuchCORSConfiguration",
            "The CORS configuration does not exist".into(),
            vec![("BucketName", bucket)],
        ),
        S3Error::Post(e) => (e.status, e.code, e.message, e.extra),
        S3Error::Preflight {
            refusal,
            method,
            object,
        } => {
            let (status, code, message) = refusal.answer();
            let extra = match refusal {
                crate::cors::PreflightRefusal::NotAllowed
                | crate::cors::PreflightRefusal::NotEnabled => vec![
                    ("Method", method),
                    ("ResourceType", if object { "OBJECT" } else { "BUCKET" }.into()),
                ],
                _ => vec![],
            };
            (status, code, message.into(), extra)
        }
    };
    error_response(status, code, &message, &extra, head, request_id)
}

pub(super) struct Reply<'r> {
    pub(super) head: bool,
    pub(super) request_id: &'r str,
}

impl Reply<'_> {
    pub(super) fn refuse(&self, e: S3Error) -> Refused {
        Box::new(render(e, self.head, self.request_id))
    }
    pub(super) fn sigv4(&self, e: &SigV4Error) -> Refused {
        self.refuse(S3Error::SigV4(e.clone()))
    }
    pub(super) fn credential(&self, e: CredentialError) -> Refused {
        self.refuse(S3Error::Credential(e))
    }
    pub(super) fn classify(&self, e: ClassifyError) -> Refused {
        self.refuse(S3Error::Classify(e))
    }
    pub(super) fn forward(&self, e: ForwardError) -> Refused {
        self.refuse(S3Error::Forward(e))
    }
}

/// Reads a small body whose SHA-256 the request signed (`limit` bytes at most), verified.
pub(super) async fn read_signed_body(
    body: Incoming,
    mode: PayloadMode,
    limit: usize,
    timeout: std::time::Duration,
    what: &str,
    request_id: &str,
) -> Result<Bytes, Box<Response<GatewayBody>>> {
    let sigv4 = |e: SigV4Error| Box::new(render(S3Error::SigV4(e), false, request_id));
    let PayloadMode::Sha256(expected) = mode else {
        return Err(sigv4(SigV4Error::InvalidRequest(format!(
            "{what} bodies must be signed: send x-amz-content-sha256 with the SHA-256 of the body"
        ))));
    };
    let read = http_body_util::Limited::new(body, limit).collect();
    let bytes = tokio::time::timeout(timeout, read)
        .await
        .map_err(|_elapsed| Box::new(render(S3Error::RequestTimeout, false, request_id)))?
        .map_err(|_| {
            sigv4(SigV4Error::InvalidRequest(format!(
                "The {what} body is larger than {limit} bytes or was cut off"
            )))
        })?
        .to_bytes();
    let computed: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(&bytes).into();
    if !bool::from(subtle::ConstantTimeEq::ct_eq(&computed[..], &expected[..])) {
        return Err(sigv4(SigV4Error::XAmzContentSHA256Mismatch {
            client: hex::encode(expected),
            computed: hex::encode(computed),
        }));
    }
    Ok(bytes)
}
