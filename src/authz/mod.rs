//! Authorization shared by every protocol: the caller's policies, the request context (global
//! condition keys), and the encoded authorization failure message of a refusal.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::identity::{Caller, IdentityStore};
use crate::policy::{
    CompiledPolicy, Decision, Effect, Evaluation, Outcome, PrincipalKind, RequestContext,
};

/// Request facts that feed condition keys.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    /// Unix seconds.
    pub now: i64,
    pub source_ip: Option<String>,
    pub secure_transport: bool,
    pub user_agent: Option<String>,
    /// The region the request was signed for.
    pub region: String,
}

/// The policies on the caller's side of an evaluation.
pub struct CallerPolicies {
    pub identity: Vec<Arc<CompiledPolicy>>,
    pub boundary: Option<Arc<CompiledPolicy>>,
    /// `Some` for sessions created with session policies.
    pub session: Option<Vec<Arc<CompiledPolicy>>>,
    /// The principal's IAM tags (the role's for role sessions, the user's otherwise).
    pub tags: Arc<std::collections::BTreeMap<String, String>>,
}

/// Why a caller's policies could not be found (a session whose role or user no longer exists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrincipalGone;

/// The caller's identity-side policies: user policies (+ boundary), or the role's policies plus
/// the session's own (precompiled) session policies. Looked up live, so a policy change applies
/// to existing sessions at once (that is how revocation works).
pub fn caller_policies(
    store: &IdentityStore,
    caller: &Caller,
) -> Result<CallerPolicies, PrincipalGone> {
    match caller {
        Caller::User { user, .. } => Ok(CallerPolicies {
            identity: user.policies.clone(),
            boundary: user.boundary.clone(),
            session: None,
            tags: user.tags.clone(),
        }),
        Caller::Session(s) => match &s.role_arn {
            Some(role_arn) => {
                let role = store.role(role_arn).ok_or(PrincipalGone)?;
                Ok(CallerPolicies {
                    identity: role.policies.clone(),
                    boundary: role.boundary.clone(),
                    session: s.session_policies.clone(),
                    tags: principal_tags(&role.tags, &s.tags),
                })
            }
            None => {
                let user = store.user(&s.arn).ok_or(PrincipalGone)?;
                Ok(CallerPolicies {
                    identity: user.policies.clone(),
                    boundary: user.boundary.clone(),
                    session: None,
                    tags: user.tags.clone(),
                })
            }
        },
    }
}

/// The role's IAM tags, each replaced by a session tag whose key is equal ignoring case.
fn principal_tags(
    role: &Arc<std::collections::BTreeMap<String, String>>,
    session: &[(String, String)],
) -> Arc<std::collections::BTreeMap<String, String>> {
    if session.is_empty() {
        return role.clone();
    }
    let mut tags: std::collections::BTreeMap<String, String> = role
        .iter()
        .filter(|(k, _)| !session.iter().any(|(s, _)| s.eq_ignore_ascii_case(k)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    tags.extend(session.iter().cloned());
    Arc::new(tags)
}

impl CallerPolicies {
    /// The global condition keys for `caller` doing `action` on `resource`, with the principal's
    /// tags as `aws:PrincipalTag/<key>`.
    pub fn context(
        &self,
        action: &str,
        resource: &str,
        caller: &Caller,
        info: &RequestInfo,
    ) -> RequestContext {
        let mut ctx = global_context(action, resource, caller, info);
        for (key, value) in self.tags.iter() {
            ctx.set(format!("aws:PrincipalTag/{key}"), value.clone());
        }
        ctx
    }

    /// Runs `f` with an [`Evaluation`] borrowing these policies, and the resource's own policy
    /// (a bucket policy) if it has one.
    pub fn with_evaluation<R>(
        &self,
        principal: &crate::policy::Principal,
        resource: Option<&CompiledPolicy>,
        f: impl FnOnce(&Evaluation<'_>) -> R,
    ) -> R {
        let identity: Vec<&CompiledPolicy> = self.identity.iter().map(|p| p.as_ref()).collect();
        let session: Option<Vec<&CompiledPolicy>> = self
            .session
            .as_ref()
            .map(|s| s.iter().map(|p| p.as_ref()).collect());
        f(&Evaluation {
            identity: &identity,
            boundary: self.boundary.as_deref(),
            session: session.as_deref(),
            resource,
            principal: Some(principal),
        })
    }
}

fn timestamp(unix: i64) -> String {
    crate::sts::xml::timestamp(unix)
}

/// The global condition keys of a request by `caller` (spec sts-iam.md §5.5).
pub fn global_context(
    action: &str,
    resource: &str,
    caller: &Caller,
    info: &RequestInfo,
) -> RequestContext {
    let mut c = RequestContext::new(action, resource);
    let principal = caller.principal();
    let principal_arn = match &principal.kind {
        PrincipalKind::AssumedRole { role_arn } => role_arn.clone(),
        _ => principal.arn.clone(),
    };
    c.set("aws:CurrentTime", timestamp(info.now))
        .set("aws:EpochTime", info.now.to_string())
        .set("aws:SecureTransport", info.secure_transport.to_string())
        .set("aws:PrincipalArn", principal_arn)
        .set("aws:PrincipalAccount", caller.account())
        .set("aws:userid", caller.user_id())
        .set("aws:RequestedRegion", info.region.clone());
    if let Some(ip) = &info.source_ip {
        c.set("aws:SourceIp", ip.clone());
    }
    if let Some(ua) = &info.user_agent {
        c.set("aws:UserAgent", ua.clone());
    }
    match caller {
        Caller::User { user, .. } => {
            c.set("aws:username", user.name.clone())
                .set("aws:PrincipalType", "User");
        }
        Caller::Session(s) => {
            c.set("aws:PrincipalType", s.principal_type.clone())
                .set("aws:TokenIssueTime", timestamp(s.issued_at));
            if let Some(name) = &s.user_name {
                c.set("aws:username", name.clone());
            }
            match s.mfa_at {
                Some(at) => {
                    c.set("aws:MultiFactorAuthPresent", "true")
                        .set("aws:MultiFactorAuthAge", (info.now - at).max(0).to_string());
                }
                None => {
                    c.set("aws:MultiFactorAuthPresent", "false");
                }
            }
            if let Some(si) = &s.source_identity {
                c.set("aws:SourceIdentity", si.clone());
            }
        }
    }
    c
}

/// The condition keys of an unsigned request: only what the request itself says.
pub fn anonymous_context(action: &str, resource: &str, info: &RequestInfo) -> RequestContext {
    let mut c = RequestContext::new(action, resource);
    c.set("aws:CurrentTime", timestamp(info.now))
        .set("aws:EpochTime", info.now.to_string())
        .set("aws:SecureTransport", info.secure_transport.to_string())
        .set("aws:PrincipalType", "Anonymous")
        .set("aws:RequestedRegion", info.region.clone());
    if let Some(ip) = &info.source_ip {
        c.set("aws:SourceIp", ip.clone());
    }
    if let Some(ua) = &info.user_agent {
        c.set("aws:UserAgent", ua.clone());
    }
    c
}

/// The JSON of an encoded authorization failure message (spec sts-iam.md §4.3).
pub fn failure_message(outcome: &Outcome, ctx: &RequestContext, caller: &Caller) -> Value {
    let items = |values: &[String]| json!({"items": values.iter().map(|v| json!({"value": v})).collect::<Vec<_>>()});
    let statements: Vec<Value> = outcome
        .matched
        .iter()
        .map(|m| {
            json!({
                "statementId": m.sid.clone().unwrap_or_default(),
                "effect": if m.effect == Effect::Deny { "DENY" } else { "ALLOW" },
                "principals": {"items": [{"value": caller.principal().unique_id}]},
                "principalGroups": {"items": []},
                "actions": items(&m.statement.action.patterns),
                "resources": items(&m.statement.resource.as_ref().map(|r| r.patterns.clone()).unwrap_or_default()),
                "conditions": {"items": m.statement.conditions.iter().map(|c| json!({"key": c.key, "values": items(&c.values)})).collect::<Vec<_>>()},
            })
        })
        .collect();
    let mut principal = json!({"id": caller.user_id(), "arn": caller.arn()});
    if let Caller::User { user, .. } = caller {
        principal["name"] = json!(user.name);
    }
    json!({
        "allowed": false,
        "explicitDeny": outcome.decision == Decision::ExplicitDeny,
        "matchedStatements": {"items": statements},
        "failures": {"items": []},
        "context": {
            "principal": principal,
            "action": ctx.action,
            "resource": ctx.resource,
            "conditions": {"items": ctx.entries().iter().map(|v| json!({"key": v.name, "values": items(&v.values)})).collect::<Vec<_>>()},
        }
    })
}
