//! Verifying a signed request: header auth (§2) and presigned URLs (§3).
//!
//! Two stages, so that everything cheap is refused before any key lookup:
//! 1. [`parse_request_auth`] classifies the mechanism, parses it and checks scope, date, clock
//!    skew or presign expiry, and signed-header coverage. No secret is needed.
//! 2. [`verify_signature`] takes the caller's secret for the access key id and compares the
//!    signature in constant time, returning what chunk verification needs.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::Arc;

use http::HeaderName;
use std::time::Duration;

use super::AmzDate;
use super::authorization::{
    ALGORITHM, Authorization, Credential, decode_signature, parse_signed_headers,
};
use super::canonical::{PathForm, RequestParts, write_canonical_request, write_string_to_sign};
use super::encoding::{UriMode, percent_decode, raw_uri_differs};
use super::error::{PresignExpiry, SigV4Error, SignatureMismatch};
use super::signing_key::{SigningKey, SigningKeyCache};

/// What the verifier accepts, and the time it runs at.
#[derive(Debug, Clone, Copy)]
pub struct VerifyPolicy<'a> {
    /// Regions accepted in the credential scope.
    pub regions: &'a [String],
    /// Signing services accepted (the router dispatches on the one used).
    pub services: &'a [&'a str],
    pub max_skew: Duration,
    pub now: AmzDate,
}

/// Longest presigned-URL lifetime AWS allows (7 days).
pub const MAX_PRESIGN_EXPIRES: u64 = 604_800;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    Header,
    Presigned,
}

/// A request's SigV4 authentication, parsed and checked except for the signature itself.
#[derive(Debug, Clone)]
pub struct ParsedAuth<'a> {
    pub kind: AuthKind,
    pub credential: Credential<'a>,
    pub signed_headers: Vec<Cow<'a, str>>,
    pub signature: [u8; 32],
    pub signature_hex: &'a str,
    pub date: AmzDate,
    /// `X-Amz-Security-Token`, from the header or the presigned query.
    pub security_token: Option<String>,
    /// Header auth: the `x-amz-content-sha256` value, if sent. Presigned: the payload line
    /// (`UNSIGNED-PAYLOAD` or the `X-Amz-Content-Sha256` parameter).
    pub content_sha256: Option<&'a str>,
    /// Presigned only: `X-Amz-Expires`.
    pub expires: Option<u64>,
}

impl ParsedAuth<'_> {
    /// Milliseconds between the signature's date and now (`s3:signatureAge`).
    pub fn signature_age_ms(&self, now: AmzDate) -> i64 {
        self.date.seconds_until(now).saturating_mul(1000)
    }
}

/// Classifies and parses the request's authentication. `Ok(None)` means anonymous.
pub fn parse_request_auth<'a>(
    req: &RequestParts<'a>,
    policy: &VerifyPolicy<'_>,
) -> Result<Option<ParsedAuth<'a>>, SigV4Error> {
    parse_request_auth_scoped(req, policy).map_err(|e| e.error)
}

/// A parse failure with the service of the credential scope, when the scope was read before
/// the failure: the router renders the error in that service's shape.
#[derive(Debug)]
pub struct ScopedError {
    pub error: SigV4Error,
    pub service: Option<String>,
}

/// [`parse_request_auth`], reporting on failure the credential scope's service if it was read.
pub fn parse_request_auth_scoped<'a>(
    req: &RequestParts<'a>,
    policy: &VerifyPolicy<'_>,
) -> Result<Option<ParsedAuth<'a>>, ScopedError> {
    let mut service = None;
    parse_any(req, policy, &mut service).map_err(|error| ScopedError { error, service })
}

fn parse_any<'a>(
    req: &RequestParts<'a>,
    policy: &VerifyPolicy<'_>,
    service: &mut Option<String>,
) -> Result<Option<ParsedAuth<'a>>, SigV4Error> {
    let authorization = match req.headers.get(http::header::AUTHORIZATION) {
        Some(v) => Some(v.to_str().map_err(|_| {
            SigV4Error::header_malformed("The authorization header is malformed; it is not ASCII")
        })?),
        None => None,
    };
    let query_auth = query_params(req.query).any(|(k, _)| {
        matches!(
            k,
            "X-Amz-Credential" | "X-Amz-Algorithm" | "X-Amz-Signature"
        )
    });
    let query_v2 = query_params(req.query).any(|(k, _)| k == "AWSAccessKeyId");
    if let Some(value) = authorization {
        if query_auth || query_v2 {
            return Err(SigV4Error::InvalidRequest(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified".into(),
            ));
        }
        if value.starts_with("AWS4-ECDSA-P256-SHA256") {
            return Err(SigV4Error::NotImplemented(
                "SigV4a (AWS4-ECDSA-P256-SHA256) is not supported".into(),
            ));
        }
        if !value.starts_with(ALGORITHM) {
            return Err(SigV4Error::InvalidRequest(
                "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.".into(),
            ));
        }
        return parse_header_auth(value, req, policy, service).map(Some);
    }
    if query_auth {
        return parse_presigned(req, policy, service).map(Some);
    }
    if query_v2 {
        return Err(SigV4Error::InvalidRequest("The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.".into()));
    }
    Ok(None)
}

fn query_params(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|s| s.split_once('=').unwrap_or((s, "")))
}

const X_AMZ_DATE: HeaderName = HeaderName::from_static("x-amz-date");
const X_AMZ_CONTENT_SHA256: HeaderName = HeaderName::from_static("x-amz-content-sha256");
const X_AMZ_SECURITY_TOKEN: HeaderName = HeaderName::from_static("x-amz-security-token");

fn header_str<'a>(
    req: &RequestParts<'a>,
    name: &HeaderName,
) -> Result<Option<&'a str>, SigV4Error> {
    let mut values = req.headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(SigV4Error::InvalidRequest(format!(
            "The {name} header may only be given once"
        )));
    }
    first
        .to_str()
        .map(Some)
        .map_err(|_| SigV4Error::InvalidRequest(format!("The {name} header is not ASCII")))
}

/// The region check of [`check_scope`] alone, for a router that parsed with every region it
/// serves and then checks the one list of the service the request was routed to.
pub fn check_region(
    credential: &Credential<'_>,
    kind: AuthKind,
    regions: &[String],
) -> Result<(), SigV4Error> {
    let policy = VerifyPolicy {
        regions,
        services: &[],
        max_skew: Duration::ZERO,
        now: AmzDate::from_unix(0),
    };
    match check_scope(credential, &policy, kind == AuthKind::Presigned) {
        Err(
            e @ (SigV4Error::AuthorizationHeaderMalformed {
                region: Some(_), ..
            }
            | SigV4Error::AuthorizationQueryParametersError {
                region: Some(_), ..
            }),
        ) => Err(e),
        _ => Ok(()),
    }
}

fn check_scope(
    credential: &Credential<'_>,
    policy: &VerifyPolicy<'_>,
    query: bool,
) -> Result<(), SigV4Error> {
    let (code_is_query, prefix) = if query {
        (true, "Error parsing the X-Amz-Credential parameter; ")
    } else {
        (false, "The authorization header is malformed; ")
    };
    if !policy.regions.iter().any(|r| r == credential.region()) {
        let expected = policy.regions.first().cloned().unwrap_or_default();
        let message = format!(
            "{prefix}the region '{}' is wrong; expecting '{expected}'",
            credential.region()
        );
        return Err(if code_is_query {
            SigV4Error::AuthorizationQueryParametersError {
                message,
                region: Some(expected),
            }
        } else {
            SigV4Error::AuthorizationHeaderMalformed {
                message,
                region: Some(expected),
            }
        });
    }
    if !policy.services.contains(&credential.service()) {
        let message = format!(
            "{prefix}incorrect service '{}'. This endpoint belongs to {}.",
            credential.service(),
            policy.services.join(", ")
        );
        return Err(if code_is_query {
            SigV4Error::query_error(message)
        } else {
            SigV4Error::header_malformed(message)
        });
    }
    Ok(())
}

/// Every `x-amz-*` header present must be signed, and so must `host` (§2.4).
fn check_coverage(
    req: &RequestParts<'_>,
    signed: &[Cow<'_, str>],
    exempt: &[&str],
) -> Result<(), SigV4Error> {
    let is_signed = |name: &str| signed.iter().any(|s| s == name);
    let mut unsigned: Vec<String> = Vec::new();
    if !is_signed("host") {
        unsigned.push("host".into());
    }
    for name in req.headers.keys() {
        let name = name.as_str();
        if name.starts_with("x-amz-")
            && !is_signed(name)
            && !exempt.contains(&name)
            && !unsigned.iter().any(|u| u == name)
        {
            unsigned.push(name.to_string());
        }
    }
    if unsigned.is_empty() {
        Ok(())
    } else {
        Err(SigV4Error::HeadersNotSigned { headers: unsigned })
    }
}

fn parse_header_auth<'a>(
    value: &'a str,
    req: &RequestParts<'a>,
    policy: &VerifyPolicy<'_>,
    service: &mut Option<String>,
) -> Result<ParsedAuth<'a>, SigV4Error> {
    let auth = Authorization::parse(value)?;
    *service = Some(auth.credential.service().to_string());
    check_scope(&auth.credential, policy, false)?;
    let missing_date = || SigV4Error::AccessDenied {
        message: "AWS authentication requires a valid Date or x-amz-date header".into(),
        expired: None,
    };
    let (date, date_text) = match header_str(req, &X_AMZ_DATE)? {
        Some(text) => (AmzDate::parse(text).ok_or_else(missing_date)?, text),
        None => match header_str(req, &http::header::DATE)? {
            Some(text) => (
                AmzDate::parse_http_date(text).ok_or_else(missing_date)?,
                text,
            ),
            None => return Err(missing_date()),
        },
    };
    if date.date_str() != auth.credential.date() {
        return Err(SigV4Error::header_malformed(
            "The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date.",
        ));
    }
    let skew = date.seconds_until(policy.now).unsigned_abs();
    if skew > policy.max_skew.as_secs() {
        return Err(SigV4Error::RequestTimeTooSkewed {
            request_time: date_text.to_string(),
            server_time: policy.now.iso8601(),
            max_skew_ms: u64::try_from(policy.max_skew.as_millis()).unwrap_or(u64::MAX),
        });
    }
    let content_sha256 = header_str(req, &X_AMZ_CONTENT_SHA256)?;
    if auth.credential.service() == "s3" && content_sha256.is_none() {
        return Err(SigV4Error::InvalidRequest(
            "Missing required header for this request: x-amz-content-sha256".into(),
        ));
    }
    let signed_headers: Vec<Cow<'a, str>> =
        auth.signed_headers.into_iter().map(Cow::Borrowed).collect();
    check_coverage(req, &signed_headers, &[])?;
    let security_token = header_str(req, &X_AMZ_SECURITY_TOKEN)?.map(str::to_string);
    Ok(ParsedAuth {
        kind: AuthKind::Header,
        credential: auth.credential,
        signed_headers,
        signature: auth.signature,
        signature_hex: auth.signature_hex,
        date,
        security_token,
        content_sha256,
        expires: None,
    })
}

fn parse_presigned<'a>(
    req: &RequestParts<'a>,
    policy: &VerifyPolicy<'_>,
    service: &mut Option<String>,
) -> Result<ParsedAuth<'a>, SigV4Error> {
    let (found, token_raw, content_raw) = presign_params(req.query)?;
    let [
        Some(algorithm),
        Some(credential),
        Some(signature),
        Some(date),
        Some(signed),
        Some(expires),
    ] = found
    else {
        return Err(SigV4Error::query_error(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
        ));
    };
    let decode = decode_presign_param;
    if decode(algorithm)? != ALGORITHM {
        return Err(SigV4Error::query_error(
            "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\".",
        ));
    }
    let (credential, date) = presign_scope(decode(credential)?, &decode(date)?, policy, service)?;
    let expires = presign_window(&decode(expires)?, date, policy)?;
    let signed_headers: Vec<Cow<'a, str>> = match decode(signed)? {
        Cow::Borrowed(text) => {
            parse_signed_headers(text).map(|v| v.into_iter().map(Cow::Borrowed).collect())
        }
        Cow::Owned(text) => parse_signed_headers(&text)
            .map(|v| v.into_iter().map(|n| Cow::Owned(n.to_string())).collect()),
    }
    .map_err(|e| SigV4Error::query_error(format!("X-Amz-SignedHeaders is malformed: {e}")))?;
    // Protocol headers sent alongside a presigned URL need not be signed (§2.4).
    check_coverage(
        req,
        &signed_headers,
        &["x-amz-content-sha256", "x-amz-date", "x-amz-security-token"],
    )?;
    let signature = decode_signature(signature).ok_or_else(|| {
        SigV4Error::query_error("X-Amz-Signature must be 64 hexadecimal characters")
    })?;
    let content_sha256 = match content_raw {
        Some(v) if v.starts_with("STREAMING-") => {
            return Err(SigV4Error::NotImplemented(
                "streaming payloads cannot be used with presigned URLs".into(),
            ));
        }
        Some(v) => Some(v),
        None => Some("UNSIGNED-PAYLOAD"),
    };
    let security_token = token_raw.map(decode).transpose()?.map(Cow::into_owned);
    Ok(ParsedAuth {
        kind: AuthKind::Presigned,
        credential,
        signed_headers,
        signature,
        signature_hex: found[2].unwrap_or_default(),
        date,
        security_token,
        content_sha256,
        expires: Some(expires),
    })
}

/// One presign parameter's value, percent-decoded (borrowed when there is nothing to decode).
fn decode_presign_param(v: &str) -> Result<Cow<'_, str>, SigV4Error> {
    if !v.contains(['%', '+']) {
        return Ok(Cow::Borrowed(v));
    }
    String::from_utf8(percent_decode(v.as_bytes(), true)?)
        .map(Cow::Owned)
        .map_err(|_| SigV4Error::query_error("a presigned parameter is not UTF-8"))
}

/// `X-Amz-Credential` and `X-Amz-Date` of a presigned URL: the scope checked against the
/// policy (the service it names is noted first, for the refusal's shape), the date in ISO 8601
/// long form and on the scope's day.
fn presign_scope<'a>(
    credential: Cow<'a, str>,
    date_text: &str,
    policy: &VerifyPolicy<'_>,
    service: &mut Option<String>,
) -> Result<(Credential<'a>, AmzDate), SigV4Error> {
    let credential = Credential::parse(credential).map_err(|e| {
        SigV4Error::query_error(format!("Error parsing the X-Amz-Credential parameter; {e}"))
    })?;
    *service = Some(credential.service().to_string());
    check_scope(&credential, policy, true)?;
    let date = AmzDate::parse(date_text).ok_or_else(|| {
        SigV4Error::query_error(
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
        )
    })?;
    if date.date_str() != credential.date() {
        return Err(SigV4Error::query_error(
            "Invalid credential date. Date is not the same as X-Amz-Date.",
        ));
    }
    Ok((credential, date))
}

/// The presign parameters of a query (each at most once): the six required ones in the order of
/// `REQUIRED`, the security token and the content hash.
#[allow(clippy::type_complexity)]
fn presign_params(
    query: &str,
) -> Result<([Option<&str>; 6], Option<&str>, Option<&str>), SigV4Error> {
    const REQUIRED: [&str; 6] = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Signature",
        "X-Amz-Date",
        "X-Amz-SignedHeaders",
        "X-Amz-Expires",
    ];
    let mut found: [Option<&str>; 6] = [None; 6];
    let mut token_raw: Option<&str> = None;
    let mut content_raw: Option<&str> = None;
    for (name, value) in query_params(query) {
        let slot = if let Some(i) = REQUIRED.iter().position(|r| *r == name) {
            &mut found[i]
        } else if name == "X-Amz-Security-Token" {
            &mut token_raw
        } else if name == "X-Amz-Content-Sha256" {
            &mut content_raw
        } else {
            continue;
        };
        if slot.replace(value).is_some() {
            return Err(SigV4Error::query_error(format!(
                "The {name} parameter may only be given once"
            )));
        }
    }
    Ok((found, token_raw, content_raw))
}

/// X-Amz-Expires (0..=a week), with the request's validity window checked against now: not
/// valid yet beyond the clock skew, or expired.
fn presign_window(
    expires_text: &str,
    date: AmzDate,
    policy: &VerifyPolicy<'_>,
) -> Result<u64, SigV4Error> {
    let expires: u64 = match expires_text.parse::<i64>() {
        Ok(n) if n < 0 => {
            return Err(SigV4Error::query_error(
                "X-Amz-Expires must be non-negative",
            ));
        }
        Ok(n) if n.unsigned_abs() > MAX_PRESIGN_EXPIRES => {
            return Err(SigV4Error::query_error(
                "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds",
            ));
        }
        Ok(n) => n.unsigned_abs(),
        Err(_) => return Err(SigV4Error::query_error("X-Amz-Expires should be a number")),
    };
    if date.seconds_until(policy.now)
        < -i64::try_from(policy.max_skew.as_secs()).unwrap_or(i64::MAX)
    {
        return Err(SigV4Error::AccessDenied {
            message: "Request is not valid yet".into(),
            expired: None,
        });
    }
    let expiry = date.plus(Duration::from_secs(expires));
    if policy.now.unix() > expiry.unix() {
        return Err(SigV4Error::AccessDenied {
            message: "Request has expired".into(),
            expired: Some(PresignExpiry {
                expires_seconds: expires,
                expires: expiry.iso8601(),
                server_time: policy.now.iso8601(),
            }),
        });
    }
    Ok(expires)
}

/// What a verified request hands to body verification (chunk signatures use the same key,
/// date and scope, and the request signature as the seed).
#[derive(Debug, Clone)]
pub struct SigningContext {
    pub key: Arc<SigningKey>,
    pub date: AmzDate,
    pub scope: String,
    pub seed_signature: [u8; 32],
}

/// Checks the signature with `secret`. `payload_hash` is the canonical request's last line:
/// the `x-amz-content-sha256` value for S3, or the hex SHA-256 of the body for other services.
pub fn verify_signature(
    parsed: &ParsedAuth<'_>,
    req: &RequestParts<'_>,
    secret: &str,
    payload_hash: &str,
    mode: UriMode,
    cache: &SigningKeyCache,
) -> Result<SigningContext, SigV4Error> {
    let c = &parsed.credential;
    let key = cache.get(secret, c.date(), c.region(), c.service());
    let scope = c.scope();
    let presigned = parsed.kind == AuthKind::Presigned;
    let context = |key: Arc<SigningKey>| SigningContext {
        key,
        date: parsed.date,
        scope: scope.to_string(),
        seed_signature: parsed.signature,
    };
    let forms: &[PathForm] = if mode == UriMode::S3 && raw_uri_differs(req.path) {
        // S3 fallback: some clients sign the path exactly as they send it (§2.5.2).
        &[PathForm::Canonical(mode), PathForm::Raw]
    } else {
        &[PathForm::Canonical(mode)]
    };
    SCRATCH.with(|scratch| {
        let (canonical, string_to_sign) = &mut *scratch.borrow_mut();
        for form in forms {
            write_canonical_request(
                canonical,
                req,
                *form,
                presigned,
                &parsed.signed_headers,
                payload_hash,
            )?;
            write_string_to_sign(string_to_sign, &parsed.date, scope, canonical);
            if key.verify(string_to_sign, &parsed.signature) {
                return Ok(context(key.clone()));
            }
        }
        // Report the primary form, which is what a well-behaved signer computes.
        write_canonical_request(
            canonical,
            req,
            forms[0],
            presigned,
            &parsed.signed_headers,
            payload_hash,
        )?;
        write_string_to_sign(string_to_sign, &parsed.date, scope, canonical);
        Err(SigV4Error::SignatureDoesNotMatch(Box::new(
            SignatureMismatch {
                access_key_id: c.access_key_id().to_string(),
                string_to_sign: String::from_utf8_lossy(string_to_sign).into_owned(),
                canonical_request: String::from_utf8_lossy(canonical).into_owned(),
                signature_provided: parsed.signature_hex.to_string(),
            },
        )))
    })
}

thread_local! {
    /// Reused buffers for the canonical request and the string to sign: no allocation per request.
    static SCRATCH: RefCell<(Vec<u8>, Vec<u8>)> = RefCell::new((Vec::with_capacity(1024), Vec::with_capacity(256)));
}
