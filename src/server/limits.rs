//! The rate limit stage of every protocol (see [`crate::throttle`]): after authentication, with
//! what the protocol knows of the request; a refusal is logged (never with a secret) and becomes
//! the protocol's throttling error, with `Retry-After` and `x-amz-retry-after`.

use std::net::SocketAddr;

use http::{HeaderValue, Response};

use super::State;
use crate::config::RequestKind;
use crate::identity::Caller;
use crate::throttle::{Facts, Throttled};

/// What is limited: the kind of request, its caller and access key, and the bucket or route.
pub(super) struct LimitFacts<'a> {
    pub kind: RequestKind,
    pub caller: Option<&'a Caller>,
    pub access_key: Option<&'a str>,
    pub bucket: Option<&'a str>,
    pub route: Option<&'a str>,
}

/// Takes a token from every rule that applies to the request.
pub(super) fn check(state: &State, peer: SocketAddr, r: LimitFacts<'_>) -> Result<(), Throttled> {
    if state.rate_limits.rules.is_empty() {
        return Ok(());
    }
    let facts = Facts {
        kind: r.kind,
        access_key: r.access_key,
        principal: r.caller.map(Caller::limited_principal),
        source: peer.ip(),
        bucket: r.bucket,
        route: r.route,
    };
    state
        .rate_limits
        .check(&facts, std::time::Instant::now())
        .inspect_err(|t| {
            tracing::info!(rule = %t.rule, caller = r.caller.map_or("anonymous", Caller::arn), source = %peer.ip(), "request throttled");
        })
}

/// Adds `Retry-After` (seconds) and `x-amz-retry-after` (milliseconds) to a throttling answer.
pub(super) fn add_retry_after<B>(response: &mut Response<B>, t: &Throttled) {
    for (name, value) in t.headers() {
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, v);
        }
    }
}
