//! The one authentication stage of every protocol (STS, S3, HTTP APIs) and the router.
//!
//! 1. [`Front::read`] reads the host once and parses the SigV4 material once, accepting every
//!    service and region the gateway serves.
//! 2. [`route`] picks the protocol from the credential scope's *service*, as parsed: `sts`,
//!    `s3`, or the service of an HTTP API route (matched by host and path prefix). Only requests
//!    whose scope could not be read (unsigned, or a header too broken to name a service) are
//!    routed by where they are addressed, so that their refusal has the right shape.
//! 3. The protocol computes the payload hash its clients sign and calls [`authenticate`]:
//!    resolve the caller (long-term key or sealed session) and verify the signature.
//!
//! Failures are typed ([`AuthError`]); each protocol renders them in its own error shape, and
//! every failure is counted in `stsgate_auth_failures_total` under the protocol's label.

use std::net::SocketAddr;

use super::{HostError, State};
use crate::identity::{Caller, CredentialError};
use crate::sigv4::{
    AmzDate, ParsedAuth, RequestParts, SigV4Error, SigningContext, UriMode, VerifyPolicy,
    parse_request_auth_scoped, verify_signature,
};

/// The protocol a request is served by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Sts,
    S3,
    /// The HTTP API backend at this index of `State::backends`.
    Api(usize),
    /// Signed for an HTTP API service, but no route of that service takes this host and path.
    NoApi,
    /// The container-credentials endpoint (`[pod_identity]`).
    PodIdentity,
}

impl Route {
    /// The label of `stsgate_auth_failures_total`.
    pub fn label(self) -> &'static str {
        match self {
            Route::Sts => "sts",
            Route::S3 => "s3",
            Route::Api(_) | Route::NoApi => "execute-api",
            Route::PodIdentity => "pod-identity",
        }
    }
}

/// A request as the front stage read it: its one host, its parts for signature checks, and its
/// authentication, parsed once.
pub struct Front<'a> {
    pub now: AmzDate,
    pub host: Result<Option<&'a str>, HostError>,
    pub req: RequestParts<'a>,
    /// `Ok(None)`: no authentication (anonymous).
    pub auth: Result<Option<ParsedAuth<'a>>, SigV4Error>,
    /// The credential scope's service, when it could be read (also when parsing failed later).
    pub service: Option<String>,
}

impl<'a> Front<'a> {
    pub fn read(state: &State, parts: &'a http::request::Parts) -> Front<'a> {
        let now = AmzDate::now();
        let host = super::host::request_host(&parts.uri, &parts.headers);
        let req = RequestParts {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &parts.headers,
            authority: host.clone().ok().flatten(),
        };
        let services: Vec<&str> = state.services.iter().map(String::as_str).collect();
        let policy = VerifyPolicy {
            regions: &state.all_regions,
            services: &services,
            max_skew: state.config.server.max_clock_skew,
            now,
        };
        let (auth, service) = match parse_request_auth_scoped(&req, &policy) {
            Ok(Some(p)) => {
                let service = p.credential.service().to_string();
                (Ok(Some(p)), Some(service))
            }
            Ok(None) => (Ok(None), None),
            Err(e) => (Err(e.error), e.service),
        };
        Front {
            now,
            host,
            req,
            auth,
            service,
        }
    }
}

/// Picks the protocol. The scope's service decides when there is one; see the module docs.
pub fn route(state: &State, parts: &http::request::Parts, front: &Front<'_>) -> Route {
    if is_pod_identity(state, parts) {
        return Route::PodIdentity;
    }
    let host = front.host.clone().ok().flatten();
    match front.service.as_deref() {
        Some("sts") => Route::Sts,
        Some("s3") => Route::S3,
        Some(service) if state.services.iter().any(|s| s == service) => {
            match api_route(state, Some(service), host, parts.uri.path()) {
                Some(i) => Route::Api(i),
                None => Route::NoApi,
            }
        }
        // Unsigned, unreadable, or a service nobody serves: routed by address.
        _ => match api_route(state, None, host, parts.uri.path()) {
            Some(i) => Route::Api(i),
            None if is_unsigned_sts_form(parts) => Route::Sts,
            None => Route::S3,
        },
    }
}

/// The HTTP API backend for `host` and `path` (of `service`, if given): the longest matching
/// path prefix among backends whose hosts take `host` (an empty host list takes any).
fn api_route(
    state: &State,
    service: Option<&str>,
    host: Option<&str>,
    path: &str,
) -> Option<usize> {
    let host_name = host
        .map(|h| strip_port(h).to_ascii_lowercase())
        .unwrap_or_default();
    let canonical = crate::api::CanonicalPath::parse(path).ok();
    let mut best: Option<(usize, usize)> = None;
    for (i, b) in state.backends.iter().enumerate() {
        let Some(api) = &b.api else { continue };
        if service.is_some_and(|s| s != api.settings.service) {
            continue;
        }
        if !b.hosts.is_empty() && !b.hosts.contains(&host_name) {
            continue;
        }
        let matches = match &canonical {
            Some(p) => p.strip_prefix(&api.prefix).is_some(),
            // A path that is not canonical is refused by the API handler; it is still routed
            // by its raw form so that the refusal has the API's shape.
            None => raw_prefix_matches(path, &api.prefix),
        };
        if matches && best.is_none_or(|(_, len)| api.prefix.len() > len) {
            best = Some((i, api.prefix.len()));
        }
    }
    best.map(|(i, _)| i)
}

fn raw_prefix_matches(path: &str, prefix: &[String]) -> bool {
    let mut rest = path;
    for segment in prefix {
        let Some(r) = rest
            .strip_prefix('/')
            .and_then(|r| r.strip_prefix(segment.as_str()))
        else {
            return false;
        };
        if !(r.is_empty() || r.starts_with('/')) {
            return false;
        }
        rest = r;
    }
    true
}

/// `host` without its port (brackets of an IPv6 literal kept).
pub fn strip_port(host: &str) -> &str {
    crate::s3::address::host_without_port(host)
}

/// `GET /v1/credentials` with a token that is not SigV4 in `Authorization`, when
/// `[pod_identity]` is configured (a SigV4-signed request for that path is S3's, as before).
fn is_pod_identity(state: &State, parts: &http::request::Parts) -> bool {
    state.config.pod_identity.is_some()
        && parts.method == http::Method::GET
        && parts.uri.path() == crate::config::POD_IDENTITY_PATH
        && parts
            .headers
            .get(http::header::AUTHORIZATION)
            .is_some_and(|v| !v.as_bytes().starts_with(b"AWS4-"))
}

/// An unsigned `POST /` form (the STS Query API without credentials), or an unsigned `GET /`
/// whose query asks for AssumeRoleWithWebIdentity.
fn is_unsigned_sts_form(parts: &http::request::Parts) -> bool {
    if parts.uri.path() != "/" || parts.headers.contains_key(http::header::AUTHORIZATION) {
        return false;
    }
    match parts.method {
        http::Method::POST => parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded")),
        http::Method::GET => parts.uri.query().is_some_and(|q| {
            q.split('&')
                .any(|p| p == "Action=AssumeRoleWithWebIdentity")
        }),
        _ => false,
    }
}

/// The request facts behind the global condition keys (`aws:SourceIp`, `aws:CurrentTime`,
/// `aws:UserAgent`, …) of a request signed for `region`.
pub fn request_info(
    state: &State,
    parts: &http::request::Parts,
    front: &Front<'_>,
    peer: SocketAddr,
    region: &str,
) -> crate::authz::RequestInfo {
    crate::authz::RequestInfo {
        now: front.now.unix(),
        source_ip: Some(peer.ip().to_string()),
        secure_transport: state.config.server.tls.is_some(),
        user_agent: parts
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        region: region.to_string(),
    }
}

/// Why authentication failed.
#[derive(Debug)]
pub enum AuthError {
    /// The signature material is malformed, out of date or out of scope, or does not verify.
    SigV4(SigV4Error),
    /// The access key or session token was refused.
    Credential(CredentialError),
}

/// The parsed authentication of a signed request, after its protocol's region check.
pub fn signed<'f, 'a>(
    state: &State,
    route: Route,
    front: &'f Front<'a>,
    regions: &[String],
    peer: SocketAddr,
) -> Result<Option<&'f ParsedAuth<'a>>, SigV4Error> {
    let parsed = match &front.auth {
        Ok(Some(p)) => {
            crate::audit::note(|f| {
                f.access_key_id = Some(p.credential.access_key_id().to_string());
                f.region = p.credential.region().to_string();
            });
            p
        }
        Ok(None) => return Ok(None),
        Err(e) => {
            state
                .metrics
                .auth_failure(route.label(), e.code(), None, peer);
            return Err(e.clone());
        }
    };
    if let Err(e) = crate::sigv4::check_region(&parsed.credential, parsed.kind, regions) {
        state.metrics.auth_failure(
            route.label(),
            e.code(),
            Some(parsed.credential.access_key_id()),
            peer,
        );
        return Err(e);
    }
    Ok(Some(parsed))
}

/// Resolves the caller and verifies the signature over `payload_hash` (the canonical request's
/// last line as the protocol's clients sign it).
pub fn authenticate(
    state: &State,
    route: Route,
    front: &Front<'_>,
    parsed: &ParsedAuth<'_>,
    payload_hash: &str,
    uri_mode: UriMode,
    peer: SocketAddr,
) -> Result<(Caller, SigningContext), AuthError> {
    let caller = resolve(state, route, front, parsed, peer)?;
    let signing = verify(
        state,
        route,
        front,
        parsed,
        &caller,
        payload_hash,
        uri_mode,
        peer,
    )?;
    Ok((caller, signing))
}

/// The caller the request names (long-term key, or a session token that opens and has not
/// expired). Not yet proof that the caller signed it: see [`verify`].
pub fn resolve(
    state: &State,
    route: Route,
    front: &Front<'_>,
    parsed: &ParsedAuth<'_>,
    peer: SocketAddr,
) -> Result<Caller, AuthError> {
    let key = parsed.credential.access_key_id();
    let caller = open_caller(
        state,
        key,
        parsed.security_token.as_deref(),
        front.now.unix(),
    )
    .map_err(|e| {
        state
            .metrics
            .auth_failure(route.label(), e.code(), Some(key), peer);
        AuthError::Credential(e)
    })?;
    Ok(caller)
}

/// The caller a key (and token) names, unless its session was revoked: every protocol's way
/// to a caller goes through here.
pub fn open_caller(
    state: &State,
    key: &str,
    token: Option<&str>,
    now: i64,
) -> Result<Caller, CredentialError> {
    let caller = state.identities.resolve(&state.keyring, key, token, now)?;
    if let Caller::Session(s) = &caller
        && let Some(record) = state.revocations.revoking(&s.claims, now)
    {
        tracing::info!(caller = %s.claims.arn, revoked_by = %record.by, before = record.before, "revoked session refused");
        return Err(CredentialError::Revoked);
    }
    Ok(caller)
}

/// Verifies the signature of `caller` over `payload_hash`.
#[allow(clippy::too_many_arguments)]
pub fn verify(
    state: &State,
    route: Route,
    front: &Front<'_>,
    parsed: &ParsedAuth<'_>,
    caller: &Caller,
    payload_hash: &str,
    uri_mode: UriMode,
    peer: SocketAddr,
) -> Result<SigningContext, AuthError> {
    let key = parsed.credential.access_key_id();
    let signing = verify_signature(
        parsed,
        &front.req,
        caller.secret(),
        payload_hash,
        uri_mode,
        &state.signing_keys,
    )
    .map_err(|e| {
        state
            .metrics
            .auth_failure(route.label(), e.code(), Some(key), peer);
        AuthError::SigV4(e)
    })?;
    // Only a verified signature names the caller in the audit trail.
    crate::audit::note(|f| f.caller = Some(caller.clone()));
    Ok(signing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_stripped_for_host_matching() {
        assert_eq!(strip_port("api.internal:8443"), "api.internal");
        assert_eq!(strip_port("api.internal"), "api.internal");
        assert_eq!(strip_port("[::1]:8080"), "[::1]");
    }

    #[test]
    fn raw_prefixes_match_whole_segments() {
        let prefix = vec!["billing".to_string()];
        assert!(raw_prefix_matches("/billing", &prefix));
        assert!(raw_prefix_matches("/billing/a//b", &prefix));
        assert!(!raw_prefix_matches("/billingx", &prefix));
        assert!(raw_prefix_matches("/anything", &[]));
    }
}
