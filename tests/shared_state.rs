//! Several replicas sharing a Redis (`[shared_state] redis`): two `stsgate serve` processes with
//! the same config in front of one s3s-fs, one Redis from Debian started by `scripts/redis.sh`.
//! An MFA code spent at one replica is refused at the other, failures add up across both,
//! sessions cross, and with Redis gone MFA fails closed while S3 keeps working.

mod support;

use support::{
    Backend, Gateway, NO_SKILL, NO_SKILL_MFA, Redis, S3_ROLE, WRITER_ROLE, config_with_backend,
};

/// The value of the metric series `series` (a name, or a name with its labels) at `gw`.
fn metric(gw: &Gateway, series: &str) -> f64 {
    let reply = support::raw_request(&gw.admin, "GET", "/metrics", &[], b"");
    reply
        .body
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in {}", reply.body))
}

/// Two gateways with one config: the demo's, `extra`, and `[shared_state]` on `redis` (its
/// password, if it has one, in a file).
fn replicas(backend: &Backend, redis: &Redis, extra: &str) -> (Gateway, Gateway) {
    let password = match &redis.password {
        Some(p) => {
            let file = backend.dir().join("redis-password");
            std::fs::write(&file, p).unwrap();
            format!("password = \"file:{}\"\n", file.display())
        }
        None => String::new(),
    };
    let text = config_with_backend(
        &backend.toml(),
        &format!(
            "{WRITER_ROLE}\n{extra}\n[shared_state]\nredis = \"{}\"\n{password}timeout_ms = 300\n",
            redis.url
        ),
    );
    (Gateway::start(&text), Gateway::start(&text))
}

/// AssumeRole of the MFA-protected s3_role as no_skill with `code` at `gw` (aws-cli).
fn assume_with_mfa(gw: &Gateway, code: &str) -> std::process::Output {
    gw.aws(NO_SKILL.0, NO_SKILL.1, None).run(&[
        "sts",
        "assume-role",
        "--role-arn",
        S3_ROLE,
        "--role-session-name",
        "replica",
        "--serial-number",
        NO_SKILL_MFA,
        "--token-code",
        code,
    ])
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A code that is not the current one (nor the previous or next step's).
fn wrong_code(right: &str, i: u32) -> String {
    format!("{:06}", (right.parse::<u32>().unwrap() + 7 + i) % 1_000_000)
}

#[test]
fn a_code_spent_at_one_replica_is_refused_at_the_other_and_sessions_cross() {
    let Some(backend) = Backend::start("s3s-fs") else {
        return;
    };
    // This Redis requires a password: the gateways authenticate with it.
    let Some(redis) = Redis::start_with_password("replica-shared-secret") else {
        return;
    };
    let (a, b) = replicas(&backend, &redis, "");

    let code = support::mfa_code(&a);
    let first = assume_with_mfa(&a, &code);
    assert!(first.status.success(), "{}", stderr(&first));
    // The same code at the other replica: spent, refused as AWS refuses a reused code.
    let again = assume_with_mfa(&b, &code);
    assert!(
        !again.status.success(),
        "a spent code was accepted at the other replica"
    );
    assert!(
        stderr(&again).contains("AccessDenied") && stderr(&again).contains("invalid MFA"),
        "{}",
        stderr(&again)
    );
    assert_eq!(
        metric(&b, "stsgate_mfa_failures_total{reason=\"reused\"}"),
        1.0
    );
    assert_eq!(
        metric(&a, "stsgate_mfa_failures_total{reason=\"reused\"}"),
        0.0
    );

    // A session minted by one replica works at the other (same keyring, no state needed).
    let creds = support::assume(
        &a,
        "arn:aws:iam::111122223333:role/s3_writer",
        "cross",
        None,
    );
    let at_b = creds.aws(&b);
    let who: serde_json::Value =
        serde_json::from_str(&at_b.ok(&["sts", "get-caller-identity"])).unwrap();
    assert_eq!(
        who["Arn"],
        "arn:aws:sts::111122223333:assumed-role/s3_writer/cross"
    );
    let file = backend.dir().join("replica.txt");
    std::fs::write(&file, b"written at b").unwrap();
    let target = format!("s3://{}/replica.txt", backend.bucket);
    at_b.ok(&["s3", "cp", file.to_str().unwrap(), &target]);
    assert!(support::backend_has(&backend, "replica.txt"));
    assert!(
        creds
            .aws(&a)
            .ok(&["s3", "ls", &target])
            .contains("replica.txt")
    );
    assert_eq!(metric(&a, "stsgate_shared_state_errors_total"), 0.0);
    assert!(
        !a.log().contains("replica-shared-secret"),
        "the Redis password was logged"
    );
}

#[test]
fn failures_add_up_across_replicas_and_the_lockout_holds_at_both() {
    let Some(backend) = Backend::start("s3s-fs") else {
        return;
    };
    let Some(redis) = Redis::start(None) else {
        return;
    };
    let (a, b) = replicas(&backend, &redis, "[limits]\nmfa_max_failures = 3\n");
    let right = support::mfa_code(&a);
    // Two wrong codes at a, one at b: three within the window, counted in one place.
    for (gw, i) in [(&a, 0), (&a, 1), (&b, 2)] {
        let out = assume_with_mfa(gw, &wrong_code(&right, i));
        assert!(stderr(&out).contains("invalid MFA"), "{}", stderr(&out));
    }
    assert_eq!(metric(&a, "stsgate_mfa_lockouts_total"), 0.0);
    assert_eq!(
        metric(&b, "stsgate_mfa_lockouts_total"),
        1.0,
        "the third failure, at b, locks"
    );
    // Locked at both: the right code is refused at a, which saw only two failures itself.
    for gw in [&a, &b] {
        let out = assume_with_mfa(gw, &right);
        assert!(
            !out.status.success(),
            "the right code passed during a lockout"
        );
        assert!(stderr(&out).contains("invalid MFA"), "{}", stderr(&out));
    }
    assert_eq!(
        metric(&a, "stsgate_mfa_failures_total{reason=\"locked_out\"}"),
        1.0
    );
    assert_eq!(
        metric(&b, "stsgate_mfa_failures_total{reason=\"locked_out\"}"),
        1.0
    );
}

#[test]
fn with_redis_down_mfa_fails_closed_and_everything_else_keeps_working() {
    let Some(backend) = Backend::start("s3s-fs") else {
        return;
    };
    let Some(redis) = Redis::start(None) else {
        return;
    };
    let (a, _b) = replicas(&backend, &redis, "");
    let creds = support::assume(
        &a,
        "arn:aws:iam::111122223333:role/s3_writer",
        "before",
        None,
    );
    let file = backend.dir().join("up.txt");
    std::fs::write(&file, b"while redis is down").unwrap();

    redis.stop();
    let code = support::mfa_code(&a);
    let started = std::time::Instant::now();
    let out = assume_with_mfa(&a, &code);
    assert!(
        !out.status.success(),
        "MFA AssumeRole passed with Redis down"
    );
    assert!(
        stderr(&out).contains("ServiceUnavailable"),
        "{}",
        stderr(&out)
    );
    // aws-cli retries a 503; every attempt fails fast (connection refused, 300 ms timeout).
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert!(metric(&a, "stsgate_shared_state_errors_total") >= 1.0);
    assert!(
        a.log()
            .contains("shared state store (Redis) is unreachable"),
        "{}",
        a.log()
    );

    // Without MFA nothing touches Redis: STS, and S3 with an existing session, keep working.
    let fresh = support::assume(
        &a,
        "arn:aws:iam::111122223333:role/s3_writer",
        "during",
        None,
    );
    let target = format!("s3://{}/up.txt", backend.bucket);
    fresh
        .aws(&a)
        .ok(&["s3", "cp", file.to_str().unwrap(), &target]);
    assert!(creds.aws(&a).ok(&["s3", "ls", &target]).contains("up.txt"));

    // Redis back on its port: the code, never spent, now works, and the connection recovers.
    let redis = redis.restart();
    let out = assume_with_mfa(&a, &code);
    assert!(out.status.success(), "{}", stderr(&out));
    drop(redis);
}
