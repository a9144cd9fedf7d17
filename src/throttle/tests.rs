//! Token buckets, the keys rules count by, the bound on keys, and reloads.

use super::*;

fn rule(by: RateBy, rate: f64, burst: f64) -> RateRule {
    RateRule {
        name: "r".into(),
        by,
        requests: vec![],
        rate,
        burst,
        matching: None,
        max_keys: 1000,
        shared: false,
    }
}

fn facts<'a>(key: &'a str, kind: RequestKind) -> Facts<'a> {
    Facts {
        kind,
        access_key: Some(key),
        principal: Some("arn:aws:iam::111122223333:role/r"),
        source: "127.0.0.1".parse().unwrap(),
        bucket: Some("photos"),
        route: None,
    }
}

#[test]
fn a_bucket_allows_its_burst_then_its_rate() {
    let limits = RateLimits::build(&[rule(RateBy::AccessKey, 10.0, 3.0)], None);
    let t0 = Instant::now();
    let f = facts("ASIAONE", RequestKind::S3);
    for _ in 0..3 {
        limits.check(&f, t0).unwrap();
    }
    let refused = limits.check(&f, t0).unwrap_err();
    // One token comes back every 100 ms at 10 a second.
    assert_eq!(refused.retry_after, Duration::from_millis(100));
    assert_eq!(refused.headers()[0], ("retry-after", "1".to_string()));
    assert_eq!(
        refused.headers()[1],
        ("x-amz-retry-after", "100".to_string())
    );
    limits.check(&f, t0 + Duration::from_millis(100)).unwrap();
    assert!(limits.check(&f, t0 + Duration::from_millis(150)).is_err());
    // Idle, the bucket fills up to its burst, not beyond.
    let later = t0 + Duration::from_secs(60);
    for _ in 0..3 {
        limits.check(&f, later).unwrap();
    }
    assert!(limits.check(&f, later).is_err());
    // Another key has its own bucket.
    limits
        .check(&facts("ASIATWO", RequestKind::S3), t0)
        .unwrap();
    assert_eq!(limits.rules[0].throttled.load(Ordering::Relaxed), 3);
}

#[test]
fn rules_apply_to_the_requests_and_keys_they_name() {
    let mut sts_only = rule(RateBy::Principal, 1.0, 1.0);
    sts_only.requests = vec![RequestKind::StsCredentials];
    let mut some_buckets = rule(RateBy::Bucket, 1.0, 1.0);
    some_buckets.name = "uploads".into();
    some_buckets.matching = Some(crate::policy::pattern::Glob::new("up*", false));
    let limits = RateLimits::build(&[sts_only, some_buckets], None);
    let t = Instant::now();
    // S3 requests are not counted by the STS rule, and "photos" is not an "up*" bucket.
    for _ in 0..5 {
        limits.check(&facts("K", RequestKind::S3), t).unwrap();
    }
    limits
        .check(&facts("K", RequestKind::StsCredentials), t)
        .unwrap();
    assert!(
        limits
            .check(&facts("K", RequestKind::StsCredentials), t)
            .is_err()
    );
    let mut upload = facts("K", RequestKind::S3);
    upload.bucket = Some("uploads");
    limits.check(&upload, t).unwrap();
    assert_eq!(limits.check(&upload, t).unwrap_err().rule, "uploads");
    // A rule by access key does not count an anonymous request.
    let anonymous = Facts {
        access_key: None,
        principal: None,
        ..facts("K", RequestKind::S3)
    };
    let by_key = RateLimits::build(&[rule(RateBy::AccessKey, 1.0, 1.0)], None);
    for _ in 0..3 {
        by_key.check(&anonymous, t).unwrap();
    }
}

#[test]
fn memory_is_bounded_with_100000_distinct_keys() {
    let mut r = rule(RateBy::AccessKey, 1.0, 1.0);
    r.max_keys = 10_000;
    let limits = RateLimits::build(&[r], None);
    let t = Instant::now();
    for i in 0..100_000 {
        let key = format!("ASIA{i:016}");
        limits.check(&facts(&key, RequestKind::S3), t).unwrap();
    }
    let held = limits.rules[0].keys();
    assert!(held <= 10_000, "{held} buckets held for max_keys = 10000");
    assert!(held > 0);
}

#[test]
fn a_reload_keeps_the_buckets_of_an_unchanged_rule_only() {
    let same = rule(RateBy::AccessKey, 1.0, 1.0);
    let limits = RateLimits::build(std::slice::from_ref(&same), None);
    let t = Instant::now();
    let f = facts("K", RequestKind::S3);
    limits.check(&f, t).unwrap();
    let reloaded = RateLimits::build(std::slice::from_ref(&same), Some(&limits));
    assert!(
        reloaded.check(&f, t).is_err(),
        "the spent token stayed spent"
    );
    let changed = RateLimits::build(&[rule(RateBy::AccessKey, 2.0, 1.0)], Some(&limits));
    changed.check(&f, t).unwrap();
}
