//! CORS at the gateway, for S3 buckets and HTTP API routes alike: a preflight (`OPTIONS`) is
//! answered here from the bucket's or route's rules, before authentication, and never reaches a
//! backend; every other answer to a cross-origin request (refusals included, so a page can read
//! the error) gets the matching rule's headers. Matching is [`crate::cors`]'s.

use http::{HeaderValue, Response, StatusCode, header};

use super::{GatewayBody, State, boxed};
use crate::cors::{CorsConfig, Grant, PreflightRefusal, requested_headers};

/// What a preflight asked for: the `Origin`, `Access-Control-Request-Method` and
/// `Access-Control-Request-Headers` headers.
pub(super) struct PreflightAsk<'p> {
    origin: &'p str,
    method: &'p str,
    headers: Vec<&'p str>,
}

/// The `Vary` of every answer from a bucket or route with CORS rules: caches must keep the
/// answers of different origins apart.
const VARY: &str = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method";

fn header_str<'p>(parts: &'p http::request::Parts, name: &str) -> Option<&'p str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

/// The preflight's question, or why it is incomplete.
pub(super) fn ask(parts: &http::request::Parts) -> Result<PreflightAsk<'_>, PreflightRefusal> {
    let origin = header_str(parts, "origin").ok_or(PreflightRefusal::MissingOrigin)?;
    let method = header_str(parts, "access-control-request-method")
        .filter(|m| ["GET", "PUT", "POST", "DELETE", "HEAD"].contains(m))
        .ok_or(PreflightRefusal::MissingMethod)?;
    let headers = header_str(parts, "access-control-request-headers")
        .map(requested_headers)
        .unwrap_or_default();
    Ok(PreflightAsk {
        origin,
        method,
        headers,
    })
}

/// The grant of a preflight by `rules` (`None`: the bucket or route has none).
pub(super) fn preflight(
    rules: Option<&CorsConfig>,
    ask: &PreflightAsk<'_>,
) -> Result<Grant, PreflightRefusal> {
    let rules = rules.ok_or(PreflightRefusal::NotEnabled)?;
    rules.preflight(ask.origin, ask.method, &ask.headers)
}

/// S3's answer to an allowed preflight: `200 OK`, no body, the grant's headers.
pub(super) fn allowed(grant: &Grant, request_id: &str) -> Response<GatewayBody> {
    let mut r = Response::builder()
        .status(StatusCode::OK)
        .header("x-amz-request-id", request_id)
        .header(header::CONTENT_LENGTH, 0)
        .body(boxed(http_body_util::Empty::new()))
        .expect("static response parts");
    add(&mut r, grant);
    r.headers_mut()
        .insert(header::VARY, HeaderValue::from_static(VARY));
    r
}

fn add(response: &mut Response<GatewayBody>, grant: &Grant) {
    let headers = response.headers_mut();
    for (name, value) in grant.headers() {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
}

/// Adds the CORS headers of `rules` to the answer of an actual (non-preflight) request: `Vary`
/// whenever the bucket or route has rules, and the matching rule's headers when the request came
/// from an origin that a rule allows for its method. Headers the backend sent under these names
/// are replaced: the gateway's rules are the only ones.
pub(super) fn decorate(
    response: &mut Response<GatewayBody>,
    rules: Option<&CorsConfig>,
    parts: &http::request::Parts,
) {
    let headers = response.headers_mut();
    for name in [
        "access-control-allow-origin",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-expose-headers",
        "access-control-max-age",
        "access-control-allow-credentials",
    ] {
        headers.remove(name);
    }
    let Some(rules) = rules else { return };
    headers.append(header::VARY, HeaderValue::from_static(VARY));
    let Some(origin) = header_str(parts, "origin") else {
        return;
    };
    if let Some(grant) = rules.actual(origin, parts.method.as_str()) {
        add(response, &grant);
    }
}

/// The CORS rules of the bucket an S3 request addresses (`None`: no bucket, no backend, or no
/// rules). The address is read as the S3 path reads it, and only when some bucket has rules:
/// otherwise the answer is `None` at the cost of a flag.
pub(super) fn s3_rules<'s>(
    state: &'s State,
    parts: &http::request::Parts,
    host: Option<&str>,
) -> Option<&'s CorsConfig> {
    if !state.bucket_cors {
        return None;
    }
    let target =
        crate::s3::address(host, parts.uri.path(), &state.config.server.public_hosts).ok()?;
    let backend = state.s3_backend(host.unwrap_or(""))?;
    backend
        .buckets
        .lookup(target.bucket.as_deref()?)
        .entry?
        .cors
        .as_deref()
}

/// Whether an S3 request addresses an object (for a refused preflight's `ResourceType`).
pub(super) fn addresses_object(
    state: &State,
    parts: &http::request::Parts,
    host: Option<&str>,
) -> bool {
    crate::s3::address(host, parts.uri.path(), &state.config.server.public_hosts)
        .is_ok_and(|t| t.key.is_some())
}
