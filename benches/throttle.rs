//! The rate limit stage's own cost per request (`src/throttle.rs`), beside the policy decision it
//! sits in front of, in the same run:
//! - `throttle/off`: no rules (what a gateway without `[[rate_limits]]` pays: an empty loop);
//! - `throttle/3_rules_warm`: three rules (principal, access key, bucket) whose buckets exist;
//! - `throttle/3_rules_100k_keys`: the same, each request another of 100,000 access keys
//!   (`max_keys` 10,000: buckets are made and dropped as requests arrive).
//!
//! Run: `cargo bench --bench throttle`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use stsgate::config::{RateBy, RateRule, RequestKind};
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
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! { name = throttle; config = config(); targets = benches }
criterion_main!(throttle);
