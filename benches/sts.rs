//! STS benchmarks: AssumeRole end to end in-process (authorize, mint, seal, render XML), and
//! opening a session token cold (decrypt, parse claims, compile the session policy) and warm
//! (cache hit).
//!
//! Run: `cargo bench --bench sts`.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use stsgate::identity::Caller;
use stsgate::server::State;
use stsgate::sts::RequestInfo;

fn state() -> Arc<State> {
    let loaded =
        stsgate::config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/stsgate.toml"))
            .unwrap();
    Arc::new(State::new(Arc::new(loaded.config)).unwrap())
}

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn benches(c: &mut Criterion) {
    let state = state();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let info = RequestInfo {
        now,
        source_ip: Some("127.0.0.1".into()),
        secure_transport: false,
        user_agent: None,
        region: "us-east-1".into(),
    };
    let develop = state
        .identities
        .resolve(&state.keyring, "AKIARTX3GSDSSMDOBCNR", None, now)
        .unwrap();
    let assume = params(&[
        ("Action", "AssumeRole"),
        ("Version", "2011-06-15"),
        ("RoleArn", "arn:aws:iam::111122223333:role/s3_role"),
        ("RoleSessionName", "bench"),
        (
            "Policy",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::demo-bucket","arn:aws:s3:::demo-bucket/*"]}]}"#,
        ),
    ]);
    // The STS actions are async (MFA may ask a shared store); these run without MFA, so a
    // current-thread runtime only drives them.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let xml = runtime
        .block_on(state.sts.handle(&assume, &develop, &info, "req"))
        .unwrap();
    let field = |name: &str| {
        xml.split(&format!("<{name}>"))
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .to_string()
    };
    let (akid, token) = (field("AccessKeyId"), field("SessionToken"));

    let mut g = c.benchmark_group("sts");
    g.bench_function("assume_role_end_to_end", |b| {
        b.iter(|| {
            black_box(
                runtime
                    .block_on(state.sts.handle(black_box(&assume), &develop, &info, "req"))
                    .unwrap(),
            )
        })
    });
    g.bench_function("open_session_cold", |b| {
        b.iter(|| {
            black_box(
                state
                    .identities
                    .open_session(&state.keyring, black_box(&token))
                    .unwrap(),
            )
        })
    });
    let warm = state
        .identities
        .resolve(&state.keyring, &akid, Some(&token), now)
        .unwrap();
    assert!(matches!(warm, Caller::Session(ref s) if s.session_policies.is_some()));
    g.bench_function("open_session_warm", |b| {
        b.iter(|| {
            black_box(
                state
                    .identities
                    .resolve(&state.keyring, &akid, Some(black_box(&token)), now)
                    .unwrap(),
            )
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

criterion_group! { name = sts; config = config(); targets = benches }
criterion_main!(sts);
