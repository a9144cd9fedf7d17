//! The rate limit stage's own cost per request (`src/throttle.rs`), beside the policy decision it
//! sits in front of, in the same run:
//! - `throttle/off`: no rules (what a gateway without `[[rate_limits]]` pays: an empty loop);
//! - `throttle/3_rules_warm`: three rules (principal, access key, bucket) whose buckets exist;
//! - `throttle/3_rules_100k_keys`: the same, each request another of 100,000 access keys
//!   (`max_keys` 10,000: buckets are made and dropped as requests arrive).
//!
//! - `throttle/local_token` vs `throttle/shared_token`: one rule counted in the replica, and a
//!   `shared = true` rule's token taken in a local Redis (`scripts/redis.sh`), in the same run;
//! - `revocation/none`, `revocation/100_records`: the revocation lookup of every session request.
//!
//! Run: `cargo bench --bench throttle`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use stsgate::config::{RateBy, RateRule, RequestKind};
use stsgate::revocation::{Record, Revocations, Scope};
use stsgate::throttle::{Facts, RateLimits};

fn rule(name: &str, by: RateBy) -> RateRule {
    RateRule {
        name: name.into(),
        by,
        requests: vec![RequestKind::S3],
        // Never refuses in the bench: the cost measured is the allowed path.
        rate: 1e6,
        burst: 1e7,
        matching: None,
        max_keys: 10_000,
        shared: false,
    }
}

fn facts(key: &str) -> Facts<'_> {
    Facts {
        kind: RequestKind::S3,
        access_key: Some(key),
        principal: Some("arn:aws:iam::111122223333:role/s3_writer"),
        source: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        bucket: Some("demo-bucket"),
        route: None,
    }
}

fn benches(c: &mut Criterion) {
    let off = RateLimits::build(&[], None);
    let three = RateLimits::build(
        &[
            rule("principal", RateBy::Principal),
            rule("key", RateBy::AccessKey),
            rule("bucket", RateBy::Bucket),
        ],
        None,
    );
    let keys: Vec<String> = (0..100_000).map(|i| format!("ASIA{i:016}")).collect();
    let mut g = c.benchmark_group("throttle");
    g.bench_function("off", |b| {
        b.iter(|| off.check(black_box(&facts(&keys[0])), Instant::now()))
    });
    g.bench_function("3_rules_warm", |b| {
        b.iter(|| three.check(black_box(&facts(&keys[0])), Instant::now()))
    });
    let mut i = 0usize;
    g.bench_function("3_rules_100k_keys", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            three.check(black_box(&facts(&keys[i])), Instant::now())
        })
    });
    g.finish();

    // The revocation lookup every session request makes: an empty table, and 100 records none
    // of which matches (the whole table is read).
    let claims: stsgate::sts::SessionClaims = serde_json::from_value(serde_json::json!({
        "access_key_id": "ASIAEXAMPLE", "secret_access_key": "s", "account": "111122223333",
        "principal_type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/r/s",
        "user_id": "AROA:s", "role_arn": "arn:aws:iam::111122223333:role/r", "role_name": "r",
        "session_name": "s", "user_name": null, "issued_at": 1000, "expires_at": 4600,
        "mfa_at": null, "source_identity": null, "session_policy": null, "chained": false
    }))
    .unwrap();
    let empty = Revocations::default();
    let hundred = Revocations::default();
    for i in 0..100 {
        hundred
            .add(
                Record {
                    scope: Scope::Role(format!("arn:aws:iam::111122223333:role/other{i}")),
                    before: 2000,
                    by: "x".into(),
                },
                2000,
            )
            .unwrap();
    }
    shared(c);

    let mut g = c.benchmark_group("revocation");
    g.bench_function("none", |b| {
        b.iter(|| empty.revoking(black_box(&claims), 2000))
    });
    g.bench_function("100_records", |b| {
        b.iter(|| hundred.revoking(black_box(&claims), 2000))
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

/// `throttle/shared_token`: one token of a `shared = true` rule, taken in a local Redis (one
/// round trip and the script), beside `throttle/local_token`, one rule in the replica, in the same
/// run. Needs `redis-server` (scripts/redis.sh install); says so and skips without it.
fn shared(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let started = std::process::Command::new("scripts/redis.sh")
        .arg("start")
        .arg(dir.path())
        .output();
    let Some(url) = started.ok().and_then(|o| {
        String::from_utf8(o.stdout)
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("REDIS_URL=").map(str::to_string))
    }) else {
        eprintln!("throttle/shared_token skipped: redis-server is not installed");
        return;
    };
    let redis = stsgate::sts::shared::RedisState::new(&stsgate::config::RedisSettings {
        url,
        password: None,
        key_prefix: "bench:".into(),
        timeout: Duration::from_secs(1),
        ca_file: None,
        sentinel: None,
    })
    .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = RateLimits::build(&[rule("local", RateBy::Principal)], None);
    let mut g = c.benchmark_group("throttle");
    g.bench_function("local_token", |b| {
        b.iter(|| local.check(black_box(&facts("ASIAONE")), Instant::now()))
    });
    g.bench_function("shared_token", |b| {
        b.iter(|| {
            runtime
                .block_on(redis.take_token(black_box("principal:arn"), 1e6, 1e7))
                .unwrap()
        })
    });
    g.finish();
    let _ = std::process::Command::new("scripts/redis.sh")
        .arg("stop")
        .arg(dir.path())
        .output();
}

criterion_group! { name = throttle; config = config(); targets = benches }
criterion_main!(throttle);
