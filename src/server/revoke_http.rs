//! `POST /revocations` on the admin listener: revoke sessions now. Read as its pipeline
//! ([`revoke`]): the body (small, bounded) → SigV4 for the `stsgate` service (a configured user or
//! session, verified like every other request) → the record asked for → `stsgate:RevokeSessions`
//! authorized by the caller's IAM policies on the role or user ARN (`*` for a source identity or a
//! key) → stored (and written to `[revocation] file`) before the answer. Answers and refusals are
//! JSON `{"code", "message"}`.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use sha2::{Digest, Sha256};

use super::State;
use crate::identity::{Caller, CredentialError};
use crate::policy::Decision;
use crate::revocation::{Record, Scope};
use crate::sigv4::{AmzDate, RequestParts, UriMode, VerifyPolicy};

/// The signing service of the admin API.
pub const SERVICE: &str = "stsgate";
/// The action a revocation is authorized as.
pub const ACTION: &str = "stsgate:RevokeSessions";
/// Largest request body.
const MAX_BODY: usize = 16 * 1024;

/// A refusal: status, code, message.
struct Refusal(u16, &'static str, String);

fn json(status: u16, value: serde_json::Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(value.to_string())))
        .expect("static response parts")
}

/// Serves `POST /revocations`.
pub async fn handle(
    state: &State,
    peer: SocketAddr,
    req: http::Request<Incoming>,
) -> Response<Full<Bytes>> {
    crate::audit::note(|f| {
        f.event_source = "stsgate";
        f.event_name = "RevokeSessions".into();
        f.request_id = super::new_request_id();
        f.read_only = Some(false);
    });
    match revoke(state, peer, req).await {
        Ok(record) => json(200, serde_json::json!({ "revoked": record })),
        Err(Refusal(status, code, message)) => {
            crate::audit::note_error(code, &message);
            json(
                status,
                serde_json::json!({ "code": code, "message": message }),
            )
        }
    }
}

/// What a revocation request names (exactly one scope), and the time before which sessions
/// are refused (default: now).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Ask {
    role_arn: Option<String>,
    user_arn: Option<String>,
    session_name: Option<String>,
    source_identity: Option<String>,
    access_key_id: Option<String>,
    /// Unix seconds (default: the end of the current second).
    issued_before: Option<i64>,
}

impl Ask {
    fn scope(self) -> Result<Scope, String> {
        match (
            self.role_arn,
            self.user_arn,
            self.session_name,
            self.source_identity,
            self.access_key_id,
        ) {
            (Some(role), None, Some(name), None, None) => {
                Ok(Scope::SessionName { role, name })
            }
            (Some(role), None, None, None, None) => Ok(Scope::Role(role)),
            (None, Some(user), None, None, None) => Ok(Scope::User(user)),
            (None, None, None, Some(id), None) => Ok(Scope::SourceIdentity(id)),
            (None, None, None, None, Some(key)) => Ok(Scope::AccessKey(key)),
            _ => Err("name one of role_arn (with session_name, optionally), user_arn, source_identity, access_key_id".into()),
        }
    }
}

async fn revoke(
    state: &State,
    peer: SocketAddr,
    req: http::Request<Incoming>,
) -> Result<Record, Refusal> {
    let (parts, body) = req.into_parts();
    let now = AmzDate::now();
    let (caller, body) = authenticate(state, &parts, body, now).await?;
    let ask: Ask = serde_json::from_slice(&body).map_err(|e| {
        Refusal(
            400,
            "ValidationError",
            format!("the body is not a revocation: {e}"),
        )
    })?;
    // Issue times are whole seconds: "now" covers every session of this second, including one
    // minted a moment before the revocation (one minted just after is revoked too: retry).
    let before = ask.issued_before.unwrap_or(now.unix() + 1);
    let scope = ask
        .scope()
        .map_err(|m| Refusal(400, "ValidationError", m))?;
    crate::audit::note(|f| f.resource = serde_json::to_string(&scope).ok());
    authorize(state, peer, &parts, &caller, scope.resource(), now)?;
    let record = Record {
        scope,
        before,
        by: caller.arn().to_string(),
    };
    // The record in force for the scope: an earlier time never weakens one already there.
    let record = state.revocations.add(record, now.unix()).map_err(|e| {
        tracing::error!(error = %e, "the revocation file cannot be written; nothing was revoked");
        Refusal(
            500,
            "ServiceFailure",
            "the revocation could not be stored".into(),
        )
    })?;
    share(state, &record).await?;
    tracing::warn!(by = %record.by, scope = ?record.scope, issued_before = record.before, "sessions revoked");
    Ok(record)
}

/// Stores the record in `[shared_state]` Redis, where every replica reads it (see [`sync`]).
/// If Redis cannot take it, the record is in force at this replica only, and the caller is told
/// so (`503`), to retry.
async fn share(state: &State, record: &Record) -> Result<(), Refusal> {
    let Some(redis) = &state.shared else {
        return Ok(());
    };
    let field = serde_json::to_string(&record.scope).expect("scopes serialize");
    let value = serde_json::to_string(record).expect("records serialize");
    redis
        .put_revocation(&field, &value)
        .await
        .map_err(|_| {
            state.shared_state_error();
            Refusal(
                503,
                "ServiceUnavailable",
                "the sessions are revoked at this replica, but shared_state.redis could not store the revocation for the others: try again".into(),
            )
        })
}

/// How often every replica reads the shared revocations: a revocation made at one replica is
/// in force at the others within this.
pub const SYNC_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

/// Reads the shared revocations every [`SYNC_INTERVAL`] into this replica's table (when
/// `[shared_state]` is set). While Redis cannot be read, the records already read stay in force.
pub async fn sync(live: std::sync::Arc<super::Live>) {
    let mut tick = tokio::time::interval(SYNC_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let state = live.load();
        let Some(redis) = &state.shared else { continue };
        let Ok(fields) = redis.revocations().await else {
            continue;
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let (mut records, mut expired) = (Vec::new(), Vec::new());
        for (field, value) in fields {
            match serde_json::from_str::<Record>(&value) {
                Ok(r) if !r.expired(now) => records.push(r),
                // Expired (no session it could match is alive) or unreadable: removed.
                _ => expired.push(field),
            }
        }
        state.revocations.merge(records, now);
        if !expired.is_empty() {
            let _ = redis.drop_revocations(expired).await;
        }
    }
}

async fn read(body: Incoming, timeout: std::time::Duration) -> Result<Bytes, Refusal> {
    let read = http_body_util::Limited::new(body, MAX_BODY).collect();
    match tokio::time::timeout(timeout, read).await {
        Ok(Ok(c)) => Ok(c.to_bytes()),
        Ok(Err(_)) => Err(Refusal(
            413,
            "ValidationError",
            format!("the body is larger than {MAX_BODY} bytes"),
        )),
        Err(_) => Err(Refusal(
            408,
            "RequestTimeout",
            "the body did not arrive in time".into(),
        )),
    }
}

/// The caller whose signature (for the `stsgate` service, over the body) verifies, and the
/// body. The caller is named (a key or session that opens) before a byte of the body is read.
async fn authenticate(
    state: &State,
    parts: &http::request::Parts,
    body: Incoming,
    now: AmzDate,
) -> Result<(Caller, Bytes), Refusal> {
    let host = super::host::request_host(&parts.uri, &parts.headers)
        .map_err(|e| Refusal(400, "InvalidRequest", e.0.into()))?;
    let req = RequestParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        authority: host,
    };
    let policy = VerifyPolicy {
        regions: &state.all_regions,
        services: &[SERVICE],
        max_skew: state.config.server.max_clock_skew,
        now,
    };
    let denied = |code: &'static str, m: String| Refusal(403, code, m);
    let parsed = crate::sigv4::parse_request_auth(&req, &policy)
        .map_err(|e| denied(e.code(), e.message()))?
        .ok_or_else(|| {
            denied(
                "MissingAuthenticationToken",
                "sign the request (SigV4, service stsgate)".into(),
            )
        })?;
    let caller = super::authn::open_caller(
        state,
        parsed.credential.access_key_id(),
        parsed.security_token.as_deref(),
        now.unix(),
    )
    .map_err(|e| denied(e.code(), credential_message(e).into()))?;
    let body = read(body, state.config.limits.body_read_timeout).await?;
    let hash = hex::encode(Sha256::digest(&body));
    crate::sigv4::verify_signature(
        &parsed,
        &req,
        caller.secret(),
        &hash,
        UriMode::Normalized,
        &state.signing_keys,
    )
    .map_err(|e| denied(e.code(), e.message()))?;
    crate::audit::note(|f| {
        f.access_key_id = Some(parsed.credential.access_key_id().to_string());
        f.caller = Some(caller.clone());
    });
    Ok((caller, body))
}

fn credential_message(e: CredentialError) -> &'static str {
    match e {
        CredentialError::UnknownAccessKey | CredentialError::InvalidToken => {
            "The security token included in the request is invalid."
        }
        CredentialError::Expired => "The security token included in the request is expired",
        CredentialError::Revoked => crate::revocation::REVOKED_MESSAGE,
    }
}

/// `stsgate:RevokeSessions` on `resource`, by the caller's identity (and session) policies.
fn authorize(
    state: &State,
    peer: SocketAddr,
    parts: &http::request::Parts,
    caller: &Caller,
    resource: &str,
    now: AmzDate,
) -> Result<(), Refusal> {
    let policies = crate::authz::caller_policies(&state.identities, caller).map_err(|_| {
        Refusal(
            403,
            "InvalidClientTokenId",
            "the caller no longer exists".into(),
        )
    })?;
    let info = crate::authz::RequestInfo {
        now: now.unix(),
        source_ip: Some(peer.ip().to_string()),
        secure_transport: false,
        user_agent: parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        region: state.default_region().to_string(),
    };
    let ctx = policies.context(ACTION, resource, caller, &info);
    let outcome = policies.with_evaluation(&caller.principal(), None, |eval| {
        crate::policy::decide(eval, &ctx)
    });
    if outcome.decision == Decision::Allow {
        return Ok(());
    }
    Err(Refusal(
        403,
        "AccessDenied",
        format!(
            "User: {} is not authorized to perform: {ACTION} on resource: {resource} {}",
            caller.arn(),
            outcome.reason(ACTION)
        ),
    ))
}
