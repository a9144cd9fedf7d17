//! Why a signed request was refused, with the context the AWS error body carries.
//!
//! Codes and statuses follow S3 (spec sigv4-s3.md §5.5). The STS endpoint maps a few of them to
//! its own codes when it renders them; that happens where responses are written, not here.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SigV4Error {
    /// Malformed `Authorization` header or credential scope. `region` is set for region errors
    /// (botocore's redirector retries in the `<Region>` it names).
    AuthorizationHeaderMalformed {
        message: String,
        region: Option<String>,
    },
    /// Malformed presigned-URL parameters.
    AuthorizationQueryParametersError {
        message: String,
        region: Option<String>,
    },
    /// Missing date header, presigned URL expired or not yet valid.
    AccessDenied {
        message: String,
        expired: Option<PresignExpiry>,
    },
    /// `x-amz-*` headers present but not signed.
    HeadersNotSigned {
        headers: Vec<String>,
    },
    RequestTimeTooSkewed {
        request_time: String,
        server_time: String,
        max_skew_ms: u64,
    },
    /// Unknown access key id.
    InvalidAccessKeyId {
        access_key_id: String,
    },
    SignatureDoesNotMatch(Box<SignatureMismatch>),
    XAmzContentSHA256Mismatch {
        client: String,
        computed: String,
    },
    /// A chunked body that ended early, ran long or broke its framing.
    IncompleteBody {
        message: String,
    },
    /// A trailing checksum that does not match the data.
    BadDigest {
        message: String,
    },
    InvalidRequest(String),
    MissingContentLength,
    NotImplemented(String),
}

/// What an `AccessDenied` "Request has expired" body reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignExpiry {
    pub expires_seconds: u64,
    pub expires: String,
    pub server_time: String,
}

/// What a `SignatureDoesNotMatch` body echoes so a client can debug its signer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignatureMismatch {
    pub access_key_id: String,
    pub string_to_sign: String,
    pub canonical_request: String,
    /// Hex signature the client sent (not secret: it is in the request).
    pub signature_provided: String,
}

impl SigV4Error {
    /// The AWS error code.
    pub fn code(&self) -> &'static str {
        match self {
            SigV4Error::AuthorizationHeaderMalformed { .. } => "AuthorizationHeaderMalformed",
            SigV4Error::AuthorizationQueryParametersError { .. } => {
                "AuthorizationQueryParametersError"
            }
            SigV4Error::AccessDenied { .. } | SigV4Error::HeadersNotSigned { .. } => "AccessDenied",
            SigV4Error::RequestTimeTooSkewed { .. } => "RequestTimeTooSkewed",
            SigV4Error::InvalidAccessKeyId { .. } => "InvalidAccessKeyId",
            SigV4Error::SignatureDoesNotMatch(_) => "SignatureDoesNotMatch",
            SigV4Error::XAmzContentSHA256Mismatch { .. } => "XAmzContentSHA256Mismatch",
            SigV4Error::IncompleteBody { .. } => "IncompleteBody",
            SigV4Error::BadDigest { .. } => "BadDigest",
            SigV4Error::InvalidRequest(_) => "InvalidRequest",
            SigV4Error::MissingContentLength => "MissingContentLength",
            SigV4Error::NotImplemented(_) => "NotImplemented",
        }
    }

    /// The HTTP status S3 answers with.
    pub fn status(&self) -> u16 {
        match self {
            SigV4Error::AccessDenied { .. }
            | SigV4Error::HeadersNotSigned { .. }
            | SigV4Error::RequestTimeTooSkewed { .. }
            | SigV4Error::InvalidAccessKeyId { .. }
            | SigV4Error::SignatureDoesNotMatch(_) => 403,
            SigV4Error::MissingContentLength => 411,
            SigV4Error::NotImplemented(_) => 501,
            _ => 400,
        }
    }

    /// The human-readable message (AWS wording where known).
    pub fn message(&self) -> String {
        match self {
            SigV4Error::AuthorizationHeaderMalformed { message, .. }
            | SigV4Error::AuthorizationQueryParametersError { message, .. }
            | SigV4Error::AccessDenied { message, .. }
            | SigV4Error::IncompleteBody { message }
            | SigV4Error::BadDigest { message } => message.clone(),
            SigV4Error::HeadersNotSigned { .. } => "There were headers present in the request which were not signed".into(),
            SigV4Error::RequestTimeTooSkewed { .. } => "The difference between the request time and the current time is too large.".into(),
            SigV4Error::InvalidAccessKeyId { .. } => "The AWS access key ID you provided does not exist in our records.".into(),
            SigV4Error::SignatureDoesNotMatch(_) => {
                "The request signature we calculated does not match the signature you provided. Check your key and signing method.".into()
            }
            SigV4Error::XAmzContentSHA256Mismatch { .. } => "The provided 'x-amz-content-sha256' header does not match what was computed.".into(),
            SigV4Error::InvalidRequest(m) | SigV4Error::NotImplemented(m) => m.clone(),
            SigV4Error::MissingContentLength => "You must provide the Content-Length HTTP header.".into(),
        }
    }

    pub(crate) fn header_malformed(message: impl Into<String>) -> Self {
        SigV4Error::AuthorizationHeaderMalformed {
            message: message.into(),
            region: None,
        }
    }

    pub(crate) fn query_error(message: impl Into<String>) -> Self {
        SigV4Error::AuthorizationQueryParametersError {
            message: message.into(),
            region: None,
        }
    }
}

impl fmt::Display for SigV4Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for SigV4Error {}
