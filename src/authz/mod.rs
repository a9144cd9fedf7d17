//! Authorization shared by every protocol: the caller's policies, the request context (global
//! condition keys), and the encoded authorization failure message of a refusal.

use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, Serializer};

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
            if let Some(provider) = &s.federated_provider {
                c.set("aws:FederatedProvider", provider.clone());
            }
            for (key, values) in &s.web_identity_keys {
                set_web_identity_key(&mut c, key, values);
            }
        }
    }
    c
}

/// A web identity key (`<provider>:aud`, `:sub`, `:amr`): `amr` is multi-valued, as AWS
/// documents it (`ForAnyValue:StringLike`); the others are single-valued.
pub fn set_web_identity_key(c: &mut RequestContext, key: &str, values: &[String]) {
    match values {
        [one] if !key.ends_with(":amr") => c.set(key.to_string(), one.clone()),
        _ => c.set_multi(key.to_string(), values.to_vec()),
    };
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

/// The JSON of an encoded authorization failure message (spec sts-iam.md §4.3), serialized
/// straight from what the evaluation borrowed: a refusal builds no JSON tree (a flood of refused
/// requests is the case to make cheap). `DecodeAuthorizationMessage` re-reads it as JSON, so the
/// decoded text has its keys in sorted order whatever order they are written in here.
pub fn failure_message<'a>(
    outcome: &'a Outcome,
    ctx: &'a RequestContext,
    caller: &'a Caller,
) -> FailureMessage<'a> {
    FailureMessage {
        outcome,
        ctx,
        caller,
    }
}

/// See [`failure_message`].
pub struct FailureMessage<'a> {
    outcome: &'a Outcome,
    ctx: &'a RequestContext,
    caller: &'a Caller,
}

/// `{"items": [{"value": v}, …]}`.
struct ValueItems<'a>(&'a [String]);

impl Serialize for ValueItems<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct One<'a>(&'a str);
        impl Serialize for One<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("value", self.0)?;
                m.end()
            }
        }
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("items", &Seq(self.0.iter().map(|v| One(v))))?;
        m.end()
    }
}

/// `{"items": [...]}` around any sequence.
struct Items<T>(T);

impl<T: Serialize> Serialize for Items<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("items", &self.0)?;
        m.end()
    }
}

/// A sequence serialized from an iterator (cloned: serialization takes `&self`).
struct Seq<I>(I);

impl<I: Iterator<Item = T> + Clone, T: Serialize> Serialize for Seq<I> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.clone())
    }
}

/// `{"key": k, "values": {"items": [...]}}`.
struct KeyValues<'a>(&'a str, &'a [String]);

impl Serialize for KeyValues<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("key", self.0)?;
        m.serialize_entry("values", &ValueItems(self.1))?;
        m.end()
    }
}

#[derive(Clone)]
struct Matched<'a>(&'a crate::policy::MatchedStatement, &'a str);

impl Serialize for Matched<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (m, principal) = (self.0, self.1);
        let no_resources: &[String] = &[];
        let mut map = s.serialize_map(Some(7))?;
        map.serialize_entry("statementId", m.sid.as_deref().unwrap_or(""))?;
        map.serialize_entry(
            "effect",
            if m.effect == Effect::Deny {
                "DENY"
            } else {
                "ALLOW"
            },
        )?;
        map.serialize_entry("principals", &Items([KeyOnly("value", principal)]))?;
        map.serialize_entry("principalGroups", &Items([(); 0]))?;
        map.serialize_entry("actions", &ValueItems(&m.statement.action.patterns))?;
        map.serialize_entry(
            "resources",
            &ValueItems(
                m.statement
                    .resource
                    .as_ref()
                    .map_or(no_resources, |r| r.patterns.as_slice()),
            ),
        )?;
        map.serialize_entry(
            "conditions",
            &Items(Seq(m
                .statement
                .conditions
                .iter()
                .map(|c| KeyValues(&c.key, &c.values)))),
        )?;
        map.end()
    }
}

/// A matched statement as the caller may see it: one of its own account's policies in full, or
/// a resource policy of another account named only by its type and account.
#[derive(Clone)]
enum MatchedEntry<'a> {
    Own(Matched<'a>),
    Foreign(&'a str),
}

impl Serialize for MatchedEntry<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            MatchedEntry::Own(m) => m.serialize(s),
            MatchedEntry::Foreign(account) => {
                let mut map = s.serialize_map(Some(3))?;
                map.serialize_entry("effect", "DENY")?;
                map.serialize_entry("policyType", "RESOURCE_BASED_POLICY")?;
                map.serialize_entry("policyAccount", account)?;
                map.end()
            }
        }
    }
}

/// `{name: value}`.
struct KeyOnly<'a>(&'static str, &'a str);

impl Serialize for KeyOnly<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry(self.0, self.1)?;
        m.end()
    }
}

impl Serialize for FailureMessage<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Principal<'a>(&'a Caller);
        impl Serialize for Principal<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(None)?;
                m.serialize_entry("id", self.0.user_id())?;
                m.serialize_entry("arn", self.0.arn())?;
                if let Caller::User { user, .. } = self.0 {
                    m.serialize_entry("name", &user.name)?;
                }
                m.end()
            }
        }
        struct Context<'a>(&'a RequestContext, &'a Caller);
        impl Serialize for Context<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let entries = self.0.entries();
                let mut m = s.serialize_map(Some(4))?;
                m.serialize_entry("principal", &Principal(self.1))?;
                m.serialize_entry("action", &self.0.action)?;
                m.serialize_entry("resource", &self.0.resource)?;
                m.serialize_entry(
                    "conditions",
                    &Items(Seq(entries.iter().map(|v| KeyValues(&v.name, &v.values)))),
                )?;
                m.end()
            }
        }
        let principal = self.caller.principal();
        let principal = principal.unique_id.as_str();
        // A resource policy of another account (the bucket owner's) is that account's to read:
        // its statements are not shown, only that it refused and whose it is.
        let owner = self
            .ctx
            .get("aws:resourceaccount")
            .and_then(|v| v.values.first())
            .map_or("", String::as_str);
        let foreign = |st: &&crate::policy::MatchedStatement| {
            st.kind == crate::policy::PolicyKind::Resource
                && !owner.is_empty()
                && owner != self.caller.account()
        };
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("allowed", &false)?;
        m.serialize_entry(
            "explicitDeny",
            &(self.outcome.decision == Decision::ExplicitDeny),
        )?;
        let own = self.outcome.matched.iter().filter(|st| !foreign(st));
        let others = self.outcome.matched.iter().any(|st| foreign(&st));
        m.serialize_entry(
            "matchedStatements",
            &Items(Seq(own
                .map(|st| MatchedEntry::Own(Matched(st, principal)))
                .chain(others.then_some(MatchedEntry::Foreign(owner))))),
        )?;
        m.serialize_entry("failures", &Items([(); 0]))?;
        m.serialize_entry("context", &Context(self.ctx, self.caller))?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::policy::PolicyKind;

    /// The message as a JSON tree, written the way it was before it was streamed: the two
    /// must decode to the same JSON.
    fn as_tree(outcome: &Outcome, ctx: &RequestContext, caller: &Caller) -> Value {
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

    #[test]
    fn the_streamed_failure_message_is_the_json_it_replaces() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/stsgate.toml");
        let loaded = crate::config::load(&path).unwrap();
        let state = crate::server::State::new(Arc::new(loaded.config)).unwrap();
        let now = crate::sigv4::AmzDate::now().unix();
        let caller = state
            .identities
            .resolve(&state.keyring, "AKIARTX3GSDSSMDOBCNR", None, now)
            .unwrap();
        let policy = CompiledPolicy::parse(
            "p",
            r#"{"Version":"2012-10-17","Statement":[
                {"Sid":"Reads","Effect":"Allow","Action":["s3:GetObject","s3:List*"],"Resource":"*"},
                {"Sid":"NotFromHere","Effect":"Deny","Action":"s3:*","Resource":["arn:aws:s3:::b/*","arn:aws:s3:::b"],
                 "Condition":{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","192.0.2.1/32"]},"Bool":{"aws:SecureTransport":"false"}}},
                {"Effect":"Deny","NotAction":"s3:GetObject","NotResource":"arn:aws:s3:::b/\"quoted\"\\*"}]}"#,
            PolicyKind::Identity,
        )
        .unwrap();
        let info = RequestInfo {
            now,
            source_ip: Some("127.0.0.1".into()),
            secure_transport: false,
            user_agent: Some("ua \"with\" quotes\u{7f}".into()),
            region: "us-east-1".into(),
        };
        // Refused by the conditioned statement, then by the one without a Sid, negated lists.
        for (action, resource) in [
            ("s3:GetObject", "arn:aws:s3:::b/k"),
            ("s3:PutObject", "arn:aws:s3:::c/k"),
        ] {
            let mut ctx = global_context(action, resource, &caller, &info);
            ctx.set_multi("s3:tagkeys", vec!["a".into(), "b".into()]);
            ctx.set_multi("s3:empty", vec![]);
            let identity = [&policy];
            let outcome = crate::policy::evaluate::decide(
                &Evaluation {
                    identity: &identity,
                    boundary: None,
                    session: None,
                    resource: None,
                    principal: Some(&caller.principal()),
                },
                &ctx,
            );
            assert_eq!(outcome.decision, Decision::ExplicitDeny, "{action}");
            assert!(!outcome.matched.is_empty(), "{action}");
            let streamed: Value = serde_json::from_slice(
                &serde_json::to_vec(&failure_message(&outcome, &ctx, &caller)).unwrap(),
            )
            .unwrap();
            assert_eq!(streamed, as_tree(&outcome, &ctx, &caller), "{action}");
        }
    }

    /// A refusal by another account's bucket policy shows that account's statements to nobody
    /// but it: the caller's message names the policy type and the owner, nothing of its text.
    #[test]
    fn another_accounts_bucket_policy_is_named_not_shown() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/stsgate.toml");
        let loaded = crate::config::load(&path).unwrap();
        let state = crate::server::State::new(Arc::new(loaded.config)).unwrap();
        let now = crate::sigv4::AmzDate::now().unix();
        let caller = state
            .identities
            .resolve(&state.keyring, "AKIARTX3GSDSSMDOBCNR", None, now)
            .unwrap();
        let identity = CompiledPolicy::parse(
            "own",
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"OwnDeny","Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/own/*"},{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
            PolicyKind::Identity,
        )
        .unwrap();
        let bucket = CompiledPolicy::parse(
            "bucket",
            r#"{"Version":"2012-10-17","Statement":{"Sid":"SecretOfB","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"NotIpAddress":{"aws:SourceIp":"203.0.113.7/32"},"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::444455556666:role/internal-admin"}}}}"#,
            PolicyKind::Resource,
        )
        .unwrap();
        let info = RequestInfo {
            now,
            source_ip: Some("127.0.0.1".into()),
            secure_transport: false,
            user_agent: None,
            region: "us-east-1".into(),
        };
        let decode = |resource: &str, owner: &str| {
            let mut ctx = global_context("s3:GetObject", resource, &caller, &info);
            ctx.set("aws:ResourceAccount", owner);
            let ids = [&identity];
            let outcome = crate::policy::evaluate::decide(
                &Evaluation {
                    identity: &ids,
                    boundary: None,
                    session: None,
                    resource: Some(&bucket),
                    principal: Some(&caller.principal()),
                },
                &ctx,
            );
            assert_eq!(outcome.decision, Decision::ExplicitDeny);
            serde_json::to_string(&failure_message(&outcome, &ctx, &caller)).unwrap()
        };
        // Bucket of account B: B's statement is named by type and account only.
        let foreign = decode("arn:aws:s3:::b/k", "444455556666");
        for secret in ["SecretOfB", "203.0.113.7", "internal-admin", "NotIpAddress"] {
            assert!(!foreign.contains(secret), "{secret} leaked: {foreign}");
        }
        assert!(
            foreign.contains(r#""policyType":"RESOURCE_BASED_POLICY""#)
                && foreign.contains(r#""policyAccount":"444455556666""#),
            "{foreign}"
        );
        // The caller's own identity statement is still shown in full beside it.
        let both = decode("arn:aws:s3:::b/own/k", "444455556666");
        assert!(
            both.contains("OwnDeny") && !both.contains("SecretOfB"),
            "{both}"
        );
        // Its own account's bucket: the statement is the caller's account's to read.
        let own = decode("arn:aws:s3:::b/k", "111122223333");
        assert!(
            own.contains("SecretOfB") && !own.contains("policyAccount"),
            "{own}"
        );
    }
}
