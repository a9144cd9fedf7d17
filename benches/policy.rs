//! Policy evaluation: a realistic role (20 identity statements with wildcards and 4 conditions)
//! intersected with a 5-statement session policy.
//! - `policy/compiled_decide`: policies compiled once, evaluated per request (what stsgate does);
//! - `policy/parse_and_decide`: parse and compile the JSON on every request (what MinIO does for
//!   session policies), in the same run, for the ratio.
//!
//! Run: `cargo bench --bench policy`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use stsgate::policy::{
    CompiledPolicy, Decision, Evaluation, PolicyKind, Principal, PrincipalKind, RequestContext,
    decide,
};

fn role_policy() -> String {
    let mut statements = Vec::new();
    let services = [
        "ec2",
        "dynamodb",
        "sqs",
        "sns",
        "logs",
        "cloudwatch",
        "kms",
        "lambda",
    ];
    for (i, svc) in services.iter().enumerate() {
        statements.push(format!(r#"{{"Sid":"Svc{i}","Effect":"Allow","Action":["{svc}:Describe*","{svc}:List*","{svc}:Get*"],"Resource":"*"}}"#));
    }
    for i in 0..8 {
        statements.push(format!(
            r#"{{"Sid":"Bucket{i}","Effect":"Allow","Action":["s3:GetObject*","s3:PutObject","s3:ListBucket"],"Resource":["arn:aws:s3:::archive-{i}","arn:aws:s3:::archive-{i}/*"]}}"#
        ));
    }
    statements.push(r#"{"Sid":"Lake","Effect":"Allow","Action":"s3:*Object*","Resource":"arn:aws:s3:::data-lake/team-*/*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}"#.into());
    statements.push(r#"{"Sid":"Office","Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}}"#.into());
    statements.push(r#"{"Sid":"Home","Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::home/${aws:username}/*","Condition":{"StringLike":{"aws:userid":"AROA*"}}}"#.into());
    statements.push(r#"{"Sid":"Revoke","Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-01-01T00:00:00Z"}}}"#.into());
    assert_eq!(statements.len(), 20);
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        statements.join(",")
    )
}

const SESSION: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::data-lake/team-a/*"},
 {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::data-lake"},
 {"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::data-lake/team-a/uploads/*"},
 {"Effect":"Allow","Action":["ec2:Describe*","logs:Get*"],"Resource":"*"},
 {"Effect":"Deny","Action":"s3:DeleteObject*","Resource":"*"}]}"#;

fn context() -> RequestContext {
    let mut c = RequestContext::new(
        "s3:GetObject",
        "arn:aws:s3:::data-lake/team-a/2026/03/part-0001.parquet",
    );
    c.set("aws:SourceIp", "10.1.2.3")
        .set("aws:SecureTransport", "true")
        .set("aws:userid", "AROARTX3GSDSQHMFP2K7W:alice")
        .set("aws:TokenIssueTime", "2026-03-01T11:30:00Z")
        .set("aws:CurrentTime", "2026-03-01T12:00:00Z")
        .set("aws:PrincipalType", "AssumedRole");
    c
}

fn benches(c: &mut Criterion) {
    let role_text = role_policy();
    let role = CompiledPolicy::parse("role", &role_text, PolicyKind::Identity).unwrap();
    let session = CompiledPolicy::parse("session", SESSION, PolicyKind::Session).unwrap();
    let principal = Principal {
        arn: "arn:aws:sts::111122223333:assumed-role/analytics/alice".into(),
        account: "111122223333".into(),
        unique_id: "AROARTX3GSDSQHMFP2K7W".into(),
        kind: PrincipalKind::AssumedRole {
            role_arn: "arn:aws:iam::111122223333:role/analytics".into(),
        },
    };
    let ctx = context();
    let identity = [&role];
    let sessions = [&session];
    let eval = Evaluation {
        identity: &identity,
        session: Some(&sessions),
        principal: Some(&principal),
        ..Default::default()
    };
    assert_eq!(
        decide(&eval, &ctx).decision,
        Decision::Allow,
        "the benchmark request must be allowed"
    );

    let mut g = c.benchmark_group("policy");
    g.bench_function("compiled_decide", |b| {
        b.iter(|| black_box(decide(&eval, black_box(&ctx))))
    });
    g.bench_function("parse_and_decide", |b| {
        b.iter(|| {
            let role =
                CompiledPolicy::parse("role", black_box(&role_text), PolicyKind::Identity).unwrap();
            let session =
                CompiledPolicy::parse("session", black_box(SESSION), PolicyKind::Session).unwrap();
            let (identity, sessions) = ([&role], [&session]);
            let eval = Evaluation {
                identity: &identity,
                session: Some(&sessions),
                principal: Some(&principal),
                ..Default::default()
            };
            black_box(decide(&eval, &ctx))
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(60)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! { name = policy; config = config(); targets = benches }
criterion_main!(policy);
