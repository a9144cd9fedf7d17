//! HTTP API refusals, rendered in one place: every stage of the API pipeline returns an
//! [`ApiError`], and [`render`] turns it into API Gateway's shape (`{"message": …}` with
//! `x-amzn-ErrorType`); the error type becomes the metrics label and the audit record's error
//! code.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

use super::{GatewayBody, boxed};
use crate::identity::CredentialError;
use crate::proxy::api::ApiForwardError;
use crate::sigv4::SigV4Error;

/// Why an HTTP API request was refused.
#[derive(Debug)]
pub(super) enum ApiError {
    SigV4(SigV4Error),
    Credential(CredentialError),
    Forward(ApiForwardError),
    /// Signed for an API service, but no API route takes this host and path.
    NoRoute,
    /// The path is outside the route's prefix.
    NotFound,
    /// A request the gateway cannot read: host, method, path, query, hash declaration, form.
    BadRequest(String),
    /// Unsigned.
    MissingToken,
    /// The body does not match the SHA-256 it was signed with.
    BodyMismatch,
    /// A body with Transfer-Encoding and no Content-Length.
    LengthRequired,
    /// Larger than the route's `max_body_bytes`.
    OverLimit(u64),
    /// Larger than the gateway reads to hash (or to look for a method override in a form).
    TooLargeToRead {
        limit: u64,
        form: bool,
    },
    /// The body was cut off (or grew past its limit) while the gateway read it.
    BodyCutOff,
    /// The body did not arrive within the body-read timeout.
    BodyTimeout,
    /// A policy refusal: the message, with the encoded authorization failure message.
    AccessDenied(String),
    /// A rate limit refused the request.
    Throttled(crate::throttle::Throttled),
    /// A refused CORS preflight on a route with CORS rules.
    Preflight(crate::cors::PreflightRefusal),
    /// A state the gateway should never reach (logged where it happens).
    Internal,
}

/// API Gateway's answer for `e`.
pub(super) fn render(e: ApiError, request_id: &str) -> Response<GatewayBody> {
    let throttled = match &e {
        ApiError::Throttled(t) => Some(t.clone()),
        _ => None,
    };
    let (status, error_type, message) = describe(e);
    let body = serde_json::json!({ "message": message }).to_string();
    let mut r = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-amzn-RequestId", request_id)
        .header("x-amzn-ErrorType", HeaderValue::from_static(error_type));
    crate::audit::note_error(error_type, &message);
    r = r.extension(super::metrics::Refusal(error_type.to_string()));
    let mut r = r
        .body(boxed(http_body_util::Full::new(Bytes::from(body))))
        .expect("static response parts are valid");
    if let Some(t) = throttled {
        super::limits::add_retry_after(&mut r, &t);
    }
    r
}

const BODY_MISMATCH: &str =
    "The body does not match the SHA-256 it was signed with (x-amz-content-sha256).";

/// Status, error type and message.
fn describe(e: ApiError) -> (u16, &'static str, String) {
    let bad = |m: &str| (400, "BadRequestException", m.to_string());
    match e {
        ApiError::SigV4(e) => sigv4(&e),
        ApiError::Credential(e) => credential(e),
        ApiError::Forward(e) => forward(e),
        ApiError::NoRoute => (
            404,
            "NotFoundException",
            "No API route of the service this request is signed for takes this host and path"
                .into(),
        ),
        ApiError::NotFound => (404, "NotFoundException", "Not Found".into()),
        ApiError::BadRequest(m) => (400, "BadRequestException", m),
        ApiError::MissingToken => (
            403,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token".into(),
        ),
        ApiError::BodyMismatch => bad(BODY_MISMATCH),
        ApiError::LengthRequired => (
            411,
            "LengthRequiredException",
            "HTTP API request bodies need a Content-Length".into(),
        ),
        ApiError::OverLimit(max) => (
            413,
            "RequestTooLargeException",
            format!("The body is larger than this API's limit of {max} bytes"),
        ),
        ApiError::TooLargeToRead { limit, form } => (
            413,
            "RequestTooLargeException",
            if form {
                format!(
                    "Form bodies larger than {limit} bytes are refused: the gateway reads them for method overrides"
                )
            } else {
                format!(
                    "Bodies larger than {limit} bytes must send their SHA-256 in x-amz-content-sha256 (it is then streamed)"
                )
            },
        ),
        ApiError::BodyCutOff => bad("The request body was cut off or is larger than allowed"),
        ApiError::BodyTimeout => (
            408,
            "RequestTimeoutException",
            "The request body did not arrive in time".into(),
        ),
        ApiError::AccessDenied(m) => (403, "AccessDeniedException", m),
        // API Gateway's throttle: 429, read as throttling by the SDKs' retryers by its type.
        ApiError::Throttled(_) => (429, "TooManyRequestsException", "Too Many Requests".into()),
        ApiError::Preflight(refusal) => match refusal.answer() {
            (403, _, m) => (403, "ForbiddenException", m.into()),
            (status, _, m) => (status, "BadRequestException", m.into()),
        },
        ApiError::Internal => (
            500,
            "InternalServerErrorException",
            "Internal server error".into(),
        ),
    }
}

/// How API Gateway reports SigV4 failures.
fn sigv4(e: &SigV4Error) -> (u16, &'static str, String) {
    let invalid = |m: String| (403, "InvalidSignatureException", m);
    match e {
        SigV4Error::SignatureDoesNotMatch(_) => invalid(
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.".into(),
        ),
        SigV4Error::RequestTimeTooSkewed {
            request_time,
            server_time,
            ..
        } => invalid(format!(
            "Signature expired: {request_time} is now earlier or later than the allowed window around {server_time}."
        )),
        SigV4Error::AccessDenied {
            expired: Some(x), ..
        } => invalid(format!(
            "Signature expired: the presigned URL expired at {} (server time {}).",
            x.expires, x.server_time
        )),
        SigV4Error::AuthorizationHeaderMalformed {
            region: Some(r), ..
        }
        | SigV4Error::AuthorizationQueryParametersError {
            region: Some(r), ..
        } => invalid(format!(
            "Credential should be scoped to a valid region. This endpoint expects '{r}'."
        )),
        SigV4Error::XAmzContentSHA256Mismatch { .. } => {
            (400, "BadRequestException", BODY_MISMATCH.into())
        }
        SigV4Error::NotImplemented(m) => (400, "BadRequestException", m.to_string()),
        other => (403, "IncompleteSignatureException", other.message()),
    }
}

fn credential(e: CredentialError) -> (u16, &'static str, String) {
    match e {
        CredentialError::UnknownAccessKey | CredentialError::InvalidToken => (
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.".into(),
        ),
        CredentialError::Expired => (
            403,
            "ExpiredTokenException",
            "The security token included in the request is expired".into(),
        ),
        CredentialError::Revoked => (
            403,
            "AccessDeniedException",
            crate::revocation::REVOKED_MESSAGE.into(),
        ),
    }
}

/// A request that got no backend answer.
fn forward(e: ApiForwardError) -> (u16, &'static str, String) {
    let (status, error_type, message) = match e {
        ApiForwardError::Internal => (500, "InternalServerErrorException", "Internal server error"),
        ApiForwardError::Unforwardable => (
            400,
            "BadRequestException",
            "The request cannot be forwarded",
        ),
        ApiForwardError::BodyMismatch => (400, "BadRequestException", BODY_MISMATCH),
        ApiForwardError::BodyLength => (
            400,
            "BadRequestException",
            "The body is not as long as its Content-Length",
        ),
        ApiForwardError::ClientStalled => (
            408,
            "RequestTimeoutException",
            "The request body did not arrive in time",
        ),
        ApiForwardError::BackendTimeout => {
            (504, "IntegrationTimeout", "Endpoint request timed out")
        }
        ApiForwardError::Unreachable => (502, "BadGatewayException", "The backend is unreachable"),
        ApiForwardError::Broken => (502, "BadGatewayException", "The backend connection failed"),
        ApiForwardError::Tls => (
            502,
            "BadGatewayException",
            "The backend's TLS certificate or handshake was refused by the gateway (see its log)",
        ),
    };
    (status, error_type, message.into())
}
