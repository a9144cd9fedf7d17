use super::*;

fn parse(text: &str, kind: PolicyKind) -> Result<PolicyDocument, PolicyError> {
    PolicyDocument::parse(text, kind)
}

fn err(text: &str, kind: PolicyKind) -> String {
    parse(text, kind).unwrap_err().to_string()
}

#[test]
fn statement_as_object_or_array_is_the_same() {
    let one = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#;
    let many = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["*"]}]}"#;
    assert_eq!(
        parse(one, PolicyKind::Identity).unwrap(),
        parse(many, PolicyKind::Identity).unwrap()
    );
}

#[test]
fn missing_version_means_2008() {
    let doc = parse(
        r#"{"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}"#,
        PolicyKind::Session,
    )
    .unwrap();
    assert_eq!(doc.version, Version::V2008_10_17);
    assert_eq!(doc.statements[0].effect, Effect::Deny);
}

#[test]
fn invalid_json_reports_line_and_column() {
    let e = parse(
        "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n}",
        PolicyKind::Identity,
    )
    .unwrap_err();
    assert!(
        e.message.starts_with("This policy contains invalid Json"),
        "{e}"
    );
    assert_eq!(e.position.map(|p| p.0), Some(4));
}

#[test]
fn duplicate_field_is_refused() {
    let e = err(
        r#"{"Statement":{"Effect":"Allow","Effect":"Deny","Action":"*","Resource":"*"}}"#,
        PolicyKind::Identity,
    );
    assert!(e.contains("duplicate key \"Effect\""), "{e}");
}

#[test]
fn errors_name_the_statement_and_sid() {
    let e = err(
        r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"Second","Effect":"allow","Action":"*","Resource":"*"}]}"#,
        PolicyKind::Identity,
    );
    assert_eq!(
        e,
        "Statement 2 (Sid \"Second\"): Effect must be \"Allow\" or \"Deny\", not \"allow\""
    );
}

#[test]
fn principal_is_forbidden_in_identity_and_session_policies() {
    let doc = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}"#;
    assert!(
        err(doc, PolicyKind::Identity)
            .contains("Principal is not allowed in identity-based policies")
    );
    assert!(err(doc, PolicyKind::Session).contains("not allowed in session policies"));
    assert!(
        err(doc, PolicyKind::Boundary).contains("not allowed in permissions boundary policies")
    );
    assert!(parse(doc, PolicyKind::Resource).is_ok());
}

#[test]
fn trust_policy_needs_principal_and_has_no_resource() {
    let ok = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/develop"},"Action":"sts:AssumeRole"}}"#;
    let doc = parse(ok, PolicyKind::Trust).unwrap();
    assert!(doc.statements[0].resource.is_none());
    let no_principal = r#"{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}"#;
    assert!(err(no_principal, PolicyKind::Trust).contains("Principal is missing"));
    let with_resource = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Resource":"*"}}"#;
    assert!(
        err(with_resource, PolicyKind::Trust)
            .contains("Resource is not allowed in role trust policies")
    );
    let not_principal = r#"{"Statement":{"Effect":"Allow","NotPrincipal":{"AWS":"123456789012"},"Action":"sts:AssumeRole"}}"#;
    assert!(err(not_principal, PolicyKind::Trust).contains("NotPrincipal is not allowed"));
}

#[test]
fn principal_forms() {
    for good in [
        r#""*""#,
        r#"{"AWS":"*"}"#,
        r#"{"AWS":"123456789012"}"#,
        r#"{"AWS":"arn:aws:iam::123456789012:root"}"#,
        r#"{"AWS":["arn:aws:iam::123456789012:user/path/alice","arn:aws:iam::123456789012:role/r"]}"#,
        r#"{"AWS":"arn:aws:sts::123456789012:assumed-role/r/session"}"#,
        r#"{"AWS":"AIDAJQABLZS4A3QDU576Q"}"#,
        r#"{"Service":"ec2.amazonaws.com"}"#,
        r#"{"Federated":"arn:aws:iam::123456789012:oidc-provider/example.com"}"#,
    ] {
        let doc = format!(
            r#"{{"Statement":{{"Effect":"Allow","Principal":{good},"Action":"sts:AssumeRole"}}}}"#
        );
        parse(&doc, PolicyKind::Trust).unwrap_or_else(|e| panic!("{good}: {e}"));
    }
    for (bad, needle) in [
        (
            r#"{"AWS":"arn:aws:iam::123456789012:user/*"}"#,
            "Invalid principal in policy: \"AWS\":\"arn:aws:iam::123456789012:user/*\"",
        ),
        (r#"{"AWS":"alice"}"#, "Invalid principal"),
        (r#"{"AWS":"12345"}"#, "Invalid principal"),
        (r#"{"Service":"*"}"#, "Invalid principal"),
        (r#"{"Users":"x"}"#, "type \"Users\" is unknown"),
        (r#"{}"#, "Principal must be"),
        (r#""alice""#, "Principal must be"),
    ] {
        let doc = format!(
            r#"{{"Statement":{{"Effect":"Allow","Principal":{bad},"Action":"sts:AssumeRole"}}}}"#
        );
        let e = err(&doc, PolicyKind::Trust);
        assert!(e.contains(needle), "{bad}: {e}");
    }
}

#[test]
fn action_and_resource_shapes() {
    for (stmt, needle) in [
        (
            r#"{"Effect":"Allow","Resource":"*"}"#,
            "Action or NotAction is missing",
        ),
        (
            r#"{"Effect":"Allow","Action":"*"}"#,
            "Resource or NotResource is missing",
        ),
        (
            r#"{"Effect":"Allow","Action":"*","NotAction":"s3:*","Resource":"*"}"#,
            "Action or NotAction, not both",
        ),
        (
            r#"{"Effect":"Allow","Action":[],"Resource":"*"}"#,
            "Action must not be an empty array",
        ),
        (
            r#"{"Effect":"Allow","Action":"GetObject","Resource":"*"}"#,
            "Action \"GetObject\" must be",
        ),
        (
            r#"{"Effect":"Allow","Action":[1],"Resource":"*"}"#,
            "Action entries must be strings",
        ),
        (
            r#"{"Effect":"Allow","Action":"s3:*","Resource":"bucket/*"}"#,
            "Resource \"bucket/*\" must be",
        ),
        (
            r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","Extra":1}"#,
            "unknown field \"Extra\"",
        ),
        (
            r#"{"Sid":"has space","Effect":"Allow","Action":"s3:*","Resource":"*"}"#,
            "Sid may only contain",
        ),
    ] {
        let doc = format!(r#"{{"Statement":{stmt}}}"#);
        let e = err(&doc, PolicyKind::Identity);
        assert!(e.contains(needle), "{stmt}: {e}");
    }
    let not = parse(
        r#"{"Statement":{"Effect":"Deny","NotAction":["iam:*","sts:*"],"NotResource":"arn:aws:s3:::b/*"}}"#,
        PolicyKind::Identity,
    )
    .unwrap();
    assert!(not.statements[0].action.negated);
    assert_eq!(
        not.statements[0].resource.as_ref().unwrap().patterns,
        vec!["arn:aws:s3:::b/*"]
    );
}

#[test]
fn top_level_errors() {
    assert!(err("[]", PolicyKind::Identity).contains("must be a JSON object"));
    assert!(err("{}", PolicyKind::Identity).contains("has no Statement"));
    assert!(err(r#"{"Statement":[]}"#, PolicyKind::Identity).contains("must not be empty"));
    assert!(
        err(
            r#"{"Version":"2012-10-18","Statement":[]}"#,
            PolicyKind::Identity
        )
        .contains("Version must be")
    );
    assert!(
        err(r#"{"Id":"x","Statement":[]}"#, PolicyKind::Identity).contains("Id is not allowed")
    );
    assert!(
        err(r#"{"Statements":[]}"#, PolicyKind::Identity).contains("unknown field \"Statements\"")
    );
}

#[test]
fn conditions_are_parsed_with_operators_and_string_values() {
    let doc = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*",
            "Condition":{"ForAnyValue:StringLikeIfExists":{"s3:prefix":["home/","home/${aws:username}/*"]},
                         "NumericLessThan":{"s3:max-keys":10},"Bool":{"aws:SecureTransport":true},
                         "Null":{"aws:TokenIssueTime":"false"}}}}"#,
        PolicyKind::Identity,
    )
    .unwrap();
    let c = &doc.statements[0].conditions;
    assert_eq!(c.len(), 4);
    assert_eq!(c[0].operator.to_string(), "ForAnyValue:StringLikeIfExists");
    assert_eq!(c[0].operator.set, Some(SetQualifier::ForAnyValue));
    assert!(c[0].operator.if_exists);
    assert_eq!(c[1].values, vec!["10"]);
    assert_eq!(c[2].values, vec!["true"]);
    assert_eq!(c[3].operator.base, BaseOperator::Null);
}

#[test]
fn bad_conditions() {
    for (cond, needle) in [
        (
            r#"{"StringEqual":{"a":"b"}}"#,
            "operator \"StringEqual\" is unknown",
        ),
        (
            r#"{"NullIfExists":{"a":"true"}}"#,
            "operator \"NullIfExists\" is unknown",
        ),
        (r#"{"StringEquals":"x"}"#, "must map to an object"),
        (r#"{"StringEquals":{}}"#, "has no keys"),
        (
            r#"{"StringEquals":{"a":{"b":1}}}"#,
            "values must be strings",
        ),
        (r#"{"StringEquals":{"a":[]}}"#, "values must be strings"),
        (r#"["x"]"#, "Condition must be an object"),
    ] {
        let doc = format!(
            r#"{{"Statement":{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{cond}}}}}"#
        );
        let e = err(&doc, PolicyKind::Identity);
        assert!(e.contains(needle), "{cond}: {e}");
    }
}

#[test]
fn every_operator_name_round_trips() {
    for (name, _) in BASE_OPERATORS {
        let op = ConditionOperator::parse(name).unwrap();
        assert_eq!(op.to_string(), *name);
        if *name != "Null" {
            let full = format!("ForAllValues:{name}IfExists");
            assert_eq!(ConditionOperator::parse(&full).unwrap().to_string(), full);
        }
    }
}

#[test]
fn principal_arn_forms() {
    assert_eq!(
        parse_principal_arn("arn:aws:iam::111122223333:root"),
        Some(PrincipalArn::Root {
            account: "111122223333"
        })
    );
    assert_eq!(
        parse_principal_arn("arn:aws:iam::111122223333:role/ops/admin"),
        Some(PrincipalArn::Role {
            account: "111122223333",
            path_and_name: "ops/admin"
        })
    );
    assert_eq!(
        parse_principal_arn("arn:aws:sts::111122223333:assumed-role/r/s"),
        Some(PrincipalArn::AssumedRole {
            account: "111122223333",
            role: "r",
            session: "s"
        })
    );
    assert_eq!(
        parse_principal_arn("arn:aws:iam:us-east-1:111122223333:root"),
        None
    );
    assert_eq!(parse_principal_arn("arn:aws:iam::1111:root"), None);
    assert_eq!(parse_principal_arn("arn:aws:iam::111122223333:user/"), None);
}

#[test]
fn policy_size_ignores_whitespace() {
    assert_eq!(policy_size("{ \"a\" :\n 1 }"), 7);
}
