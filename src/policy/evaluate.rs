//! Compiled policies and the decision algorithm (spec sts-iam.md §5.6–5.8).
//!
//! A policy is compiled once (actions lower-cased into globs, resources split into ARN parts,
//! condition values parsed); evaluation then only matches and never re-parses JSON.

use std::sync::Arc;

use super::condition::CompiledCondition;
use super::context::RequestContext;
use super::document::{
    Effect, PolicyDocument, PolicyError, PolicyKind, PrincipalType, Principals, Statement, Version,
    parse_principal_arn,
};
use super::pattern::{Glob, Template};

/// A resource pattern: `*`, or the six ARN parts matched one by one (a wildcard in the first five
/// parts cannot swallow a `:`; the resource part may contain variables). When the first five
/// parts are literal (`arn:aws:s3:::`), they are compared as one prefix.
#[derive(Debug, Clone)]
enum ResourcePattern {
    Any,
    /// Literal `arn:…:` prefix (five parts and their colons) and the resource-part pattern.
    Prefixed {
        prefix: String,
        rest: Template,
    },
    Arn(Box<[Template; 6]>),
}

impl ResourcePattern {
    fn compile(pattern: &str, variables: bool) -> Result<ResourcePattern, String> {
        if pattern == "*" {
            return Ok(ResourcePattern::Any);
        }
        let parts: Vec<&str> = pattern.splitn(6, ':').collect();
        if parts.len() != 6 {
            return Err(format!("\"{pattern}\" is not an ARN"));
        }
        let t = |i: usize, vars: bool| Template::new(parts[i], vars, false).map_err(|e| e.0);
        if parts[..5].iter().all(|p| !p.contains(['*', '?'])) {
            let prefix_len = parts[..5].iter().map(|p| p.len() + 1).sum();
            return Ok(ResourcePattern::Prefixed {
                prefix: pattern[..prefix_len].to_string(),
                rest: t(5, variables)?,
            });
        }
        Ok(ResourcePattern::Arn(Box::new([
            t(0, false)?,
            t(1, false)?,
            t(2, false)?,
            t(3, false)?,
            t(4, false)?,
            t(5, variables)?,
        ])))
    }

    fn matches(&self, resource: &str, ctx: &RequestContext) -> bool {
        match self {
            ResourcePattern::Any => true,
            ResourcePattern::Prefixed { prefix, rest } => resource
                .strip_prefix(prefix.as_str())
                .is_some_and(|r| rest.matches(r, |k| ctx.variable(k))),
            ResourcePattern::Arn(parts) => {
                let mut actual = resource.splitn(6, ':');
                parts.iter().all(|p| {
                    actual
                        .next()
                        .is_some_and(|a| p.matches(a, |k| ctx.variable(k)))
                })
            }
        }
    }
}

#[derive(Debug, Clone)]
struct CompiledStatement {
    /// 0-based position in the document.
    index: usize,
    effect: Effect,
    principal: Option<Principals>,
    actions_negated: bool,
    /// (service, action name) patterns, lower case: the service rejects most statements at once.
    actions: Vec<(Glob, Glob)>,
    resources: Option<(bool, Vec<ResourcePattern>)>,
    conditions: Vec<CompiledCondition>,
    source: Arc<Statement>,
}

/// A policy ready for evaluation.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    /// A name for explanations (policy name or ARN).
    pub name: Arc<str>,
    pub kind: PolicyKind,
    statements: Vec<CompiledStatement>,
}

/// A statement that decided (or took part in) a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedStatement {
    pub policy: Arc<str>,
    pub kind: PolicyKind,
    pub sid: Option<String>,
    /// 0-based position in its policy.
    pub index: usize,
    pub effect: Effect,
    pub statement: Arc<Statement>,
}

impl CompiledPolicy {
    pub fn compile(
        name: impl Into<Arc<str>>,
        doc: &PolicyDocument,
        kind: PolicyKind,
    ) -> Result<CompiledPolicy, PolicyError> {
        let variables = doc.version == Version::V2012_10_17;
        let mut statements = Vec::with_capacity(doc.statements.len());
        for (index, s) in doc.statements.iter().enumerate() {
            let err = |message: String| PolicyError {
                statement: Some(index + 1),
                sid: s.sid.clone(),
                message,
                position: None,
            };
            let conditions = s
                .conditions
                .iter()
                .map(|c| CompiledCondition::compile(c, variables))
                .collect::<Result<Vec<_>, _>>()
                .map_err(err)?;
            let resources = match &s.resource {
                Some(r) => Some((
                    r.negated,
                    r.patterns
                        .iter()
                        .map(|p| ResourcePattern::compile(p, variables))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(err)?,
                )),
                None => None,
            };
            statements.push(CompiledStatement {
                index,
                effect: s.effect,
                principal: s.principal.clone(),
                actions_negated: s.action.negated,
                actions: s
                    .action
                    .patterns
                    .iter()
                    .map(|p| match p.split_once(':') {
                        Some((service, name)) => (Glob::new(service, true), Glob::new(name, true)),
                        None => (Glob::new(p, true), Glob::Any),
                    })
                    .collect(),
                resources,
                conditions,
                source: Arc::new(s.clone()),
            });
        }
        Ok(CompiledPolicy {
            name: name.into(),
            kind,
            statements,
        })
    }

    /// Parses and compiles in one step.
    pub fn parse(
        name: impl Into<Arc<str>>,
        text: &str,
        kind: PolicyKind,
    ) -> Result<CompiledPolicy, PolicyError> {
        CompiledPolicy::compile(name, &PolicyDocument::parse(text, kind)?, kind)
    }

    /// Statements that apply to the request (principal, action, resource, conditions), with how
    /// the principal matched (for resource and trust policies).
    fn applicable<'a>(
        &'a self,
        req: &'a Request<'a>,
        principal: Option<&'a Principal>,
        effect: Option<Effect>,
    ) -> impl Iterator<Item = (&'a CompiledStatement, Option<PrincipalMatch>)> + 'a {
        self.statements
            .iter()
            .filter(move |s| effect.is_none_or(|e| s.effect == e))
            .filter_map(move |s| {
                let how = match &s.principal {
                    Some(p) => {
                        let m = principal.and_then(|c| principal_match(p, c));
                        match (p.negated, m) {
                            (false, Some(m)) => Some(m),
                            (false, None) => return None,
                            (true, Some(_)) if s.effect == Effect::Deny && req.bounded => {
                                Some(PrincipalMatch::Any)
                            }
                            (true, Some(_)) => return None,
                            (true, None) => Some(PrincipalMatch::Any),
                        }
                    }
                    None => None,
                };
                let (service, name) = req
                    .action_lower
                    .split_once(':')
                    .unwrap_or((&req.action_lower, ""));
                let action_hit = s
                    .actions
                    .iter()
                    .any(|(sg, ng)| sg.matches(service) && ng.matches(name));
                if action_hit == s.actions_negated {
                    return None;
                }
                if let Some((negated, patterns)) = &s.resources {
                    let hit = patterns
                        .iter()
                        .any(|p| p.matches(&req.ctx.resource, req.ctx));
                    if hit == *negated {
                        return None;
                    }
                }
                s.conditions
                    .iter()
                    .all(|c| c.evaluate(req.ctx))
                    .then_some((s, how))
            })
    }

    fn matched(&self, s: &CompiledStatement) -> MatchedStatement {
        MatchedStatement {
            policy: self.name.clone(),
            kind: self.kind,
            sid: s.source.sid.clone(),
            index: s.index,
            effect: s.effect,
            statement: Arc::clone(&s.source),
        }
    }
}

/// The caller, for matching `Principal` in resource and trust policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The caller's ARN: user ARN, account root ARN, or `…:assumed-role/<role>/<session>`.
    pub arn: String,
    pub account: String,
    /// `AIDA…` for users, `AROA…` (the role's id) for role sessions.
    pub unique_id: String,
    pub kind: PrincipalKind,
}

impl Principal {
    /// The principal of an unsigned request.
    pub fn anonymous() -> Principal {
        Principal {
            arn: "anonymous".to_string(),
            account: String::new(),
            unique_id: "anonymous".to_string(),
            kind: PrincipalKind::Anonymous,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    Root,
    User,
    /// A session of this role (its ARN with path).
    AssumedRole {
        role_arn: String,
    },
    FederatedUser,
    /// The caller of AssumeRoleWithWebIdentity: the OIDC provider that vouched for its token
    /// (matched by `"Federated"` principals).
    WebIdentity {
        provider_arn: String,
    },
    /// An AWS service acting for a caller (the pod identity endpoint as
    /// `pods.eks.amazonaws.com`), matched by `"Service"` principals.
    Service {
        name: String,
    },
    /// An unsigned request: only a resource policy granting `"*"` can allow it.
    Anonymous,
}

/// How a `Principal` element named the caller (spec §5.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PrincipalMatch {
    /// The caller itself: its user ARN or unique id, or its exact session ARN.
    Session,
    /// The role the caller's session belongs to.
    Role,
    /// The caller's account (`"<id>"` or `…:root`).
    Account,
    /// `"*"`.
    Any,
}

fn principal_match(p: &Principals, caller: &Principal) -> Option<PrincipalMatch> {
    let Some(entries) = &p.entries else {
        return Some(PrincipalMatch::Any);
    };
    let mut best: Option<PrincipalMatch> = None;
    for (ptype, values) in entries {
        // A web identity is named by its provider, and only by a "Federated" entry.
        if let PrincipalKind::WebIdentity { provider_arn } = &caller.kind {
            if *ptype == PrincipalType::Federated && values.iter().any(|v| v == provider_arn) {
                best = Some(PrincipalMatch::Session);
            }
            continue;
        }
        // A service is named by a "Service" entry only.
        if let PrincipalKind::Service { name } = &caller.kind {
            if *ptype == PrincipalType::Service && values.iter().any(|v| v == name) {
                best = Some(PrincipalMatch::Session);
            }
            continue;
        }
        if *ptype != PrincipalType::Aws {
            continue;
        }
        for v in values {
            let m = if v == "*" {
                Some(PrincipalMatch::Any)
            } else if *v == caller.account {
                Some(PrincipalMatch::Account)
            } else if *v == caller.arn
                || *v == caller.unique_id && caller.kind == PrincipalKind::User
            {
                Some(PrincipalMatch::Session)
            } else if let PrincipalKind::AssumedRole { role_arn } = &caller.kind {
                (*v == *role_arn || *v == caller.unique_id).then_some(PrincipalMatch::Role)
            } else {
                None
            }
            .or_else(|| match parse_principal_arn(v) {
                Some(super::document::PrincipalArn::Root { account })
                    if account == caller.account =>
                {
                    Some(PrincipalMatch::Account)
                }
                _ => None,
            });
            if let Some(m) = m {
                best = Some(best.map_or(m, |b| b.min(m)));
            }
        }
    }
    best
}

/// Allow, implicit deny, or explicit deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    ImplicitDeny,
    ExplicitDeny,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allowed",
            Decision::ImplicitDeny => "implicitDeny",
            Decision::ExplicitDeny => "explicitDeny",
        }
    }
}

/// A decision with the statements that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub decision: Decision,
    /// Deny statements for an explicit deny; the allowing statements for an allow.
    pub matched: Vec<MatchedStatement>,
    /// For an implicit deny: the policy type that had no applicable allow.
    pub missing_allow: Option<PolicyKind>,
}

impl Outcome {
    pub fn is_allowed(&self) -> bool {
        self.decision == Decision::Allow
    }

    /// AWS's reason text: `with an explicit deny in a session policy`, or
    /// `because no identity-based policy allows the s3:PutObject action`.
    pub fn reason(&self, action: &str) -> String {
        match self.decision {
            Decision::Allow => String::new(),
            Decision::ExplicitDeny => {
                let kind = self
                    .matched
                    .first()
                    .map_or(PolicyKind::Identity, |m| m.kind);
                let article = if kind == PolicyKind::Identity {
                    "an"
                } else {
                    "a"
                };
                format!("with an explicit deny in {article} {} policy", kind.label())
            }
            Decision::ImplicitDeny => format!(
                "because no {} policy allows the {action} action",
                self.missing_allow.unwrap_or(PolicyKind::Identity).label()
            ),
        }
    }
}

/// The policies that apply to one request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Evaluation<'a> {
    pub identity: &'a [&'a CompiledPolicy],
    pub boundary: Option<&'a CompiledPolicy>,
    /// Session policies (inline and managed, one set). `None` when the session has none.
    pub session: Option<&'a [&'a CompiledPolicy]>,
    pub resource: Option<&'a CompiledPolicy>,
    pub principal: Option<&'a Principal>,
}

struct Request<'a> {
    ctx: &'a RequestContext,
    action_lower: String,
    /// The caller has a permissions boundary: a Deny with `NotPrincipal` then applies to it
    /// whatever the `NotPrincipal` names (see [`decide`]).
    bounded: bool,
}

/// Decides one request (spec §5.7). Evaluation allocates only for the result.
///
/// Two rules of AWS's for permissions boundaries and resource policies, as the IAM User Guide
/// states them:
/// - NotPrincipal ("Policy elements: NotPrincipal"): "a policy that uses Deny with NotPrincipal
///   will always deny any IAM principal that has a permissions boundary policy attached,
///   regardless of the values specified in the NotPrincipal element."
/// - Boundaries ("Permissions boundaries for IAM entities", resource-based policies): within an
///   account, a resource-based policy that grants to an IAM user is not limited by the implicit
///   deny of the user's boundary (permissions boundaries "do not define the maximum permissions
///   that a resource-based policy can grant"); that holds for a grant naming the user, and for a
///   role session for a grant naming the session ARN. A grant to the role is limited by the
///   role's boundary and the session policy, and one to the account only delegates to the
///   identity policies. The documentation does not spell out `"*"`: it is read as matching the
///   requesting principal itself (as the independent simulator of `tests/iam_differential.rs`
///   reads it), so a grant to `"*"` is as direct as one naming the user or session.
pub fn decide(eval: &Evaluation<'_>, ctx: &RequestContext) -> Outcome {
    let req = Request {
        ctx,
        action_lower: ctx.action.to_lowercase(),
        bounded: eval.boundary.is_some(),
    };
    let principal = eval.principal;
    let denies = explicit_denies(eval, &req);
    if !denies.is_empty() {
        return Outcome {
            decision: Decision::ExplicitDeny,
            matched: denies,
            missing_allow: None,
        };
    }
    if principal.is_some_and(|p| p.kind == PrincipalKind::Root) {
        return Outcome {
            decision: Decision::Allow,
            matched: vec![],
            missing_allow: None,
        };
    }
    let allows = Allows::collect(eval, &req);
    let scope = Scope::of(principal, ctx);
    match allows.grant(&scope) {
        Some(mut granted) => {
            if let Some(sa) = allows.session {
                granted.extend(sa);
            }
            Outcome {
                decision: Decision::Allow,
                matched: granted,
                missing_allow: None,
            }
        }
        None => Outcome {
            decision: Decision::ImplicitDeny,
            matched: vec![],
            missing_allow: Some(allows.missing(eval, &scope)),
        },
    }
}

/// Every Deny statement that applies, in any policy: one is enough to refuse.
fn explicit_denies(eval: &Evaluation<'_>, req: &Request<'_>) -> Vec<MatchedStatement> {
    let principal = eval.principal;
    eval.identity
        .iter()
        .copied()
        .chain(eval.boundary)
        .chain(eval.session.into_iter().flatten().copied())
        .chain(eval.resource)
        .flat_map(|p| {
            p.applicable(req, principal, Some(Effect::Deny))
                .map(move |(s, _)| p.matched(s))
        })
        .collect()
}

/// The Allow statements that apply, per kind of policy.
struct Allows {
    identity: Vec<MatchedStatement>,
    /// No boundary, or the boundary allows.
    boundary_ok: bool,
    /// `None` when the session has no session policies.
    session: Option<Vec<MatchedStatement>>,
    /// The session policies allow, or there are none where none are needed.
    session_ok: bool,
    /// The resource policy's grants, with how each named the principal.
    resource: Vec<(MatchedStatement, PrincipalMatch)>,
}

impl Allows {
    fn collect(eval: &Evaluation<'_>, req: &Request<'_>) -> Allows {
        let principal = eval.principal;
        let allows =
            |policies: &mut dyn Iterator<Item = &CompiledPolicy>| -> Vec<MatchedStatement> {
                policies
                    .flat_map(|p| {
                        p.applicable(req, principal, Some(Effect::Allow))
                            .map(move |(s, _)| p.matched(s))
                            .collect::<Vec<_>>()
                    })
                    .collect()
            };
        let identity = allows(&mut eval.identity.iter().copied());
        let boundary = eval.boundary.map(|b| allows(&mut std::iter::once(b)));
        let session = eval.session.map(|s| allows(&mut s.iter().copied()));
        let resource = eval
            .resource
            .map(|r| {
                r.applicable(req, principal, Some(Effect::Allow))
                    .map(|(s, how)| (r.matched(s), how.unwrap_or(PrincipalMatch::Any)))
                    .collect()
            })
            .unwrap_or_default();
        let is_session = principal.is_some_and(|p| {
            matches!(
                p.kind,
                PrincipalKind::AssumedRole { .. } | PrincipalKind::FederatedUser
            )
        });
        let federated = principal.is_some_and(|p| p.kind == PrincipalKind::FederatedUser);
        let session_ok = match &session {
            Some(a) => !a.is_empty(),
            None => !federated || !is_session,
        };
        Allows {
            identity,
            boundary_ok: boundary.as_ref().is_none_or(|a| !a.is_empty()),
            session,
            session_ok,
            resource,
        }
    }

    /// The principal's own side allows: identity policies, within its boundary and session.
    fn principal_side(&self) -> bool {
        !self.identity.is_empty() && self.boundary_ok && self.session_ok
    }

    fn resource_grants(&self, how: impl Fn(PrincipalMatch) -> bool) -> Vec<MatchedStatement> {
        self.resource
            .iter()
            .filter(|(_, m)| how(*m))
            .map(|(s, _)| s.clone())
            .collect()
    }

    /// The statements that grant the request, or `None` (see [`decide`] for the rules).
    fn grant(&self, scope: &Scope) -> Option<Vec<MatchedStatement>> {
        let some = |v: Vec<MatchedStatement>| (!v.is_empty()).then_some(v);
        if scope.anonymous {
            // No identity side at all: a grant to "*" is the only way in.
            return some(self.resource_grants(|_| true));
        }
        if !scope.same_account {
            // Cross-account: both sides must allow.
            if !self.principal_side() || self.resource.is_empty() {
                return None;
            }
            let mut granted = self.identity.clone();
            granted.extend(self.resource_grants(|_| true));
            return Some(granted);
        }
        // "*" matches the requesting principal itself: a grant to it is as direct as one naming
        // the user or the session.
        let direct =
            self.resource_grants(|m| matches!(m, PrincipalMatch::Session | PrincipalMatch::Any));
        if !direct.is_empty() {
            return Some(direct);
        }
        if !(self.boundary_ok && self.session_ok) {
            return None;
        }
        some(self.resource_grants(|m| m == PrincipalMatch::Role))
            .or_else(|| some(self.identity.clone()))
    }

    /// Which kind of policy lacks the allow, for the failure message.
    fn missing(&self, eval: &Evaluation<'_>, scope: &Scope) -> PolicyKind {
        if scope.anonymous {
            PolicyKind::Resource
        } else if self.identity.is_empty() && self.resource.is_empty() {
            if eval.resource.is_some() && eval.identity.is_empty() {
                PolicyKind::Resource
            } else {
                PolicyKind::Identity
            }
        } else if !scope.same_account && self.identity.is_empty() {
            // Cross-account: the bucket's grant is not enough without the caller's own allow.
            PolicyKind::Identity
        } else if !self.boundary_ok {
            PolicyKind::Boundary
        } else if !self.session_ok {
            PolicyKind::Session
        } else {
            PolicyKind::Resource
        }
    }
}

/// Where the request comes from, relative to the resource.
struct Scope {
    anonymous: bool,
    /// The principal's account owns the resource (or the resource names no account).
    same_account: bool,
}

impl Scope {
    fn of(principal: Option<&Principal>, ctx: &RequestContext) -> Scope {
        // The resource's account: from its ARN, or (S3 ARNs carry none) `aws:ResourceAccount`.
        let resource_account = match ctx.resource.split(':').nth(4).unwrap_or("") {
            "" => ctx
                .get("aws:resourceaccount")
                .and_then(|v| v.values.first())
                .map_or("", String::as_str),
            a => a,
        };
        Scope {
            anonymous: principal.is_some_and(|p| p.kind == PrincipalKind::Anonymous),
            same_account: resource_account.is_empty()
                || principal.is_none_or(|p| p.account == resource_account),
        }
    }
}

/// Authorizes `sts:AssumeRole` (and `sts:TagSession` / `sts:SetSourceIdentity` when asked):
/// the role's trust policy must allow the caller explicitly, and, depending on how it named the
/// caller, the caller's own policies must allow it too (spec §5.8).
pub fn authorize_assume_role(
    trust: &CompiledPolicy,
    role_arn: &str,
    caller_identity: &Evaluation<'_>,
    ctx: &RequestContext,
) -> Outcome {
    let caller = caller_identity.principal;
    if caller.is_some_and(|p| p.kind == PrincipalKind::Root) {
        return Outcome {
            decision: Decision::ImplicitDeny,
            matched: vec![],
            missing_allow: Some(PolicyKind::Trust),
        };
    }
    let (trust_statement, how) = match trusted(trust, role_arn, caller, ctx) {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    let role_account = role_arn.split(':').nth(4).unwrap_or("");
    let same_account = caller.is_none_or(|c| c.account == role_account);
    let mut identity_ctx = ctx.clone();
    identity_ctx.resource = role_arn.to_string();
    let identity_eval = Evaluation {
        resource: None,
        ..*caller_identity
    };
    let identity = decide(&identity_eval, &identity_ctx);
    if identity.decision == Decision::ExplicitDeny {
        return identity;
    }
    let needs_identity = !same_account || how == PrincipalMatch::Account;
    let needs_boundary_and_session = how == PrincipalMatch::Role;
    let ok = if needs_identity {
        identity.is_allowed()
    } else if needs_boundary_and_session {
        // The trust named the caller's role: only its boundary and session policies limit it.
        let limits = Evaluation {
            identity: &[],
            resource: None,
            ..*caller_identity
        };
        let pb_sp = decide_limits(&limits, &identity_ctx);
        pb_sp.is_none()
    } else {
        true
    };
    if ok {
        let mut matched = vec![trust_statement];
        matched.extend(identity.matched);
        Outcome {
            decision: Decision::Allow,
            matched,
            missing_allow: None,
        }
    } else {
        Outcome {
            decision: Decision::ImplicitDeny,
            matched: vec![],
            missing_allow: identity.missing_allow.or(Some(PolicyKind::Identity)),
        }
    }
}

/// Authorizes a caller that holds no policies of its own (a web identity, for the OIDC
/// provider as principal; the pod identity endpoint, as the service `pods.eks.amazonaws.com`):
/// the role's trust policy alone decides.
pub fn authorize_by_trust(
    trust: &CompiledPolicy,
    role_arn: &str,
    provider: &Principal,
    ctx: &RequestContext,
) -> Outcome {
    match trusted(trust, role_arn, Some(provider), ctx) {
        Ok((statement, _)) => Outcome {
            decision: Decision::Allow,
            matched: vec![statement],
            missing_allow: None,
        },
        Err(refusal) => refusal,
    }
}

/// The trust policy's answer for `caller`: its most specific Allow (and how it named the
/// caller), or the refusal (an explicit Deny, or no Allow).
fn trusted(
    trust: &CompiledPolicy,
    role_arn: &str,
    caller: Option<&Principal>,
    ctx: &RequestContext,
) -> Result<(MatchedStatement, PrincipalMatch), Outcome> {
    let mut trust_ctx = ctx.clone();
    trust_ctx.resource = role_arn.to_string();
    // The trust policy is read without the caller's boundary (not known here).
    let req = Request {
        ctx: &trust_ctx,
        action_lower: trust_ctx.action.to_lowercase(),
        bounded: false,
    };
    let mut allow: Option<(MatchedStatement, PrincipalMatch)> = None;
    let mut denies = Vec::new();
    for (s, how) in trust.applicable(&req, caller, None) {
        match s.effect {
            Effect::Deny => denies.push(trust.matched(s)),
            Effect::Allow => {
                let how = how.unwrap_or(PrincipalMatch::Any);
                if allow.as_ref().is_none_or(|(_, best)| how < *best) {
                    allow = Some((trust.matched(s), how));
                }
            }
        }
    }
    if !denies.is_empty() {
        return Err(Outcome {
            decision: Decision::ExplicitDeny,
            matched: denies,
            missing_allow: None,
        });
    }
    allow.ok_or(Outcome {
        decision: Decision::ImplicitDeny,
        matched: vec![],
        missing_allow: Some(PolicyKind::Trust),
    })
}

/// Which limiting policy (boundary, session) lacks an allow, if any.
fn decide_limits(eval: &Evaluation<'_>, ctx: &RequestContext) -> Option<PolicyKind> {
    let req = Request {
        ctx,
        action_lower: ctx.action.to_lowercase(),
        bounded: eval.boundary.is_some(),
    };
    let has_allow = |p: &CompiledPolicy| {
        p.applicable(&req, eval.principal, Some(Effect::Allow))
            .next()
            .is_some()
    };
    if eval.boundary.is_some_and(|b| !has_allow(b)) {
        return Some(PolicyKind::Boundary);
    }
    if eval
        .session
        .is_some_and(|s| !s.iter().any(|p| has_allow(p)))
    {
        return Some(PolicyKind::Session);
    }
    None
}

#[cfg(test)]
mod tests;
