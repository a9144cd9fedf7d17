//! Forwarding an authorized HTTP API request: the gateway builds it (the canonical path under
//! the backend URL's path, the re-encoded query, the client headers a route lets through plus
//! the identity headers, the verified body, the backend's signature where it has credentials),
//! sends it with the backend timeouts and streams the answer back. What goes wrong is an
//! [`ApiForwardError`], which the API handler renders.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::backend::{ApiRoute, BackendClient};
use super::body::GatewayBody;
use super::pool::Unanswered;
use super::{BodyError, Stall, VerifiedBody};
use crate::api::STANDARD_FORWARDED;
use crate::identity::Caller;
use crate::sigv4::AmzDate;

/// The body to forward: declared (streamed, checked against its signed SHA-256) or read.
pub enum ApiBody {
    Declared { body: Incoming, hash: [u8; 32] },
    Read(Bytes),
}

/// What the upstream request is built from.
pub struct Upstream<'a> {
    pub parts: &'a http::request::Parts,
    pub peer: std::net::SocketAddr,
    pub caller: &'a Caller,
    /// The gateway listener serves TLS (`X-Forwarded-Proto`).
    pub tls: bool,
    /// The canonical path under the backend URL's path, encoded.
    pub path: String,
    pub query: &'a str,
    pub body: ApiBody,
    pub length: u64,
    /// The body's SHA-256 (hex), for the backend's signature.
    pub payload_hash: &'a str,
    /// The connection thread (see `server::workers`).
    pub worker: usize,
}

/// Why an authorized API request got no answer to pass on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiForwardError {
    /// The request could not be signed for the backend (logged).
    Internal,
    Unforwardable,
    /// The body did not match its signed SHA-256; the upstream request was aborted.
    BodyMismatch,
    /// The body was not as long as its Content-Length.
    BodyLength,
    ClientStalled,
    BackendTimeout,
    Unreachable,
    Broken,
    Tls,
}

/// Sends the request the gateway builds and streams the answer back.
pub async fn forward(
    backend: &BackendClient,
    api: &ApiRoute,
    u: Upstream<'_>,
) -> Result<Response<GatewayBody>, ApiForwardError> {
    let mut headers = upstream_headers(u.parts, u.peer, backend, api, u.caller, u.length, u.tls);
    let (upstream_body, failure) = match u.body {
        ApiBody::Declared { body, hash } => {
            let (verified, failure) = VerifiedBody::new(body, Some(hash), u.length);
            (verified.boxed_unsync(), Some(failure))
        }
        ApiBody::Read(bytes) => (
            http_body_util::Full::new(bytes)
                .map_err(|never: std::convert::Infallible| match never {})
                .boxed_unsync(),
            None,
        ),
    };
    if backend.signs
        && let Err(e) = backend.signer.sign(
            u.parts.method.as_str(),
            &u.path,
            u.query,
            &mut headers,
            u.payload_hash,
            AmzDate::now(),
        )
    {
        tracing::warn!(backend = %backend.name, error = %e, "could not sign the upstream request");
        return Err(ApiForwardError::Internal);
    }
    let result = super::send::send_rebuilt(
        backend,
        u.worker,
        u.parts.method.clone(),
        &u.path,
        u.query,
        headers,
        upstream_body,
    )
    .await
    .ok_or(ApiForwardError::Unforwardable)?;
    if let Some(f) = failure
        && let Some(e) = f.lock().unwrap_or_else(|p| p.into_inner()).clone()
    {
        tracing::info!(caller = %u.caller.arn(), error = %e, "request body failed verification; upstream aborted");
        return Err(match e {
            BodyError::Sha256Mismatch { .. } => ApiForwardError::BodyMismatch,
            BodyError::Length { .. } | BodyError::Upstream(_) | BodyError::Form(_) => {
                ApiForwardError::BodyLength
            }
        });
    }
    match result {
        Err(Stall::Client) => Err(ApiForwardError::ClientStalled),
        Err(Stall::Backend) => {
            tracing::warn!(backend = %backend.name, timeout_seconds = backend.timeout.as_secs(), "backend did not answer in time; upstream aborted");
            Err(ApiForwardError::BackendTimeout)
        }
        Ok(Err(Unanswered::Unreachable)) => {
            tracing::warn!(backend = %backend.name, "backend unreachable");
            Err(ApiForwardError::Unreachable)
        }
        Ok(Err(Unanswered::Broken)) => Err(ApiForwardError::Broken),
        Ok(Err(Unanswered::Tls(reason))) => {
            tracing::warn!(backend = %backend.name, %reason, "TLS to the backend failed; request not sent");
            Err(ApiForwardError::Tls)
        }
        Ok(Ok(response)) => {
            let (mut rparts, rbody) = response.into_parts();
            super::response_headers(&mut rparts.headers, backend.pass_fingerprints);
            Ok(Response::from_parts(
                rparts,
                super::IdleTimeout::new(rbody, backend.timeout).boxed_unsync(),
            ))
        }
    }
}

/// The headers the API gets: the allowed client headers, the identity headers, where the
/// request came from, the backend's host and the body's length.
fn upstream_headers(
    parts: &http::request::Parts,
    peer: std::net::SocketAddr,
    backend: &BackendClient,
    api: &ApiRoute,
    caller: &Caller,
    length: u64,
    tls: bool,
) -> HeaderMap {
    let mut headers = forwarded_headers(&parts.headers, &api.settings);
    identity_headers(&mut headers, &api.settings.identity_headers, caller);
    if let Ok(v) = HeaderValue::from_str(&peer.ip().to_string()) {
        headers.insert("x-forwarded-for", v);
    }
    headers.insert(
        "x-forwarded-proto",
        HeaderValue::from_static(if tls { "https" } else { "http" }),
    );
    headers.insert(header::HOST, backend.host.clone());
    if length > 0
        || matches!(
            parts.method,
            http::Method::POST | http::Method::PUT | http::Method::PATCH
        )
    {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    headers
}

/// The client's headers that pass: the standard list and the route's `forward_headers` (and the
/// method override headers where the route allows them), never one of the identity header names
/// (those are the gateway's to set).
fn forwarded_headers(client: &HeaderMap, api: &crate::config::ApiSettings) -> HeaderMap {
    let mut out = HeaderMap::new();
    let identity: Vec<&HeaderName> = api.identity_headers.names().collect();
    for (name, value) in client {
        let pass = STANDARD_FORWARDED.contains(&name.as_str())
            || api.forward_headers.contains(name)
            || (api.allow_method_override
                && crate::api::method::OVERRIDE_HEADERS.contains(&name.as_str()));
        if pass && !identity.contains(&name) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// Sets the identity headers of `caller` (replacing anything of the same name).
fn identity_headers(
    headers: &mut HeaderMap,
    names: &crate::config::IdentityHeaders,
    caller: &Caller,
) {
    let mut set = |name: &Option<HeaderName>, value: &str| {
        if let Some(name) = name
            && let Ok(v) = HeaderValue::from_str(value)
        {
            headers.insert(name.clone(), v);
        }
    };
    set(&names.principal_arn, caller.arn());
    set(&names.account, caller.account());
    set(&names.user_id, caller.user_id());
    match caller {
        Caller::User { .. } => set(&names.mfa_present, "false"),
        Caller::Session(s) => {
            if let Some(name) = &s.session_name {
                set(&names.session_name, name);
            }
            if let Some(si) = &s.source_identity {
                set(&names.source_identity, si);
            }
            set(
                &names.mfa_present,
                if s.mfa_at.is_some() { "true" } else { "false" },
            );
        }
    }
}
