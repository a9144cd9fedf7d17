//! Property tests of the policy engine: a Deny on everything never allows; adding an Allow
//! statement never turns an Allow into a Deny; the parser never panics.

use proptest::prelude::*;
use stsgate::policy::{
    CompiledPolicy, Decision, Evaluation, PolicyDocument, PolicyKind, Principal, PrincipalKind,
    RequestContext, decide,
};

fn action() -> impl Strategy<Value = String> {
    ("[a-z0-9]{1,6}", "[A-Za-z]{1,12}").prop_map(|(s, a)| format!("{s}:{a}"))
}

fn pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_string()),
        action(),
        ("[a-z0-9]{1,4}", "[A-Za-z*?]{1,6}").prop_map(|(s, a)| format!("{s}:{a}"))
    ]
}

fn resource() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_string()),
        "[a-z0-9/*?-]{0,12}".prop_map(|k| format!("arn:aws:s3:::{k}"))
    ]
}

fn statement() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        any::<bool>(),
        pattern(),
        resource(),
        prop::option::of(("[a-z]{1,5}", "[a-z*]{0,5}")),
    )
        .prop_map(|(allow, not_action, a, r, cond)| {
            let effect = if allow { "Allow" } else { "Deny" };
            let action_key = if not_action { "NotAction" } else { "Action" };
            let condition = cond
                .map(|(k, v)| format!(r#","Condition":{{"StringLike":{{"test:{k}":"{v}"}}}}"#))
                .unwrap_or_default();
            format!(r#"{{"Effect":"{effect}","{action_key}":"{a}","Resource":"{r}"{condition}}}"#)
        })
}

fn policy(statements: &[String]) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        statements.join(",")
    )
}

fn principal() -> Principal {
    Principal {
        arn: "arn:aws:iam::111122223333:user/u".into(),
        account: "111122223333".into(),
        unique_id: "AIDAU".into(),
        kind: PrincipalKind::User,
    }
}

fn context(action: &str, res: &str, keys: &[(String, String)]) -> RequestContext {
    let mut c = RequestContext::new(action, res);
    for (k, v) in keys {
        c.set(format!("test:{k}"), v.clone());
    }
    c
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn deny_everything_never_allows(stmts in prop::collection::vec(statement(), 0..6), a in action(), r in resource(), keys in prop::collection::vec(("[a-z]{1,5}", "[a-z]{0,5}"), 0..3)) {
        let mut all = stmts.clone();
        all.push(r#"{"Effect":"Deny","Action":"*","Resource":"*"}"#.to_string());
        let p = CompiledPolicy::parse("p", &policy(&all), PolicyKind::Identity).unwrap();
        let who = principal();
        let out = decide(&Evaluation { identity: &[&p], principal: Some(&who), ..Default::default() }, &context(&a, &r, &keys));
        prop_assert_eq!(out.decision, Decision::ExplicitDeny);
    }

    #[test]
    fn adding_an_allow_never_removes_an_allow(stmts in prop::collection::vec(statement(), 1..6), extra in statement(), a in action(), r in resource(), keys in prop::collection::vec(("[a-z]{1,5}", "[a-z]{0,5}"), 0..3)) {
        let extra_is_allow = extra.contains(r#""Effect":"Allow""#);
        prop_assume!(extra_is_allow);
        let before = CompiledPolicy::parse("p", &policy(&stmts), PolicyKind::Identity).unwrap();
        let mut more = stmts.clone();
        more.push(extra);
        let after = CompiledPolicy::parse("p", &policy(&more), PolicyKind::Identity).unwrap();
        let who = principal();
        let ctx = context(&a, &r, &keys);
        let d1 = decide(&Evaluation { identity: &[&before], principal: Some(&who), ..Default::default() }, &ctx);
        let d2 = decide(&Evaluation { identity: &[&after], principal: Some(&who), ..Default::default() }, &ctx);
        if d1.decision == Decision::Allow {
            prop_assert_eq!(d2.decision, Decision::Allow);
        }
        if d1.decision == Decision::ExplicitDeny {
            prop_assert_eq!(d2.decision, Decision::ExplicitDeny);
        }
    }

    #[test]
    fn the_parser_never_panics(text in "\\PC{0,300}", stmts in prop::collection::vec(statement(), 0..4)) {
        for kind in [PolicyKind::Identity, PolicyKind::Resource, PolicyKind::Trust, PolicyKind::Session, PolicyKind::Boundary] {
            let _ = PolicyDocument::parse(&text, kind);
            let _ = CompiledPolicy::parse("p", &policy(&stmts), kind);
            // Structured but mangled: truncate a valid document anywhere.
            let valid = policy(&stmts);
            for cut in (0..valid.len()).step_by(7) {
                if valid.is_char_boundary(cut) {
                    let _ = PolicyDocument::parse(&valid[..cut], kind);
                }
            }
        }
    }
}
