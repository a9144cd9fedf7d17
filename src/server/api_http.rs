//! HTTP APIs behind the gateway (`kind = "http"` backends): authenticate (the shared stage),
//! authorize `execute-api:Invoke` on the API Gateway resource ARN, and forward a request the
//! gateway builds itself: the canonical path (see [`crate::api`]), the query re-encoded, an
//! allowlist of headers, the identity headers, and the body verified against its signed SHA-256.
//! Refusals are API Gateway-shaped JSON (`{"message": …}` with `x-amzn-ErrorType`).

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use sha2::{Digest, Sha256};

use super::authn::{self, AuthError, Front, Route};
use super::{BackendClient, GatewayBody, State, boxed};
use crate::api::{CanonicalPath, invoke_arn};
use crate::authz::{caller_policies, failure_message};
use crate::identity::{Caller, CredentialError};
use crate::policy::Decision;
use crate::sigv4::{AuthKind, SigV4Error, UriMode};

/// Largest body read before verification, for clients that sign the body's SHA-256 without
/// sending it in `x-amz-content-sha256` (botocore's `SigV4Auth`, aws-sigv4 by default): the
/// signature cannot be checked before the whole body is hashed. Larger bodies must send the header
/// and are then streamed.
pub const MAX_BUFFERED_BODY: u64 = 1024 * 1024;

/// An API Gateway-style error: `{"message": …}` with `x-amzn-ErrorType`.
pub fn api_error(
    status: u16,
    error_type: &str,
    message: &str,
    request_id: &str,
) -> Response<GatewayBody> {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut r = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-amzn-RequestId", request_id);
    if let Ok(v) = HeaderValue::from_str(error_type) {
        r = r.header("x-amzn-ErrorType", v);
    }
    crate::audit::note_error(error_type, message);
    r.extension(super::metrics::Refusal(error_type.to_string()))
        .body(boxed(http_body_util::Full::new(Bytes::from(body))))
        .expect("static response parts are valid")
}

/// How API Gateway reports SigV4 failures.
fn sigv4_error(e: &SigV4Error, request_id: &str) -> Response<GatewayBody> {
    let invalid = |m: &str| api_error(403, "InvalidSignatureException", m, request_id);
    match e {
        SigV4Error::SignatureDoesNotMatch(_) => invalid(
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        ),
        SigV4Error::RequestTimeTooSkewed {
            request_time,
            server_time,
            ..
        } => invalid(&format!(
            "Signature expired: {request_time} is now earlier or later than the allowed window around {server_time}."
        )),
        SigV4Error::AccessDenied {
            expired: Some(x), ..
        } => invalid(&format!(
            "Signature expired: the presigned URL expired at {} (server time {}).",
            x.expires, x.server_time
        )),
        SigV4Error::AuthorizationHeaderMalformed {
            region: Some(r), ..
        }
        | SigV4Error::AuthorizationQueryParametersError {
            region: Some(r), ..
        } => invalid(&format!(
            "Credential should be scoped to a valid region. This endpoint expects '{r}'."
        )),
        SigV4Error::XAmzContentSHA256Mismatch { .. } => api_error(
            400,
            "BadRequestException",
            "The body does not match the SHA-256 it was signed with (x-amz-content-sha256).",
            request_id,
        ),
        SigV4Error::NotImplemented(m) => api_error(400, "BadRequestException", m, request_id),
        other => api_error(
            403,
            "IncompleteSignatureException",
            &other.message(),
            request_id,
        ),
    }
}

fn credential_error(e: CredentialError, request_id: &str) -> Response<GatewayBody> {
    match e {
        CredentialError::UnknownAccessKey | CredentialError::InvalidToken => api_error(
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
            request_id,
        ),
        CredentialError::Expired => api_error(
            403,
            "ExpiredTokenException",
            "The security token included in the request is expired",
            request_id,
        ),
    }
}

/// Serves one request routed to an HTTP API (or signed for one that no route takes).
pub async fn handle(
    state: &State,
    peer: SocketAddr,
    parts: &http::request::Parts,
    route: Route,
    front: Front<'_>,
    body: Incoming,
) -> Response<GatewayBody> {
    let request_id = super::new_request_id();
    crate::audit::note(|f| {
        f.event_source = "execute-api.amazonaws.com";
        f.event_name = "Invoke".into();
        f.request_id = request_id.clone();
        f.read_only = Some(matches!(
            parts.method,
            http::Method::GET | http::Method::HEAD
        ));
    });
    let mut response = serve(state, peer, parts, route, &front, body, &request_id).await;
    // A refusal sent before the body was read: the client may still be sending it.
    if response
        .extensions()
        .get::<super::metrics::Refusal>()
        .is_some()
        && (parts.headers.contains_key(header::CONTENT_LENGTH)
            || parts.headers.contains_key(header::TRANSFER_ENCODING))
        && matches!(
            parts.version,
            http::Version::HTTP_10 | http::Version::HTTP_11
        )
    {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// How the body's SHA-256 is known.
enum Payload {
    /// Signed in `x-amz-content-sha256` (or the presigned parameter): streamed and checked.
    Declared([u8; 32]),
    /// Not declared: the body was read (bounded) and hashed to check the signature.
    Read(Bytes),
}

async fn serve(
    state: &State,
    peer: SocketAddr,
    parts: &http::request::Parts,
    route: Route,
    front: &Front<'_>,
    body: Incoming,
    request_id: &str,
) -> Response<GatewayBody> {
    pipeline(state, peer, parts, route, front, body, request_id)
        .await
        .unwrap_or_else(|refused| *refused)
}

/// A refusal, already in API Gateway's JSON shape.
type Refused = Box<Response<GatewayBody>>;

fn refuse(status: u16, error_type: &str, message: &str, request_id: &str) -> Refused {
    Box::new(api_error(status, error_type, message, request_id))
}

/// The HTTP API request path: route → read → authenticate → authorize → forward, each stage a
/// function below; the first refusal ends it.
async fn pipeline(
    state: &State,
    peer: SocketAddr,
    parts: &http::request::Parts,
    route: Route,
    front: &Front<'_>,
    body: Incoming,
    request_id: &str,
) -> Result<Response<GatewayBody>, Refused> {
    let (backend, api) = route_of(state, peer, route, front, request_id)?;
    let (rest, query) = read(parts, front, api, request_id)?;
    let authenticated =
        authenticate(state, peer, parts, route, front, api, body, request_id).await?;
    authorize(
        state,
        peer,
        parts,
        front,
        api,
        &authenticated,
        &rest,
        request_id,
    )?;
    forward(
        state,
        peer,
        parts,
        backend,
        api,
        authenticated,
        &rest,
        &query,
        request_id,
    )
    .await
}

/// The API route the request was routed to (a request signed for an API service that no route
/// takes is `NotFoundException`, its failures still counted).
fn route_of<'s>(
    state: &'s State,
    peer: SocketAddr,
    route: Route,
    front: &Front<'_>,
    request_id: &str,
) -> Result<(&'s BackendClient, &'s super::ApiRoute), Refused> {
    let Route::Api(index) = route else {
        let _ = authn::signed(state, route, front, &state.config.server.regions, peer);
        return Err(refuse(
            404,
            "NotFoundException",
            "No API route of the service this request is signed for takes this host and path",
            request_id,
        ));
    };
    let backend = &state.backends[index];
    let api = backend.api.as_ref().ok_or_else(|| {
        refuse(
            500,
            "InternalServerErrorException",
            "Internal server error",
            request_id,
        )
    })?;
    Ok((backend, api))
}

/// The one reading of host, method, path and query: the canonical path under the route's
/// prefix, and the query the API gets.
fn read(
    parts: &http::request::Parts,
    front: &Front<'_>,
    api: &super::ApiRoute,
    request_id: &str,
) -> Result<(CanonicalPath, String), Refused> {
    if let Err(e) = &front.host {
        return Err(refuse(400, "BadRequestException", e.0, request_id));
    }
    crate::api::method::check_method(parts.method.as_str())
        .map_err(|e| refuse(400, "BadRequestException", &e.0, request_id))?;
    // The one canonical path: authorized and forwarded alike.
    let path = CanonicalPath::parse(parts.uri.path()).map_err(|e| {
        refuse(
            400,
            "BadRequestException",
            &format!("Invalid request path: {}", e.0),
            request_id,
        )
    })?;
    let rest = path
        .strip_prefix(&api.prefix)
        .ok_or_else(|| refuse(404, "NotFoundException", "Not Found", request_id))?;
    let query = upstream_query(front.req.query)
        .map_err(|m| refuse(400, "BadRequestException", m, request_id))?;
    Ok((rest, query))
}

/// A verified caller and its body: declared (streamed and checked) or read and hashed.
struct Authenticated<'f, 'a> {
    parsed: &'f crate::sigv4::ParsedAuth<'a>,
    caller: Caller,
    payload: Payload,
    payload_hash: String,
    length: u64,
    /// An urlencoded form body (read, for method overrides).
    form_body: bool,
    /// The body, unless it was read.
    body: Option<Incoming>,
}

/// Resolves the caller before any body is read (only holders of a live key or session can make
/// the gateway read and hash a body), reads the body when its hash is not declared (or it is a
/// form), then verifies the signature over it.
#[allow(clippy::too_many_arguments)]
async fn authenticate<'f, 'a>(
    state: &State,
    peer: SocketAddr,
    parts: &http::request::Parts,
    route: Route,
    front: &'f Front<'a>,
    api: &super::ApiRoute,
    body: Incoming,
    request_id: &str,
) -> Result<Authenticated<'f, 'a>, Refused> {
    let parsed = match authn::signed(state, route, front, &state.config.server.regions, peer) {
        Ok(Some(p)) => p,
        Ok(None) => {
            return Err(refuse(
                403,
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
                request_id,
            ));
        }
        Err(e) => return Err(Box::new(sigv4_error(&e, request_id))),
    };
    let length = content_length(parts, api.settings.max_body_bytes, request_id)?;
    let declared = declared_hash(parsed, request_id)?;
    let caller = authn::resolve(state, route, front, parsed, peer).map_err(|e| match e {
        AuthError::Credential(e) => Box::new(credential_error(e, request_id)),
        AuthError::SigV4(e) => Box::new(sigv4_error(&e, request_id)),
    })?;
    // A form body may name a method override (`_method`): the gateway reads it to know.
    let form_body = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.len() >= 33 && v[..33].eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    let mut body = Some(body);
    let payload = match declared {
        Some(hash) if !form_body => Payload::Declared(hash),
        _ => read_payload(state, &mut body, length, form_body, request_id).await?,
    };
    let payload_hash = match &payload {
        Payload::Declared(h) => hex::encode(h),
        Payload::Read(bytes) => hex::encode(Sha256::digest(bytes)),
    };
    // A read body that was also declared must be the one declared.
    if let (Payload::Read(_), Some(declared)) = (&payload, declared)
        && hex::encode(declared) != payload_hash
    {
        return Err(refuse(
            400,
            "BadRequestException",
            "The body does not match the SHA-256 it was signed with (x-amz-content-sha256).",
            request_id,
        ));
    }
    authn::verify(
        state,
        route,
        front,
        parsed,
        &caller,
        &payload_hash,
        UriMode::Normalized,
        peer,
    )
    .map_err(|e| match e {
        AuthError::Credential(e) => Box::new(credential_error(e, request_id)),
        AuthError::SigV4(e) => Box::new(sigv4_error(&e, request_id)),
    })?;
    Ok(Authenticated {
        parsed,
        caller,
        payload,
        payload_hash,
        length,
        form_body,
        body,
    })
}

/// The body's SHA-256 as the request signed it, if it declares one (`x-amz-content-sha256`).
fn declared_hash(
    parsed: &crate::sigv4::ParsedAuth<'_>,
    request_id: &str,
) -> Result<Option<[u8; 32]>, Refused> {
    match (parsed.kind, parsed.content_sha256) {
        (_, Some(v)) if v.len() == 64 => match hex::decode(v) {
            Ok(bytes) => Ok(Some(
                <[u8; 32]>::try_from(bytes.as_slice()).unwrap_or([0; 32]),
            )),
            Err(_) => Err(refuse(
                400,
                "BadRequestException",
                "x-amz-content-sha256 is not a hex SHA-256",
                request_id,
            )),
        },
        // A presigned URL without X-Amz-Content-Sha256 signs the body's hash like a header request without the header.
        (AuthKind::Presigned, Some("UNSIGNED-PAYLOAD")) | (AuthKind::Header, None) => Ok(None),
        (_, Some(other)) => Err(refuse(
            400,
            "BadRequestException",
            &format!(
                "x-amz-content-sha256 must be the hex SHA-256 of the body, not {other}: HTTP API requests sign their body"
            ),
            request_id,
        )),
        (AuthKind::Presigned, None) => Ok(None),
    }
}

/// Reads a body whose hash the gateway must compute (or a form it must read): at most
/// [`MAX_BUFFERED_BODY`] bytes, within the body-read timeout.
async fn read_payload(
    state: &State,
    body: &mut Option<Incoming>,
    length: u64,
    form_body: bool,
    request_id: &str,
) -> Result<Payload, Refused> {
    if length > MAX_BUFFERED_BODY {
        return Err(refuse(
            413,
            "RequestTooLargeException",
            &if form_body {
                format!(
                    "Form bodies larger than {MAX_BUFFERED_BODY} bytes are refused: the gateway reads them for method overrides"
                )
            } else {
                format!(
                    "Bodies larger than {MAX_BUFFERED_BODY} bytes must send their SHA-256 in x-amz-content-sha256 (it is then streamed)"
                )
            },
            request_id,
        ));
    }
    let Some(unread) = body.take() else {
        return Err(refuse(
            500,
            "InternalServerErrorException",
            "Internal server error",
            request_id,
        ));
    };
    let read = http_body_util::Limited::new(unread, MAX_BUFFERED_BODY as usize).collect();
    match tokio::time::timeout(state.config.limits.body_read_timeout, read).await {
        Ok(Ok(b)) => Ok(Payload::Read(b.to_bytes())),
        Ok(Err(_)) => Err(refuse(
            400,
            "BadRequestException",
            "The request body was cut off or is larger than allowed",
            request_id,
        )),
        Err(_) => Err(refuse(
            408,
            "RequestTimeoutException",
            "The request body did not arrive in time",
            request_id,
        )),
    }
}

/// Authorizes execute-api:Invoke on the resource ARN of the method the API will perform.
#[allow(clippy::too_many_arguments)]
fn authorize(
    state: &State,
    peer: SocketAddr,
    parts: &http::request::Parts,
    front: &Front<'_>,
    api: &super::ApiRoute,
    authenticated: &Authenticated<'_, '_>,
    rest: &CanonicalPath,
    request_id: &str,
) -> Result<(), Refused> {
    let method = performed_method(
        parts,
        front,
        &authenticated.payload,
        authenticated.form_body,
        &api.settings,
    )
    .map_err(|e| refuse(400, "BadRequestException", &e.0, request_id))?;
    let caller = &authenticated.caller;
    let region = authenticated.parsed.credential.region();
    let arn = invoke_arn(
        &state.config.server.partition,
        region,
        &api.settings.account,
        &api.settings.api_id,
        &api.settings.stage,
        &method,
        rest,
    );
    crate::audit::note(|f| f.resource = Some(arn.clone()));
    let info = authn::request_info(state, parts, front, peer, region);
    let Ok(policies) = caller_policies(&state.identities, caller) else {
        return Err(Box::new(credential_error(
            CredentialError::InvalidToken,
            request_id,
        )));
    };
    let action = "execute-api:Invoke";
    let ctx = policies.context(action, &arn, caller, &info);
    let outcome = policies.with_evaluation(&caller.principal(), None, |eval| {
        crate::policy::decide(eval, &ctx)
    });
    if outcome.decision == Decision::Allow {
        return Ok(());
    }
    let blob = state
        .sts
        .seal_authorization_message(caller.account(), failure_message(&outcome, &ctx, caller));
    if let Some(suppressed) = state.metrics.refusal_log() {
        tracing::info!(caller = %caller.arn(), action, resource = %arn, decision = outcome.decision.as_str(), suppressed_since_last = suppressed, "api request refused");
    }
    Err(refuse(
        403,
        "AccessDeniedException",
        &format!(
            "User: {} is not authorized to perform: {action} on resource: {arn} {} Encoded authorization failure message: {blob}",
            caller.arn(),
            outcome.reason(action)
        ),
        request_id,
    ))
}

/// Forwards the request the gateway builds (see [`crate::proxy::api`]).
#[allow(clippy::too_many_arguments)]
async fn forward(
    state: &State,
    peer: SocketAddr,
    parts: &http::request::Parts,
    backend: &BackendClient,
    api: &super::ApiRoute,
    authenticated: Authenticated<'_, '_>,
    rest: &CanonicalPath,
    query: &str,
    request_id: &str,
) -> Result<Response<GatewayBody>, Refused> {
    use crate::proxy::api::{ApiBody, Upstream};
    let Authenticated {
        caller,
        payload,
        payload_hash,
        length,
        mut body,
        ..
    } = authenticated;
    let body = match payload {
        Payload::Declared(hash) => ApiBody::Declared {
            body: body.take().ok_or_else(|| {
                refuse(
                    500,
                    "InternalServerErrorException",
                    "Internal server error",
                    request_id,
                )
            })?,
            hash,
        },
        Payload::Read(bytes) => ApiBody::Read(bytes),
    };
    let upstream = Upstream {
        parts,
        peer,
        caller: &caller,
        tls: state.config.server.tls.is_some(),
        path: rest.upstream(backend.url.path()),
        query,
        body,
        length,
        payload_hash: &payload_hash,
        worker: super::worker_id(),
    };
    crate::proxy::api::forward(backend, api, upstream)
        .await
        .map_err(|e| {
            let (status, error_type, message) = forward_refusal(e);
            refuse(status, error_type, message, request_id)
        })
}

/// API Gateway's status, error type and message for a request that got no backend answer.
fn forward_refusal(e: crate::proxy::api::ApiForwardError) -> (u16, &'static str, &'static str) {
    use crate::proxy::api::ApiForwardError;
    match e {
        ApiForwardError::Internal => (500, "InternalServerErrorException", "Internal server error"),
        ApiForwardError::Unforwardable => (
            400,
            "BadRequestException",
            "The request cannot be forwarded",
        ),
        ApiForwardError::BodyMismatch => (
            400,
            "BadRequestException",
            "The body does not match the SHA-256 it was signed with (x-amz-content-sha256).",
        ),
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
    }
}

/// Content-Length, bounded by the route's maximum; a body without one is refused (bodies are
/// verified against their length).
fn content_length(
    parts: &http::request::Parts,
    max: u64,
    request_id: &str,
) -> Result<u64, Box<Response<GatewayBody>>> {
    let length = match parts.headers.get(header::CONTENT_LENGTH) {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|t| t.parse::<u64>().ok())
            .ok_or_else(|| {
                Box::new(api_error(
                    400,
                    "BadRequestException",
                    "Content-Length is not a number",
                    request_id,
                ))
            })?,
        None if parts.headers.contains_key(header::TRANSFER_ENCODING) => {
            return Err(Box::new(api_error(
                411,
                "LengthRequiredException",
                "HTTP API request bodies need a Content-Length",
                request_id,
            )));
        }
        None => 0,
    };
    if length > max {
        return Err(Box::new(api_error(
            413,
            "RequestTooLargeException",
            &format!("The body is larger than this API's limit of {max} bytes"),
            request_id,
        )));
    }
    Ok(length)
}

/// The query the backend gets: the client's parameters decoded once and re-encoded by the
/// gateway, without SigV4's (`X-Amz-*`, any case).
fn upstream_query(raw: &str) -> Result<String, &'static str> {
    let pairs = crate::sts::parse_form(raw).map_err(|_| "The query string is not valid")?;
    let mut out = Vec::with_capacity(raw.len());
    for (name, value) in &pairs {
        if name.len() >= 6 && name[..6].eq_ignore_ascii_case("x-amz-") {
            continue;
        }
        if !out.is_empty() {
            out.push(b'&');
        }
        crate::sigv4::encoding::uri_encode_into(&mut out, name.as_bytes(), false);
        out.push(b'=');
        crate::sigv4::encoding::uri_encode_into(&mut out, value.as_bytes(), false);
    }
    Ok(String::from_utf8(out).expect("percent-encoding yields ASCII"))
}

/// The method the API will perform (see [`crate::api::method`]): the request's, or the override
/// it carries where the route allows overrides.
fn performed_method(
    parts: &http::request::Parts,
    front: &Front<'_>,
    payload: &Payload,
    form_body: bool,
    settings: &crate::config::ApiSettings,
) -> Result<String, crate::api::method::MethodError> {
    let unreadable =
        || crate::api::method::MethodError("The query or form body is not valid".into());
    let query = crate::sts::parse_form(front.req.query).map_err(|_| unreadable())?;
    let form = match payload {
        Payload::Read(bytes) if form_body => Some(
            std::str::from_utf8(bytes)
                .ok()
                .and_then(|t| crate::sts::parse_form(t).ok())
                .ok_or_else(unreadable)?,
        ),
        _ => None,
    };
    crate::api::method::effective_method(
        parts.method.as_str(),
        &parts.headers,
        &query,
        form.as_deref(),
        settings.allow_method_override,
    )
}
