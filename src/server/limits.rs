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

/// Takes a token from every rule that applies to the request: in this replica, or for a
/// `shared` rule in `[shared_state]` Redis (this replica's bucket stands in while Redis cannot
/// answer: the limit is then per replica, never off).
pub(super) async fn check(
    state: &State,
    peer: SocketAddr,
    r: LimitFacts<'_>,
) -> Result<(), Throttled> {
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
    let now = std::time::Instant::now();
    let result = match state.rate_limits.check_local(&facts, now) {
        Ok(shared) => take_shared(state, shared, now).await,
        Err(t) => Err(t),
    };
    result.inspect_err(|t| {
        tracing::info!(rule = %t.rule, caller = r.caller.map_or("anonymous", Caller::arn), source = %peer.ip(), "request throttled");
    })
}

/// The shared rules' tokens, from Redis.
async fn take_shared(
    state: &State,
    shared: Vec<(std::sync::Arc<crate::throttle::RuleState>, String)>,
    now: std::time::Instant,
) -> Result<(), Throttled> {
    for (rule, key) in shared {
        let taken = match &state.shared {
            Some(redis) => {
                redis
                    .take_token(
                        &format!("{}:{key}", rule.rule.name),
                        rule.rule.rate,
                        rule.rule.burst,
                    )
                    .await
            }
            None => Err(crate::sts::shared::Unavailable),
        };
        match taken {
            Ok(0) => {}
            Ok(ms) => return Err(rule.refused(std::time::Duration::from_millis(ms))),
            Err(_) => {
                state.shared_state_error();
                rule.take_local(key, now)?;
            }
        }
    }
    Ok(())
}

/// Adds `Retry-After` (seconds) and `x-amz-retry-after` (milliseconds) to a throttling answer.
pub(super) fn add_retry_after<B>(response: &mut Response<B>, t: &Throttled) {
    for (name, value) in t.headers() {
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, v);
        }
    }
}
