//! Operator table tests: every operator, absent keys, `…IfExists`, multi-valued keys and the
//! set qualifiers, including AWS's truth table for negated operators under `ForAllValues` /
//! `ForAnyValue` (IAM User Guide "Multivalued context key examples").

use super::*;

/// The request side of a case.
#[derive(Clone, Copy)]
enum Req<'a> {
    Absent,
    One(&'a str),
    Many(&'a [&'a str]),
}
use Req::*;

fn eval(op: &str, policy: &[&str], req: Req<'_>) -> bool {
    let operator = ConditionOperator::parse(op).unwrap_or_else(|| panic!("operator {op}"));
    let c = Condition {
        operator,
        key: "test:Key".into(),
        values: policy.iter().map(|s| s.to_string()).collect(),
    };
    let compiled =
        CompiledCondition::compile(&c, true).unwrap_or_else(|e| panic!("{op} {policy:?}: {e}"));
    let mut ctx = RequestContext::new("s3:GetObject", "*");
    ctx.set("aws:username", "bob");
    match req {
        Absent => {}
        One(v) => {
            ctx.set("test:key", v);
        }
        Many(vs) => {
            ctx.set_multi("TEST:KEY", vs.iter().map(|s| s.to_string()).collect());
        }
    }
    compiled.evaluate(&ctx)
}

/// (operator, policy values, request, expected)
type Case = (&'static str, &'static [&'static str], Req<'static>, bool);

const CASES: &[Case] = &[
    // --- StringEquals family ---
    ("StringEquals", &["a"], One("a"), true),
    ("StringEquals", &["a"], One("A"), false),
    ("StringEquals", &["a", "b"], One("b"), true),
    ("StringEquals", &["a*"], One("abc"), false),
    ("StringEquals", &["a*"], One("a*"), true),
    ("StringEquals", &["a"], Absent, false),
    ("StringEquals", &["a"], One(""), false),
    ("StringEquals", &[""], One(""), true),
    (
        "StringEquals",
        &["home/${aws:username}"],
        One("home/bob"),
        true,
    ),
    ("StringEquals", &["home/${aws:userid}"], One("home/"), false),
    ("StringEquals", &["${aws:userid, 'x'}"], One("x"), true),
    ("StringEquals", &["a"], Many(&["a", "b"]), false),
    ("StringEquals", &["a"], Many(&["a"]), false),
    ("StringNotEquals", &["a"], One("b"), true),
    ("StringNotEquals", &["a"], One("a"), false),
    ("StringNotEquals", &["a", "b"], One("b"), false),
    ("StringNotEquals", &["a", "b"], One("c"), true),
    ("StringNotEquals", &["a"], Absent, true),
    (
        "StringNotEquals",
        &["home/${aws:userid}"],
        One("home/"),
        true,
    ),
    ("StringNotEquals", &["a"], Many(&["b", "c"]), false),
    ("StringEqualsIgnoreCase", &["AbC"], One("aBc"), true),
    ("StringEqualsIgnoreCase", &["abc"], One("abd"), false),
    ("StringEqualsIgnoreCase", &["ÄBC"], One("äbc"), true),
    ("StringEqualsIgnoreCase", &["a"], Absent, false),
    ("StringNotEqualsIgnoreCase", &["AbC"], One("abc"), false),
    ("StringNotEqualsIgnoreCase", &["AbC"], One("abd"), true),
    ("StringNotEqualsIgnoreCase", &["a"], Absent, true),
    // --- StringLike ---
    ("StringLike", &["home/*"], One("home/bob/x"), true),
    ("StringLike", &["home/*"], One("home"), false),
    ("StringLike", &["home/?"], One("home/b"), true),
    ("StringLike", &["home/?"], One("home/bo"), false),
    ("StringLike", &["*"], One(""), true),
    ("StringLike", &["Home/*"], One("home/x"), false),
    (
        "StringLike",
        &["home/${aws:username}/*"],
        One("home/bob/notes"),
        true,
    ),
    (
        "StringLike",
        &["home/${aws:username}/*"],
        One("home/alice/notes"),
        false,
    ),
    ("StringLike", &["a${*}"], One("a*"), true),
    ("StringLike", &["a${*}"], One("ab"), false),
    ("StringLike", &["x", "y*"], One("yes"), true),
    ("StringLike", &["x"], Absent, false),
    ("StringNotLike", &["home/*"], One("other"), true),
    ("StringNotLike", &["home/*"], One("home/x"), false),
    ("StringNotLike", &["a*", "b*"], One("bz"), false),
    ("StringNotLike", &["a*", "b*"], One("cz"), true),
    ("StringNotLike", &["x"], Absent, true),
    ("StringLikeIfExists", &["home/*"], Absent, true),
    ("StringLikeIfExists", &["home/*"], One("elsewhere"), false),
    ("StringLikeIfExists", &["home/*"], One("home/1"), true),
    ("StringEqualsIfExists", &["a"], Absent, true),
    ("StringEqualsIfExists", &["a"], One("b"), false),
    ("StringNotEqualsIfExists", &["a"], Absent, true),
    ("StringNotEqualsIfExists", &["a"], One("b"), true),
    ("StringNotEqualsIfExists", &["a"], One("a"), false),
    // --- Numeric ---
    ("NumericEquals", &["10"], One("10"), true),
    ("NumericEquals", &["10"], One("10.0"), true),
    ("NumericEquals", &["10"], One("11"), false),
    ("NumericEquals", &["10"], One("ten"), false),
    ("NumericEquals", &["10"], Absent, false),
    ("NumericNotEquals", &["10"], One("11"), true),
    ("NumericNotEquals", &["10"], One("10"), false),
    ("NumericNotEquals", &["10", "11"], One("11"), false),
    ("NumericNotEquals", &["10"], Absent, true),
    ("NumericNotEquals", &["10"], One("x"), false),
    ("NumericLessThan", &["10"], One("9"), true),
    ("NumericLessThan", &["10"], One("10"), false),
    ("NumericLessThan", &["10"], One("-1.5"), true),
    ("NumericLessThanEquals", &["10"], One("10"), true),
    ("NumericLessThanEquals", &["10"], One("10.01"), false),
    ("NumericGreaterThan", &["10"], One("11"), true),
    ("NumericGreaterThan", &["10"], One("10"), false),
    ("NumericGreaterThanEquals", &["10"], One("10"), true),
    ("NumericGreaterThanEquals", &["10"], One("9.99"), false),
    ("NumericGreaterThan", &["10"], Absent, false),
    ("NumericLessThanIfExists", &["10"], Absent, true),
    ("NumericLessThanIfExists", &["10"], One("100"), false),
    ("NumericLessThan", &["5", "20"], One("10"), true),
    // --- Date ---
    (
        "DateEquals",
        &["2026-03-01T12:00:00Z"],
        One("2026-03-01T12:00:00Z"),
        true,
    ),
    (
        "DateEquals",
        &["2026-03-01T12:00:00Z"],
        One("2026-03-01T13:00:00+01:00"),
        true,
    ),
    (
        "DateEquals",
        &["2026-03-01T12:00:00Z"],
        One("1772366400"),
        true,
    ),
    (
        "DateEquals",
        &["2026-03-01"],
        One("2026-03-01T00:00:00Z"),
        true,
    ),
    (
        "DateEquals",
        &["2026-03-01T12:00Z"],
        One("2026-03-01T12:00:00Z"),
        true,
    ),
    (
        "DateEquals",
        &["2026-03-01T12:00:00Z"],
        One("2026-03-01T12:00:01Z"),
        false,
    ),
    (
        "DateNotEquals",
        &["2026-03-01T12:00:00Z"],
        One("2026-03-01T12:00:01Z"),
        true,
    ),
    (
        "DateNotEquals",
        &["2026-03-01T12:00:00Z"],
        One("2026-03-01T12:00:00Z"),
        false,
    ),
    ("DateNotEquals", &["2026-03-01T12:00:00Z"], Absent, true),
    (
        "DateLessThan",
        &["2026-03-01T12:00:00Z"],
        One("2026-03-01T11:59:59Z"),
        true,
    ),
    (
        "DateLessThan",
        &["2026-03-01T12:00:00Z"],
        One("2026-03-01T12:00:00Z"),
        false,
    ),
    ("DateLessThan", &["2026-03-01T12:00:00Z"], Absent, false),
    (
        "DateLessThanEquals",
        &["2026-03-01T12:00:00Z"],
        One("2026-03-01T12:00:00.000Z"),
        true,
    ),
    (
        "DateGreaterThan",
        &["2026-03-01T12:00:00Z"],
        One("2026-03-01T12:00:00.5Z"),
        true,
    ),
    (
        "DateGreaterThan",
        &["2026-03-01T12:00:00Z"],
        One("not a date"),
        false,
    ),
    (
        "DateGreaterThanEquals",
        &["2026-03-01"],
        One("2026-03-01T00:00:00Z"),
        true,
    ),
    (
        "DateGreaterThanEquals",
        &["2026-03-01"],
        One("2026-02-28T23:59:59Z"),
        false,
    ),
    ("DateLessThanIfExists", &["2026-03-01"], Absent, true),
    // --- Bool ---
    ("Bool", &["true"], One("true"), true),
    ("Bool", &["true"], One("TRUE"), true),
    ("Bool", &["true"], One("false"), false),
    ("Bool", &["false"], One("false"), true),
    ("Bool", &["true"], One("yes"), false),
    ("Bool", &["false"], Absent, false),
    ("Bool", &["true"], Absent, false),
    ("BoolIfExists", &["false"], Absent, true),
    ("BoolIfExists", &["true"], One("false"), false),
    ("BoolIfExists", &["true"], One("true"), true),
    // --- Binary ---
    (
        "BinaryEquals",
        &["QmluYXJ5VmFsdWU="],
        One("QmluYXJ5VmFsdWU="),
        true,
    ),
    (
        "BinaryEquals",
        &["QmluYXJ5VmFsdWU="],
        One("BinaryValue"),
        true,
    ),
    ("BinaryEquals", &["QmluYXJ5VmFsdWU="], One("other"), false),
    ("BinaryEquals", &["QmluYXJ5VmFsdWU="], Absent, false),
    ("BinaryEqualsIfExists", &["QmluYXJ5VmFsdWU="], Absent, true),
    // --- IP ---
    ("IpAddress", &["203.0.113.0/24"], One("203.0.113.7"), true),
    ("IpAddress", &["203.0.113.0/24"], One("203.0.114.7"), false),
    ("IpAddress", &["203.0.113.7"], One("203.0.113.7"), true),
    ("IpAddress", &["203.0.113.7"], One("203.0.113.8"), false),
    ("IpAddress", &["2001:db8::/32"], One("2001:db8::1"), true),
    ("IpAddress", &["2001:db8::/32"], One("2001:db9::1"), false),
    (
        "IpAddress",
        &["10.0.0.0/8", "192.168.0.0/16"],
        One("192.168.1.1"),
        true,
    ),
    ("IpAddress", &["10.0.0.0/8"], One("not-an-ip"), false),
    ("IpAddress", &["10.0.0.0/8"], Absent, false),
    ("NotIpAddress", &["10.0.0.0/8"], One("11.0.0.1"), true),
    ("NotIpAddress", &["10.0.0.0/8"], One("10.1.2.3"), false),
    (
        "NotIpAddress",
        &["10.0.0.0/8", "11.0.0.0/8"],
        One("11.0.0.1"),
        false,
    ),
    ("NotIpAddress", &["10.0.0.0/8"], Absent, true),
    ("IpAddressIfExists", &["10.0.0.0/8"], Absent, true),
    // --- ARN ---
    (
        "ArnLike",
        &["arn:aws:iam::111122223333:role/*"],
        One("arn:aws:iam::111122223333:role/admin"),
        true,
    ),
    (
        "ArnLike",
        &["arn:aws:iam::111122223333:role/*"],
        One("arn:aws:iam::444455556666:role/admin"),
        false,
    ),
    (
        "ArnLike",
        &["arn:aws:iam::*:role/admin"],
        One("arn:aws:iam::444455556666:role/admin"),
        true,
    ),
    (
        "ArnEquals",
        &["arn:aws:iam::*:role/admin"],
        One("arn:aws:iam::444455556666:role/admin"),
        true,
    ),
    (
        "ArnLike",
        &["arn:aws:someservice:*:111122223333:finance/*"],
        One(
            "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt",
        ),
        false,
    ),
    (
        "StringLike",
        &["arn:aws:someservice:*:111122223333:finance/*"],
        One(
            "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt",
        ),
        true,
    ),
    (
        "ArnLike",
        &["arn:aws:s3:::bucket/${aws:username}/*"],
        One("arn:aws:s3:::bucket/bob/x"),
        true,
    ),
    (
        "ArnLike",
        &["arn:aws:s3:::bucket/*"],
        One("not-an-arn"),
        false,
    ),
    ("ArnLike", &["arn:aws:s3:::bucket/*"], Absent, false),
    (
        "ArnNotLike",
        &["arn:aws:iam::111122223333:role/*"],
        One("arn:aws:iam::444455556666:role/x"),
        true,
    ),
    (
        "ArnNotLike",
        &["arn:aws:iam::111122223333:role/*"],
        One("arn:aws:iam::111122223333:role/x"),
        false,
    ),
    (
        "ArnNotEquals",
        &["arn:aws:iam::111122223333:role/x"],
        Absent,
        true,
    ),
    (
        "ArnLikeIfExists",
        &["arn:aws:iam::111122223333:role/*"],
        Absent,
        true,
    ),
    // --- Null ---
    ("Null", &["true"], Absent, true),
    ("Null", &["true"], One("x"), false),
    ("Null", &["false"], Absent, false),
    ("Null", &["false"], One("x"), true),
    ("Null", &["false"], Many(&["x", "y"]), true),
    // --- Set qualifiers with positive operators ---
    (
        "ForAllValues:StringEquals",
        &["a", "b"],
        Many(&["a", "b"]),
        true,
    ),
    (
        "ForAllValues:StringEquals",
        &["a", "b"],
        Many(&["a", "c"]),
        false,
    ),
    ("ForAllValues:StringEquals", &["a", "b"], Many(&[]), true),
    ("ForAllValues:StringEquals", &["a", "b"], Absent, true),
    ("ForAllValues:StringEquals", &["a"], One("a"), true),
    (
        "ForAllValues:StringLike",
        &["team-*"],
        Many(&["team-a", "team-b"]),
        true,
    ),
    (
        "ForAllValues:StringLike",
        &["team-*"],
        Many(&["team-a", "x"]),
        false,
    ),
    ("ForAnyValue:StringEquals", &["a"], Many(&["x", "a"]), true),
    ("ForAnyValue:StringEquals", &["a"], Many(&["x", "y"]), false),
    ("ForAnyValue:StringEquals", &["a"], Many(&[]), false),
    ("ForAnyValue:StringEquals", &["a"], Absent, false),
    ("ForAnyValue:StringEquals", &["a"], One("a"), true),
    (
        "ForAnyValue:NumericLessThan",
        &["5"],
        Many(&["10", "3"]),
        true,
    ),
    (
        "ForAllValues:NumericLessThan",
        &["5"],
        Many(&["10", "3"]),
        false,
    ),
    (
        "ForAnyValue:IpAddress",
        &["10.0.0.0/8"],
        Many(&["11.1.1.1", "10.1.1.1"]),
        true,
    ),
    // --- AWS truth table: ForAllValues:StringNotLike {"aws:TagKeys": "key1*"} ---
    (
        "ForAllValues:StringNotLike",
        &["key1*"],
        Many(&["key1:legal"]),
        false,
    ),
    (
        "ForAllValues:StringNotLike",
        &["key1*"],
        Many(&["key1:hr", "key1:personnel"]),
        false,
    ),
    (
        "ForAllValues:StringNotLike",
        &["key1*"],
        Many(&["key2:audit"]),
        true,
    ),
    ("ForAllValues:StringNotLike", &["key1*"], Many(&[]), true),
    ("ForAllValues:StringNotLike", &["key1*"], Absent, true),
    (
        "ForAllValues:StringNotLike",
        &["key1*"],
        Many(&["key1:x", "key2:y"]),
        false,
    ),
    // --- and ForAnyValue:StringNotLike ---
    (
        "ForAnyValue:StringNotLike",
        &["key1*"],
        Many(&["key1:legal"]),
        false,
    ),
    (
        "ForAnyValue:StringNotLike",
        &["key1*"],
        Many(&["key1:hr", "key2:audit"]),
        true,
    ),
    (
        "ForAnyValue:StringNotLike",
        &["key1*"],
        Many(&["key2:audit"]),
        true,
    ),
    ("ForAnyValue:StringNotLike", &["key1*"], Many(&[]), false),
    ("ForAnyValue:StringNotLike", &["key1*"], Absent, false),
    // --- negated equality under set qualifiers (MinIO gets these wrong) ---
    (
        "ForAllValues:StringNotEquals",
        &["a", "b"],
        Many(&["c", "d"]),
        true,
    ),
    (
        "ForAllValues:StringNotEquals",
        &["a", "b"],
        Many(&["a", "d"]),
        false,
    ),
    (
        "ForAllValues:StringNotEquals",
        &["a", "b"],
        Many(&["a", "b"]),
        false,
    ),
    (
        "ForAnyValue:StringNotEquals",
        &["a", "b"],
        Many(&["a", "d"]),
        true,
    ),
    (
        "ForAnyValue:StringNotEquals",
        &["a", "b"],
        Many(&["a", "b"]),
        false,
    ),
    (
        "ForAllValues:StringNotEqualsIgnoreCase",
        &["A"],
        Many(&["a"]),
        false,
    ),
    (
        "ForAnyValue:NotIpAddress",
        &["10.0.0.0/8"],
        Many(&["10.1.1.1", "11.1.1.1"]),
        true,
    ),
    (
        "ForAllValues:NotIpAddress",
        &["10.0.0.0/8"],
        Many(&["10.1.1.1", "11.1.1.1"]),
        false,
    ),
    // --- IfExists with set qualifiers on present keys ---
    (
        "ForAnyValue:StringEqualsIfExists",
        &["a"],
        Many(&["a"]),
        true,
    ),
    (
        "ForAllValues:StringEqualsIfExists",
        &["a"],
        Many(&["b"]),
        false,
    ),
];

#[test]
fn operator_table() {
    assert!(CASES.len() >= 150, "{} cases", CASES.len());
    let mut failures = Vec::new();
    for (op, policy, req, expected) in CASES {
        let got = eval(op, policy, *req);
        if got != *expected {
            let req = match req {
                Absent => "absent".to_string(),
                One(v) => format!("{v:?}"),
                Many(vs) => format!("{vs:?} (multi)"),
            };
            failures.push(format!(
                "{op} {policy:?} with {req}: expected {expected}, got {got}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn compile_errors_name_the_problem() {
    for (op, values, needle) in [
        ("NumericEquals", vec!["ten"], "is not a number"),
        ("DateEquals", vec!["yesterday"], "is not a date"),
        ("Bool", vec!["yes"], "is not true or false"),
        ("IpAddress", vec!["10.0.0.300/8"], "is not an IP address"),
        ("BinaryEquals", vec!["***"], "is not base64"),
        ("ArnLike", vec!["arn:aws:s3"], "is not an ARN"),
        ("Null", vec!["maybe"], "must be true or false"),
        ("StringEquals", vec!["${unterminated"], "unterminated"),
    ] {
        let c = Condition {
            operator: ConditionOperator::parse(op).unwrap(),
            key: "k".into(),
            values: values.iter().map(|s| s.to_string()).collect(),
        };
        let e = CompiledCondition::compile(&c, true).unwrap_err();
        assert!(e.contains(needle), "{op}: {e}");
    }
}

#[test]
fn key_names_are_case_insensitive() {
    let c = Condition {
        operator: ConditionOperator::parse("StringEquals").unwrap(),
        key: "AWS:PrincipalTag/Team".into(),
        values: vec!["x".into()],
    };
    let compiled = CompiledCondition::compile(&c, true).unwrap();
    let mut ctx = RequestContext::new("a:b", "*");
    ctx.set("aws:principaltag/team", "x");
    assert!(compiled.evaluate(&ctx));
}

#[test]
fn dates_parse_in_every_documented_form() {
    assert_eq!(parse_date("2026-03-01T12:00:00Z"), Some(1772366400.0));
    assert_eq!(parse_date("1772366400"), Some(1772366400.0));
    assert_eq!(parse_date("2026-03-01T12:00Z"), Some(1772366400.0));
    assert_eq!(parse_date("2026-03-01T13:00:00+01:00"), Some(1772366400.0));
    assert_eq!(parse_date("2026-03-01"), Some(1772323200.0));
    assert_eq!(parse_date("2026-03-01T12:00:00.250Z"), Some(1772366400.25));
    assert_eq!(parse_date("March 1st"), None);
    assert_eq!(parse_date("2026-02-30T12:00:00Z"), None);
    assert_eq!(parse_date("2026-03-01T24:00:00Z"), None);
}
