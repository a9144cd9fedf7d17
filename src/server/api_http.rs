//! HTTP APIs behind the gateway (`kind = "http"` backends): authenticate (the shared stage),
//! authorize `execute-api:Invoke` on the API Gateway resource ARN, and forward a request the
//! gateway builds itself: the canonical path (see [`crate::api`]), the query re-encoded, an
//! allowlist of headers, the identity headers, and the body verified against its signed SHA-256.
//! Refusals are API Gateway-shaped JSON (`{"message": …}` with `x-amzn-ErrorType`).

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderValue, Response, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use sha2::{Digest, Sha256};

use super::api_reply::{ApiError, render};
use super::authn::{self, AuthError, Front, Route};
use super::{BackendClient, GatewayBody, State};
use crate::api::{CanonicalPath, invoke_arn};
use crate::authz::{caller_policies, failure_message};
use crate::identity::{Caller, CredentialError};
use crate::policy::Decision;
use crate::sigv4::{AuthKind, UriMode};

/// Largest body read before verification, for clients that sign the body's SHA-256 without
/// sending it in `x-amz-content-sha256` (botocore's `SigV4Auth`, aws-sigv4 by default): the
/// signature cannot be checked before the whole body is hashed. Larger bodies must send the header
/// and are then streamed.
pub const MAX_BUFFERED_BODY: u64 = 1024 * 1024;

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
    let cors = match route {
        Route::Api(i) => state.backends[i]
            .api
            .as_ref()
            .and_then(|a| a.settings.cors.as_deref()),
        _ => None,
    };
    // A route with CORS rules answers preflights itself, before authentication; a route without
    // them treats OPTIONS as any other method (signed, authorized, forwarded).
    let mut response = match cors {
        Some(rules) if parts.method == http::Method::OPTIONS => {
            let mut answer = match super::cors_http::ask(parts)
                .and_then(|ask| super::cors_http::preflight(Some(rules), &ask))
            {
                Ok(grant) => super::cors_http::allowed(&grant, &request_id),
                Err(refusal) => render(ApiError::Preflight(refusal), &request_id),
            };
            answer.extensions_mut().insert(super::metrics::Preflight);
            answer
        }
        _ => {
            let mut response = serve(state, peer, parts, route, &front, body, &request_id).await;
            super::cors_http::decorate(&mut response, cors, parts);
            response
        }
    };
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
    pipeline(state, peer, parts, route, front, body)
        .await
        .unwrap_or_else(|e| render(e, request_id))
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
) -> Result<Response<GatewayBody>, ApiError> {
    let (backend, api) = route_of(state, peer, route, front)?;
    let (rest, query) = read(parts, front, api)?;
    let authenticated = authenticate(state, peer, parts, route, front, api, body).await?;
    super::limits::check(
        state,
        peer,
        super::limits::LimitFacts {
            kind: crate::config::RequestKind::HttpApi,
            caller: Some(&authenticated.caller),
            access_key: Some(authenticated.parsed.credential.access_key_id()),
            bucket: None,
            route: Some(&backend.name),
        },
    )
    .await
    .map_err(ApiError::Throttled)?;
    authorize(state, peer, parts, front, api, &authenticated, &rest)?;
    forward(
        state,
        peer,
        parts,
        backend,
        api,
        authenticated,
        &rest,
        &query,
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
) -> Result<(&'s BackendClient, &'s super::ApiRoute), ApiError> {
    let Route::Api(index) = route else {
        let _ = authn::signed(state, route, front, &state.config.server.regions, peer);
        return Err(ApiError::NoRoute);
    };
    let backend = &state.backends[index];
    let api = backend.api.as_ref().ok_or(ApiError::Internal)?;
    Ok((backend, api))
}

/// The one reading of host, method, path and query: the canonical path under the route's
/// prefix, and the query the API gets.
fn read(
    parts: &http::request::Parts,
    front: &Front<'_>,
    api: &super::ApiRoute,
) -> Result<(CanonicalPath, String), ApiError> {
    if let Err(e) = &front.host {
        return Err(ApiError::BadRequest(e.0.into()));
    }
    crate::api::method::check_method(parts.method.as_str())
        .map_err(|e| ApiError::BadRequest(e.0))?;
    // The one canonical path: authorized and forwarded alike.
    let path = CanonicalPath::parse(parts.uri.path())
        .map_err(|e| ApiError::BadRequest(format!("Invalid request path: {}", e.0)))?;
    let rest = path.strip_prefix(&api.prefix).ok_or(ApiError::NotFound)?;
    let query = upstream_query(front.req.query).map_err(|m| ApiError::BadRequest(m.into()))?;
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
) -> Result<Authenticated<'f, 'a>, ApiError> {
    let parsed = match authn::signed(state, route, front, &state.config.server.regions, peer) {
        Ok(Some(p)) => p,
        Ok(None) => {
            return Err(ApiError::MissingToken);
        }
        Err(e) => return Err(ApiError::SigV4(e)),
    };
    let length = content_length(parts, api.settings.max_body_bytes)?;
    let declared = declared_hash(parsed)?;
    let caller = authn::resolve(state, route, front, parsed, peer).map_err(auth_error)?;
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
        _ => read_payload(state, &mut body, length, form_body).await?,
    };
    let payload_hash = match &payload {
        Payload::Declared(h) => hex::encode(h),
        Payload::Read(bytes) => hex::encode(Sha256::digest(bytes)),
    };
    // A read body that was also declared must be the one declared.
    if let (Payload::Read(_), Some(declared)) = (&payload, declared)
        && hex::encode(declared) != payload_hash
    {
        return Err(ApiError::BodyMismatch);
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
    .map_err(auth_error)?;
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
fn declared_hash(parsed: &crate::sigv4::ParsedAuth<'_>) -> Result<Option<[u8; 32]>, ApiError> {
    match (parsed.kind, parsed.content_sha256) {
        (_, Some(v)) if v.len() == 64 => match hex::decode(v) {
            Ok(bytes) => Ok(Some(
                <[u8; 32]>::try_from(bytes.as_slice()).unwrap_or([0; 32]),
            )),
            Err(_) => Err(ApiError::BadRequest(
                "x-amz-content-sha256 is not a hex SHA-256".into(),
            )),
        },
        // A presigned URL without X-Amz-Content-Sha256 signs the body's hash like a header request without the header.
        (AuthKind::Presigned, Some("UNSIGNED-PAYLOAD")) | (AuthKind::Header, None) => Ok(None),
        (_, Some(other)) => Err(ApiError::BadRequest(format!(
            "x-amz-content-sha256 must be the hex SHA-256 of the body, not {other}: HTTP API requests sign their body"
        ))),
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
) -> Result<Payload, ApiError> {
    if length > MAX_BUFFERED_BODY {
        return Err(ApiError::TooLargeToRead {
            limit: MAX_BUFFERED_BODY,
            form: form_body,
        });
    }
    let Some(unread) = body.take() else {
        return Err(ApiError::Internal);
    };
    let read = http_body_util::Limited::new(unread, MAX_BUFFERED_BODY as usize).collect();
    match tokio::time::timeout(state.config.limits.body_read_timeout, read).await {
        Ok(Ok(b)) => Ok(Payload::Read(b.to_bytes())),
        Ok(Err(_)) => Err(ApiError::BodyCutOff),
        Err(_) => Err(ApiError::BodyTimeout),
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
) -> Result<(), ApiError> {
    let method = performed_method(
        parts,
        front,
        &authenticated.payload,
        authenticated.form_body,
        &api.settings,
    )
    .map_err(|e| ApiError::BadRequest(e.0))?;
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
        return Err(ApiError::Credential(CredentialError::InvalidToken));
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
    Err(ApiError::AccessDenied(format!(
        "User: {} is not authorized to perform: {action} on resource: {arn} {} Encoded authorization failure message: {blob}",
        caller.arn(),
        outcome.reason(action)
    )))
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
) -> Result<Response<GatewayBody>, ApiError> {
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
            body: body.take().ok_or(ApiError::Internal)?,
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
        .map_err(ApiError::Forward)
}

fn auth_error(e: AuthError) -> ApiError {
    match e {
        AuthError::Credential(e) => ApiError::Credential(e),
        AuthError::SigV4(e) => ApiError::SigV4(e),
    }
}

/// Content-Length, bounded by the route's maximum; a body without one is refused (bodies are
/// verified against their length).
fn content_length(parts: &http::request::Parts, max: u64) -> Result<u64, ApiError> {
    let length = match parts.headers.get(header::CONTENT_LENGTH) {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|t| t.parse::<u64>().ok())
            .ok_or_else(|| ApiError::BadRequest("Content-Length is not a number".into()))?,
        None if parts.headers.contains_key(header::TRANSFER_ENCODING) => {
            return Err(ApiError::LengthRequired);
        }
        None => 0,
    };
    if length > max {
        return Err(ApiError::OverLimit(max));
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
