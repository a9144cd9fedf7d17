//! Decision tests: the seed scenarios, session/boundary intersection, explicit deny, revocation
//! by token issue time, resource policies, and AssumeRole trust evaluation.

use super::*;

fn policy(name: &str, kind: PolicyKind, text: &str) -> CompiledPolicy {
    CompiledPolicy::parse(name, text, kind).unwrap_or_else(|e| panic!("{name}: {e}"))
}

const S3_READ_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"*"}]}"#;

fn role_session() -> Principal {
    Principal {
        arn: "arn:aws:sts::111122223333:assumed-role/s3_role/alice".into(),
        account: "111122223333".into(),
        unique_id: "AROAEXAMPLEROLEID0001".into(),
        kind: PrincipalKind::AssumedRole {
            role_arn: "arn:aws:iam::111122223333:role/s3_role".into(),
        },
    }
}

fn user(name: &str) -> Principal {
    Principal {
        arn: format!("arn:aws:iam::111122223333:user/{name}"),
        account: "111122223333".into(),
        unique_id: format!("AIDA{}", name.to_uppercase()),
        kind: PrincipalKind::User,
    }
}

fn ctx(action: &str, resource: &str) -> RequestContext {
    RequestContext::new(action, resource)
}

#[test]
fn seed_session_policy_narrows_the_role() {
    let role = policy("S3ReadOnly", PolicyKind::Identity, S3_READ_ONLY);
    let session = policy(
        "session",
        PolicyKind::Session,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}}"#,
    );
    let p = role_session();
    let eval = Evaluation {
        identity: &[&role],
        session: Some(&[&session]),
        principal: Some(&p),
        ..Default::default()
    };
    assert!(decide(&eval, &ctx("s3:ListBucket", "arn:aws:s3:::demo-bucket")).is_allowed());
    let get = decide(&eval, &ctx("s3:GetObject", "arn:aws:s3:::demo-bucket/key"));
    assert_eq!(get.decision, Decision::ImplicitDeny);
    assert_eq!(get.missing_allow, Some(PolicyKind::Session));
    assert_eq!(
        get.reason("s3:GetObject"),
        "because no session policy allows the s3:GetObject action"
    );
}

#[test]
fn seed_session_policy_never_widens_the_role() {
    let role = policy(
        "ListOnly",
        PolicyKind::Identity,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}}"#,
    );
    let session = policy(
        "session",
        PolicyKind::Session,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}}"#,
    );
    let p = role_session();
    let eval = Evaluation {
        identity: &[&role],
        session: Some(&[&session]),
        principal: Some(&p),
        ..Default::default()
    };
    let out = decide(&eval, &ctx("s3:GetObject", "arn:aws:s3:::b/k"));
    assert_eq!(out.decision, Decision::ImplicitDeny);
    assert_eq!(
        out.reason("s3:GetObject"),
        "because no identity-based policy allows the s3:GetObject action"
    );
    // Without session policies a role session gets the role's permissions.
    let eval = Evaluation {
        identity: &[&role],
        principal: Some(&p),
        ..Default::default()
    };
    assert!(decide(&eval, &ctx("s3:ListBucket", "arn:aws:s3:::b")).is_allowed());
}

#[test]
fn seed_explicit_deny_in_session_policy() {
    let role = policy("S3ReadOnly", PolicyKind::Identity, S3_READ_ONLY);
    let session = policy(
        "session",
        PolicyKind::Session,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"NoSecrets","Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/secret/*"}]}"#,
    );
    let p = role_session();
    let eval = Evaluation {
        identity: &[&role],
        session: Some(&[&session]),
        principal: Some(&p),
        ..Default::default()
    };
    let out = decide(&eval, &ctx("s3:GetObject", "arn:aws:s3:::b/secret/x"));
    assert_eq!(out.decision, Decision::ExplicitDeny);
    assert_eq!(out.matched[0].sid.as_deref(), Some("NoSecrets"));
    assert_eq!(
        out.reason("s3:GetObject"),
        "with an explicit deny in a session policy"
    );
    assert!(decide(&eval, &ctx("s3:GetObject", "arn:aws:s3:::b/public/x")).is_allowed());
}

#[test]
fn seed_revoke_older_sessions() {
    let role = policy("S3ReadOnly", PolicyKind::Identity, S3_READ_ONLY);
    let revoke = policy(
        "AWSRevokeOlderSessions",
        PolicyKind::Identity,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-03-01T11:45:00Z"}}}]}"#,
    );
    let p = role_session();
    let eval = Evaluation {
        identity: &[&role, &revoke],
        principal: Some(&p),
        ..Default::default()
    };
    let mut old = ctx("s3:GetObject", "arn:aws:s3:::b/k");
    old.set("aws:TokenIssueTime", "2026-03-01T11:30:00Z");
    let out = decide(&eval, &old);
    assert_eq!(out.decision, Decision::ExplicitDeny);
    assert_eq!(&*out.matched[0].policy, "AWSRevokeOlderSessions");
    let mut fresh = ctx("s3:GetObject", "arn:aws:s3:::b/k");
    fresh.set("aws:TokenIssueTime", "2026-03-01T11:50:00Z");
    assert!(decide(&eval, &fresh).is_allowed());
    // Long-term keys carry no aws:TokenIssueTime: the deny does not apply.
    let u = user("develop");
    let eval = Evaluation {
        identity: &[&role, &revoke],
        principal: Some(&u),
        ..Default::default()
    };
    assert!(decide(&eval, &ctx("s3:GetObject", "arn:aws:s3:::b/k")).is_allowed());
}

#[test]
fn boundary_limits_identity() {
    let id = policy(
        "all-s3",
        PolicyKind::Identity,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
    );
    let pb = policy(
        "boundary",
        PolicyKind::Boundary,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
    );
    let u = user("develop");
    let eval = Evaluation {
        identity: &[&id],
        boundary: Some(&pb),
        principal: Some(&u),
        ..Default::default()
    };
    assert!(decide(&eval, &ctx("s3:GetObject", "arn:aws:s3:::b/k")).is_allowed());
    let put = decide(&eval, &ctx("s3:PutObject", "arn:aws:s3:::b/k"));
    assert_eq!(
        (put.decision, put.missing_allow),
        (Decision::ImplicitDeny, Some(PolicyKind::Boundary))
    );
}

#[test]
fn no_policy_means_implicit_deny() {
    let u = user("no_skill");
    let out = decide(
        &Evaluation {
            principal: Some(&u),
            ..Default::default()
        },
        &ctx("s3:GetObject", "arn:aws:s3:::b/k"),
    );
    assert_eq!(
        (out.decision, out.missing_allow),
        (Decision::ImplicitDeny, Some(PolicyKind::Identity))
    );
}

#[test]
fn actions_fold_case_resources_do_not() {
    let id = policy(
        "p",
        PolicyKind::Identity,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"S3:getobject","Resource":"arn:aws:s3:::Bucket/Key"}}"#,
    );
    let u = user("u");
    let eval = Evaluation {
        identity: &[&id],
        principal: Some(&u),
        ..Default::default()
    };
    assert!(decide(&eval, &ctx("s3:GetObject", "arn:aws:s3:::Bucket/Key")).is_allowed());
    assert!(!decide(&eval, &ctx("s3:GetObject", "arn:aws:s3:::bucket/key")).is_allowed());
}

#[test]
fn not_action_and_not_resource() {
    let id = policy(
        "p",
        PolicyKind::Identity,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"},{"Effect":"Deny","Action":"s3:*","NotResource":["arn:aws:s3:::ok","arn:aws:s3:::ok/*"]}]}"#,
    );
    let u = user("u");
    let eval = Evaluation {
        identity: &[&id],
        principal: Some(&u),
        ..Default::default()
    };
    assert!(decide(&eval, &ctx("s3:GetObject", "arn:aws:s3:::ok/x")).is_allowed());
    assert_eq!(
        decide(&eval, &ctx("s3:GetObject", "arn:aws:s3:::other/x")).decision,
        Decision::ExplicitDeny
    );
    assert_eq!(
        decide(&eval, &ctx("iam:CreateUser", "*")).decision,
        Decision::ImplicitDeny
    );
    assert!(decide(&eval, &ctx("ec2:DescribeInstances", "*")).is_allowed());
}

#[test]
fn policy_variables_confine_a_user_to_a_folder() {
    let id = policy(
        "home",
        PolicyKind::Identity,
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::home","Condition":{"StringLike":{"s3:prefix":["${aws:username}/*","${aws:username}/"]}}},
            {"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::home/${aws:username}/*"}]}"#,
    );
    let u = user("bob");
    let eval = Evaluation {
        identity: &[&id],
        principal: Some(&u),
        ..Default::default()
    };
    let mut c = ctx("s3:PutObject", "arn:aws:s3:::home/bob/notes.txt");
    c.set("aws:username", "bob");
    assert!(decide(&eval, &c).is_allowed());
    c.resource = "arn:aws:s3:::home/alice/notes.txt".into();
    assert!(!decide(&eval, &c).is_allowed());
    let mut list = ctx("s3:ListBucket", "arn:aws:s3:::home");
    list.set("aws:username", "bob").set("s3:prefix", "bob/");
    assert!(decide(&eval, &list).is_allowed());
    list.set("s3:prefix", "alice/");
    assert!(!decide(&eval, &list).is_allowed());
    list.remove("s3:prefix");
    assert!(
        !decide(&eval, &list).is_allowed(),
        "listing the whole bucket is not allowed"
    );
}

#[test]
fn resource_policy_grants() {
    let bucket = policy(
        "bucket-policy",
        PolicyKind::Resource,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*"}]}"#,
    );
    let alice = user("alice");
    let eval = Evaluation {
        resource: Some(&bucket),
        principal: Some(&alice),
        ..Default::default()
    };
    assert!(
        decide(&eval, &ctx("s3:GetObject", "arn:aws:s3:::shared/x")).is_allowed(),
        "same-account user named directly needs no identity policy"
    );
    let bob = user("bob");
    let eval = Evaluation {
        resource: Some(&bucket),
        principal: Some(&bob),
        ..Default::default()
    };
    assert!(!decide(&eval, &ctx("s3:GetObject", "arn:aws:s3:::shared/x")).is_allowed());
}

// ---- AssumeRole ----

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"Develop","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/develop"},"Action":"sts:AssumeRole"},
  {"Sid":"NoSkillWithMfa","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/no_skill"},"Action":"sts:AssumeRole",
   "Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}"#;
const ROLE: &str = "arn:aws:iam::111122223333:role/s3_role";

fn assume(
    trust: &CompiledPolicy,
    caller: &Principal,
    identity: &[&CompiledPolicy],
    mfa: bool,
) -> Outcome {
    let eval = Evaluation {
        identity,
        principal: Some(caller),
        ..Default::default()
    };
    let mut c = ctx("sts:AssumeRole", ROLE);
    if mfa {
        c.set("aws:MultiFactorAuthPresent", "true");
    }
    authorize_assume_role(trust, ROLE, &eval, &c)
}

#[test]
fn trust_names_the_user_directly() {
    let trust = policy("trust", PolicyKind::Trust, TRUST);
    // develop is named: allowed even without an identity policy of its own (same account).
    assert!(assume(&trust, &user("develop"), &[], false).is_allowed());
    // no_skill only with MFA.
    let no_mfa = assume(&trust, &user("no_skill"), &[], false);
    assert_eq!(
        (no_mfa.decision, no_mfa.missing_allow),
        (Decision::ImplicitDeny, Some(PolicyKind::Trust))
    );
    assert!(assume(&trust, &user("no_skill"), &[], true).is_allowed());
    // Anyone else is refused, whatever their identity policy says.
    let admin = policy(
        "admin",
        PolicyKind::Identity,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
    );
    let out = assume(&trust, &user("auditor"), &[&admin], true);
    assert_eq!(
        (out.decision, out.missing_allow),
        (Decision::ImplicitDeny, Some(PolicyKind::Trust))
    );
}

#[test]
fn trust_of_the_account_root_delegates_to_identity_policies() {
    let trust = policy(
        "trust",
        PolicyKind::Trust,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}}"#,
    );
    let out = assume(&trust, &user("develop"), &[], false);
    assert_eq!(
        (out.decision, out.missing_allow),
        (Decision::ImplicitDeny, Some(PolicyKind::Identity))
    );
    let can = policy(
        "can-assume",
        PolicyKind::Identity,
        &format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"{ROLE}"}}}}"#
        ),
    );
    assert!(assume(&trust, &user("develop"), &[&can], false).is_allowed());
    // Another account's principal is not the account.
    let mut other = user("develop");
    other.account = "444455556666".into();
    other.arn = "arn:aws:iam::444455556666:user/develop".into();
    assert!(!assume(&trust, &other, &[&can], false).is_allowed());
}

#[test]
fn explicit_deny_in_trust_or_identity_wins() {
    let trust = policy(
        "trust",
        PolicyKind::Trust,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"},{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/develop"},"Action":"sts:AssumeRole"}]}"#,
    );
    assert_eq!(
        assume(&trust, &user("develop"), &[], false).decision,
        Decision::ExplicitDeny
    );
    assert!(assume(&trust, &user("other"), &[], false).is_allowed());
    let deny = policy(
        "deny",
        PolicyKind::Identity,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"sts:*","Resource":"*"}}"#,
    );
    assert_eq!(
        assume(&trust, &user("other"), &[&deny], false).decision,
        Decision::ExplicitDeny
    );
}

#[test]
fn root_may_not_assume_roles() {
    let trust = policy(
        "trust",
        PolicyKind::Trust,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}}"#,
    );
    let root = Principal {
        arn: "arn:aws:iam::111122223333:root".into(),
        account: "111122223333".into(),
        unique_id: "111122223333".into(),
        kind: PrincipalKind::Root,
    };
    assert!(!assume(&trust, &root, &[], false).is_allowed());
}

#[test]
fn bad_condition_values_fail_compilation_with_the_statement() {
    let e = CompiledPolicy::parse("p", r#"{"Statement":[{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericLessThan":{"s3:max-keys":"ten"}}}]}"#, PolicyKind::Identity).unwrap_err();
    assert_eq!(e.statement, Some(1));
    assert!(e.to_string().contains("Statement 1 (Sid \"A\"): Condition NumericLessThan s3:max-keys: \"ten\" is not a number"), "{e}");
}

/// Bucket ownership (`aws:ResourceAccount`) × identity allow/deny × bucket policy
/// allow/deny/none × session policy × boundary, for a role session of account A
/// (111122223333) on a bucket owned by A or by B (444455556666): AWS's same-account (either
/// side may allow) and cross-account (both must) rules, explicit deny anywhere winning, and the
/// caller side still narrowed by session policies and boundaries.
#[test]
fn bucket_owner_table() {
    const ALLOW_ALL: &str =
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#;
    const DENY_GET: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"s3:GetObject","Resource":"*"}}"#;
    const LIST_ONLY: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}}"#;
    let bucket = |effect: &str, principal: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"{effect}","Principal":{{"AWS":"{principal}"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}}}"#
        )
    };
    const ROLE: &str = "arn:aws:iam::111122223333:role/s3_role";
    const SESSION: &str = "arn:aws:sts::111122223333:assumed-role/s3_role/alice";
    #[derive(Clone, Copy)]
    enum Id {
        None,
        Allow,
        Deny,
    }
    // (owner, identity, bucket policy (effect, principal), session policy, boundary) → decision, missing
    type Row = (
        &'static str,
        Id,
        Option<(&'static str, &'static str)>,
        Option<&'static str>,
        Option<&'static str>,
        Decision,
        Option<PolicyKind>,
    );
    let a = "111122223333";
    let b = "444455556666";
    use Decision::*;
    let rows: Vec<Row> = vec![
        // Same account: identity alone, bucket policy alone, neither.
        (a, Id::Allow, None, None, None, Allow, None),
        (a, Id::None, Some(("Allow", ROLE)), None, None, Allow, None),
        (
            a,
            Id::None,
            Some(("Allow", SESSION)),
            None,
            None,
            Allow,
            None,
        ),
        (
            a,
            Id::None,
            None,
            None,
            None,
            ImplicitDeny,
            Some(PolicyKind::Identity),
        ),
        // Same account, account-root principal: delegates to IAM, identity must allow.
        (
            a,
            Id::None,
            Some(("Allow", a)),
            None,
            None,
            ImplicitDeny,
            None,
        ),
        (a, Id::Allow, Some(("Allow", a)), None, None, Allow, None),
        // Explicit deny on either side wins.
        (
            a,
            Id::Allow,
            Some(("Deny", "*")),
            None,
            None,
            ExplicitDeny,
            None,
        ),
        (
            a,
            Id::Deny,
            Some(("Allow", SESSION)),
            None,
            None,
            ExplicitDeny,
            None,
        ),
        // Session policy and boundary narrow a grant made to the role (not to the session).
        (
            a,
            Id::None,
            Some(("Allow", ROLE)),
            Some(LIST_ONLY),
            None,
            ImplicitDeny,
            Some(PolicyKind::Session),
        ),
        (
            a,
            Id::None,
            Some(("Allow", SESSION)),
            Some(LIST_ONLY),
            None,
            Allow,
            None,
        ),
        (
            a,
            Id::Allow,
            None,
            None,
            Some(LIST_ONLY),
            ImplicitDeny,
            Some(PolicyKind::Boundary),
        ),
        (
            a,
            Id::Allow,
            None,
            Some(ALLOW_ALL),
            Some(ALLOW_ALL),
            Allow,
            None,
        ),
        // Cross account: both sides must allow.
        (
            b,
            Id::Allow,
            None,
            None,
            None,
            ImplicitDeny,
            Some(PolicyKind::Resource),
        ),
        (
            b,
            Id::None,
            Some(("Allow", ROLE)),
            None,
            None,
            ImplicitDeny,
            Some(PolicyKind::Identity),
        ),
        (b, Id::Allow, Some(("Allow", ROLE)), None, None, Allow, None),
        (b, Id::Allow, Some(("Allow", a)), None, None, Allow, None),
        (b, Id::Allow, Some(("Allow", "*")), None, None, Allow, None),
        (
            b,
            Id::Allow,
            Some(("Allow", "arn:aws:iam::444455556666:root")),
            None,
            None,
            ImplicitDeny,
            Some(PolicyKind::Resource),
        ),
        (
            b,
            Id::Allow,
            Some(("Deny", ROLE)),
            None,
            None,
            ExplicitDeny,
            None,
        ),
        (
            b,
            Id::Deny,
            Some(("Allow", ROLE)),
            None,
            None,
            ExplicitDeny,
            None,
        ),
        (
            b,
            Id::Allow,
            Some(("Allow", ROLE)),
            Some(LIST_ONLY),
            None,
            ImplicitDeny,
            Some(PolicyKind::Session),
        ),
        (
            b,
            Id::Allow,
            Some(("Allow", ROLE)),
            None,
            Some(LIST_ONLY),
            ImplicitDeny,
            Some(PolicyKind::Boundary),
        ),
        (
            b,
            Id::Allow,
            Some(("Allow", SESSION)),
            Some(ALLOW_ALL),
            Some(ALLOW_ALL),
            Allow,
            None,
        ),
    ];
    let p = role_session();
    for (i, (owner, id, bp, sp, pb, want, missing)) in rows.into_iter().enumerate() {
        let identity = match id {
            Id::None => None,
            Id::Allow => Some(policy("id", PolicyKind::Identity, ALLOW_ALL)),
            Id::Deny => Some(policy("id", PolicyKind::Identity, DENY_GET)),
        };
        // A deny-only identity still needs an allow from somewhere: give it s3:* too.
        let extra = matches!(id, Id::Deny).then(|| policy("id2", PolicyKind::Identity, ALLOW_ALL));
        let identity_refs: Vec<&CompiledPolicy> = identity.iter().chain(extra.iter()).collect();
        let resource = bp.map(|(e, who)| policy("bucket", PolicyKind::Resource, &bucket(e, who)));
        let session = sp.map(|t| policy("session", PolicyKind::Session, t));
        let session_refs: Vec<&CompiledPolicy> = session.iter().collect();
        let boundary = pb.map(|t| policy("boundary", PolicyKind::Boundary, t));
        let eval = Evaluation {
            identity: &identity_refs,
            boundary: boundary.as_ref(),
            session: session.as_ref().map(|_| &session_refs[..]),
            resource: resource.as_ref(),
            principal: Some(&p),
        };
        let mut c = ctx("s3:GetObject", "arn:aws:s3:::b/key");
        c.set("aws:ResourceAccount", owner);
        let got = decide(&eval, &c);
        assert_eq!(got.decision, want, "row {i}: {got:?}");
        if want == ImplicitDeny && missing.is_some() {
            assert_eq!(got.missing_allow, missing, "row {i}: {got:?}");
        }
    }
}

#[test]
fn anonymous_needs_a_grant_to_everyone() {
    let public = policy(
        "bucket",
        PolicyKind::Resource,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#,
    );
    let named = policy(
        "bucket",
        PolicyKind::Resource,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#,
    );
    let anon = Principal::anonymous();
    let mut c = ctx("s3:GetObject", "arn:aws:s3:::b/key");
    c.set("aws:ResourceAccount", "111122223333");
    let with = |r: Option<&CompiledPolicy>, c: &RequestContext| {
        decide(
            &Evaluation {
                resource: r,
                principal: Some(&anon),
                ..Default::default()
            },
            c,
        )
    };
    assert!(with(Some(&public), &c).is_allowed());
    assert_eq!(with(Some(&named), &c).decision, Decision::ImplicitDeny);
    assert_eq!(with(None, &c).decision, Decision::ImplicitDeny);
    assert_eq!(
        with(Some(&public), &ctx("s3:PutObject", "arn:aws:s3:::b/key")).decision,
        Decision::ImplicitDeny
    );
}

/// Permissions boundaries against bucket policies, same account (issue: a NotPrincipal Deny
/// always denies a bounded principal; a same-account grant to an IAM user, by ARN or to "*", is
/// not limited by the user's boundary, nor one to a session's own ARN or to "*"): {user, role session} × {boundary allows, boundary
/// silent} × {bucket policy names the caller, the role, the account, "*", a NotPrincipal Deny
/// naming the caller}, with the identity side allowing and with it silent.
#[test]
fn boundary_and_bucket_policy_table() {
    const ALLOW_ALL: &str =
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#;
    const LIST_ONLY: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}}"#;
    const ROLE: &str = "arn:aws:iam::111122223333:role/s3_role";
    const ACCOUNT: &str = "arn:aws:iam::111122223333:root";
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Names {
        Caller,
        Role,
        Account,
        Everyone,
        NotPrincipalDeny,
    }
    let bucket = |names: Names, caller: &str| {
        let (effect, element, who) = match names {
            Names::Caller => ("Allow", "Principal", caller.to_string()),
            Names::Role => ("Allow", "Principal", ROLE.to_string()),
            Names::Account => ("Allow", "Principal", ACCOUNT.to_string()),
            Names::Everyone => ("Allow", "Principal", "*".to_string()),
            Names::NotPrincipalDeny => ("Deny", "NotPrincipal", caller.to_string()),
        };
        let who = if who == "*" {
            "\"*\"".to_string()
        } else {
            format!(r#"{{"AWS":"{who}"}}"#)
        };
        policy(
            "bucket",
            PolicyKind::Resource,
            &format!(
                r#"{{"Version":"2012-10-17","Statement":{{"Effect":"{effect}","{element}":{who},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}}}"#
            ),
        )
    };
    use Decision::*;
    use Names::*;
    // (caller is a user, boundary allows, identity allows, bucket policy) → decision
    let rows: &[(bool, bool, bool, Names, Decision)] = &[
        // IAM user: a grant naming it or "*" is not limited by the boundary.
        (true, true, true, Caller, Allow),
        (true, false, true, Caller, Allow),
        (true, false, false, Caller, Allow),
        (true, true, true, Everyone, Allow),
        (true, false, true, Everyone, Allow),
        (true, false, false, Everyone, Allow),
        // A role ARN does not name a user: identity ∩ boundary decides.
        (true, true, true, Role, Allow),
        (true, false, true, Role, ImplicitDeny),
        // The account delegates to the identity policies, still bounded.
        (true, true, true, Account, Allow),
        (true, false, true, Account, ImplicitDeny),
        (true, true, false, Account, ImplicitDeny),
        // NotPrincipal Deny: a bounded principal is denied whatever NotPrincipal names.
        (true, true, true, NotPrincipalDeny, ExplicitDeny),
        (true, false, true, NotPrincipalDeny, ExplicitDeny),
        // Role session: only a grant to the session itself escapes the boundary.
        (false, true, true, Caller, Allow),
        (false, false, true, Caller, Allow),
        (false, false, false, Caller, Allow),
        (false, true, true, Role, Allow),
        (false, true, false, Role, Allow),
        (false, false, true, Role, ImplicitDeny),
        (false, false, false, Role, ImplicitDeny),
        (false, true, true, Account, Allow),
        (false, false, true, Account, ImplicitDeny),
        (false, true, false, Account, ImplicitDeny),
        // "*" matches the session itself: as direct as naming it.
        (false, true, true, Everyone, Allow),
        (false, false, true, Everyone, Allow),
        (false, false, false, Everyone, Allow),
        (false, true, true, NotPrincipalDeny, ExplicitDeny),
        (false, false, true, NotPrincipalDeny, ExplicitDeny),
    ];
    for (i, &(is_user, boundary_allows, identity_allows, names, want)) in rows.iter().enumerate() {
        let p = if is_user {
            user("alice")
        } else {
            role_session()
        };
        let identity = identity_allows.then(|| policy("id", PolicyKind::Identity, ALLOW_ALL));
        let identity_refs: Vec<&CompiledPolicy> = identity.iter().collect();
        let boundary = policy(
            "boundary",
            PolicyKind::Boundary,
            if boundary_allows {
                ALLOW_ALL
            } else {
                LIST_ONLY
            },
        );
        let resource = bucket(names, &p.arn);
        let eval = Evaluation {
            identity: &identity_refs,
            boundary: Some(&boundary),
            resource: Some(&resource),
            principal: Some(&p),
            ..Default::default()
        };
        let mut c = ctx("s3:GetObject", "arn:aws:s3:::b/key");
        c.set("aws:ResourceAccount", "111122223333");
        let got = decide(&eval, &c);
        assert_eq!(
            got.decision, want,
            "row {i} (user {is_user}, boundary allows {boundary_allows}, identity allows {identity_allows}, {names:?}): {got:?}"
        );
        // Without a boundary, the NotPrincipal Deny naming the caller leaves it alone.
        if names == NotPrincipalDeny {
            let unbounded = Evaluation {
                boundary: None,
                ..eval
            };
            assert_eq!(
                decide(&unbounded, &c).decision,
                if identity_allows { Allow } else { ImplicitDeny },
                "row {i} unbounded"
            );
        }
    }
}
