//! Revoking sessions now, through `stsgate revoke` (the CLI client of the admin listener's
//! `POST /revocations`) against the running gateway in front of s3s-fs: refused without
//! `stsgate:RevokeSessions`; with it, the role's live session is refused on its very next
//! request in S3 and STS while a session issued afterwards works and another role's is untouched;
//! the record survives a restart of the gateway (`[revocation] file`).

mod support;

use std::process::Command;

use support::{Backend, Creds, DEVELOP, Gateway, WRITER_ROLE, assume, config_with_backend};

const WRITER: &str = "arn:aws:iam::111122223333:role/s3_writer";
const READER: &str = "arn:aws:iam::111122223333:role/s3_role";

/// A user allowed to revoke the writer role's sessions and develop's (only those).
const ONCALL: &str = r#"
[[accounts.users]]
name = "oncall"
inline_policies = [{ name = "Revoke", document = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"stsgate:RevokeSessions","Resource":["arn:aws:iam::111122223333:role/s3_writer","arn:aws:iam::111122223333:user/develop"]}}' }]
[[accounts.users.access_keys]]
id = "AKIARTX3GSDSQMN6LC4N"
secret = "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"
"#;

const ONCALL_KEY: (&str, &str) = (
    "AKIARTX3GSDSQMN6LC4N",
    "ZX2dxB11y7JCLhN1T5Ogr987/FYIy3qtVCPO8fHM",
);

/// The gateway with oncall and the writer role, `shared` (a `[shared_state]` table or nothing)
/// before the backends, revocations kept in `file`, and `tail` (top-level tables) at the end.
fn gateway_with(backend: &Backend, shared: &str, file: &std::path::Path, tail: &str) -> Gateway {
    // The user goes into the demo account, before its roles.
    let config = config_with_backend(&backend.toml(), &format!("{WRITER_ROLE}{shared}")).replacen(
        "[[accounts.roles]]",
        &format!("{ONCALL}\n[[accounts.roles]]"),
        1,
    );
    Gateway::start(&format!(
        "{config}\n[revocation]\nfile = \"{}\"\n{tail}",
        file.display()
    ))
}

/// One gateway, its audit trail beside `file`.
fn gateway(backend: &Backend, file: &std::path::Path) -> Gateway {
    let audit = format!(
        "[audit]\nfile = \"{}\"\n",
        file.with_extension("audit").display()
    );
    gateway_with(backend, "", file, &audit)
}

/// `stsgate revoke ARGS` with these credentials: (exit success, stdout + stderr).
fn revoke(gw: &Gateway, key: (&str, &str), args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stsgate"))
        .arg("revoke")
        .args(["--admin", &gw.admin])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", key.0)
        .env("AWS_SECRET_ACCESS_KEY", key.1)
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn ls(gw: &Gateway, creds: &Creds, bucket: &str) -> std::process::Output {
    creds.aws(gw).run(&["s3", "ls", &format!("s3://{bucket}/")])
}

#[test]
fn a_revoked_role_session_is_refused_at_once_and_after_a_restart() {
    let Some(backend) = Backend::start("s3s-fs") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("revocations.json");
    let gw = gateway(&backend, &file);
    let leaked = assume(&gw, WRITER, "leaked", None);
    let other = assume(&gw, READER, "other", None);
    assert!(ls(&gw, &leaked, &backend.bucket).status.success());

    // Without the permission: refused, and nothing changes.
    let (ok, said) = revoke(&gw, DEVELOP, &["--role-arn", WRITER]);
    assert!(!ok && said.contains("AccessDenied"), "{said}");
    assert!(said.contains("stsgate:RevokeSessions"), "{said}");
    let (ok, said) = revoke(&gw, ONCALL_KEY, &["--role-arn", READER]);
    assert!(
        !ok && said.contains("AccessDenied"),
        "oncall may revoke s3_writer only: {said}"
    );
    assert!(ls(&gw, &leaked, &backend.bucket).status.success());

    // Revoked: the very next request is refused, in S3 and in STS.
    let started = std::time::Instant::now();
    let (ok, said) = revoke(&gw, ONCALL_KEY, &["--role-arn", WRITER]);
    assert!(ok, "{said}");
    let refused = ls(&gw, &leaked, &backend.bucket);
    let took = started.elapsed();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("AccessDenied") && stderr.contains("revoked"),
        "{stderr}"
    );
    eprintln!("revocation to first refusal: {took:?} (CLI start and one aws-cli call included)");
    let sts = leaked.aws(&gw).run(&["sts", "get-caller-identity"]);
    assert!(String::from_utf8_lossy(&sts.stderr).contains("AccessDenied"));
    // Another role's session is untouched; a session of the role issued afterwards works.
    assert!(ls(&gw, &other, &backend.bucket).status.success());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let fresh = assume(&gw, WRITER, "fresh", None);
    assert!(ls(&gw, &fresh, &backend.bucket).status.success());
    assert!(
        support::metrics(&gw).contains("stsgate_revocations 1"),
        "{}",
        support::metrics(&gw)
    );

    // The audit trail names who revoked what, who was refused, and the refused session's
    // requests.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let audit = std::fs::read_to_string(file.with_extension("audit")).unwrap();
    let records: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let revokes: Vec<_> = records
        .iter()
        .filter(|r| r["eventName"] == "RevokeSessions")
        .collect();
    assert_eq!(revokes.len(), 3, "{audit}");
    assert_eq!(revokes[0]["errorCode"], "AccessDenied");
    assert!(
        revokes[2].get("errorCode").is_none_or(|c| c.is_null()),
        "{}",
        revokes[2]
    );
    assert!(
        revokes[2]["userIdentity"]["arn"]
            .as_str()
            .unwrap()
            .ends_with("user/oncall")
    );
    assert!(records.iter().any(|r| r["errorCode"] == "AccessDenied"
        && r["eventSource"] == "s3.amazonaws.com"
        && r["errorMessage"].as_str().unwrap_or("").contains("revoked")));
    // A restart reads the record back: the leaked session stays refused, the fresh one works.
    drop(gw);
    let gw = gateway(&backend, &file);
    assert!(!ls(&gw, &leaked, &backend.bucket).status.success());
    assert!(ls(&gw, &fresh, &backend.bucket).status.success());
    // Unsigned or tampered calls to the admin API are refused.
    let unsigned = Command::new("curl")
        .args([
            "-s",
            "-X",
            "POST",
            "-d",
            "{}",
            &format!("{}/revocations", gw.admin),
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&unsigned.stdout).contains("MissingAuthenticationToken"));
    let (ok, said) = revoke(&gw, (ONCALL_KEY.0, "wrong-secret"), &["--role-arn", WRITER]);
    assert!(!ok && said.contains("SignatureDoesNotMatch"), "{said}");
}

/// Two replicas sharing a Redis: a revocation sent to one is in force at the other within the
/// sync interval (the time is printed); with Redis down, a new revocation is refused with 503
/// (in force at the replica that took it only) while the records already read stay in force.
#[test]
fn a_revocation_at_one_replica_reaches_the_other_through_redis() {
    let Some(backend) = Backend::start("s3s-fs") else {
        return;
    };
    let Some(redis) = support::Redis::start(None) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let shared = format!(
        "\n[shared_state]\nredis = \"{}\"\ntimeout_ms = 300\n",
        redis.url
    );
    let start = |name: &str| gateway_with(&backend, &shared, &dir.path().join(name), "");
    let (a, b) = (start("a.json"), start("b.json"));
    let leaked = assume(&a, WRITER, "leaked", None);
    assert!(ls(&b, &leaked, &backend.bucket).status.success());
    let (ok, said) = revoke(&a, ONCALL_KEY, &["--role-arn", WRITER]);
    assert!(ok, "{said}");
    let started = std::time::Instant::now();
    loop {
        let at_b = leaked.aws(&b).run(&["sts", "get-caller-identity"]);
        if String::from_utf8_lossy(&at_b.stderr).contains("AccessDenied") {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "replica b never refused the revoked session"
        );
    }
    eprintln!(
        "revoked at replica a, refused at replica b after {:?} (aws-cli calls included)",
        started.elapsed()
    );
    // Redis down: b keeps the record it read; a new revocation at a is refused with 503.
    redis.stop();
    assert!(!ls(&b, &leaked, &backend.bucket).status.success());
    let (ok, said) = revoke(
        &a,
        ONCALL_KEY,
        &["--role-arn", WRITER, "--session-name", "x"],
    );
    assert!(!ok && said.contains("ServiceUnavailable"), "{said}");
}

/// `[shared_state]` over TLS (`rediss://` with the Redis's own CA in `ca_file`): a revocation at
/// one replica reaches the other; a replica given another CA refuses the connection, so a new
/// revocation there is answered 503 (nothing is shared with an unverified server).
#[test]
fn revocations_are_shared_over_tls_with_a_verified_redis() {
    let Some(backend) = Backend::start("s3s-fs") else {
        return;
    };
    let Some(redis) = support::Redis::start_tls() else {
        return;
    };
    assert!(redis.url.starts_with("rediss://"), "{}", redis.url);
    let dir = tempfile::tempdir().unwrap();
    let other_ca = dir.path().join("other-ca.pem");
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=another-ca", "-keyout"])
        .arg(dir.path().join("other-ca.key"))
        .arg("-out")
        .arg(&other_ca)
        .output()
        .unwrap();
    assert!(made.status.success());
    let start = |name: &str, ca: &std::path::Path| {
        let shared = format!(
            "\n[shared_state]\nredis = \"{}\"\nca_file = \"{}\"\ntimeout_ms = 1000\n",
            redis.url,
            ca.display()
        );
        gateway_with(&backend, &shared, &dir.path().join(name), "")
    };
    let (a, b) = (
        start("a.json", &redis.ca_file()),
        start("b.json", &redis.ca_file()),
    );
    let leaked = assume(&a, WRITER, "leaked", None);
    let (ok, said) = revoke(&a, ONCALL_KEY, &["--role-arn", WRITER]);
    assert!(ok, "{said}");
    let started = std::time::Instant::now();
    while ls(&b, &leaked, &backend.bucket).status.success() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the revocation never reached replica b over TLS"
        );
    }
    let untrusting = start("c.json", &other_ca);
    let (ok, said) = revoke(
        &untrusting,
        ONCALL_KEY,
        &["--role-arn", WRITER, "--session-name", "x"],
    );
    assert!(!ok && said.contains("ServiceUnavailable"), "{said}");
    assert!(
        untrusting.log().contains("shared_state.redis"),
        "{}",
        untrusting.log()
    );
}

/// `[shared_state]` through Redis Sentinel, with the master killed during traffic: S3 requests
/// counted by a shared rate limit keep being answered throughout (the replica's own bucket
/// stands in while no master answers), and once the sentinels have promoted the replica a
/// revocation at one gateway reaches the other again.
#[test]
fn revocations_and_shared_limits_go_on_through_a_sentinel_failover() {
    let Some(backend) = Backend::start("s3s-fs") else {
        return;
    };
    let Some(set) = support::RedisSentinel::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let list: Vec<String> = set.sentinels.iter().map(|s| format!("\"{s}\"")).collect();
    let shared = format!(
        "\n[shared_state]\nsentinels = [{}]\nmaster_name = \"{}\"\ntimeout_ms = 500\n",
        list.join(", "),
        set.master_name
    );
    let limit = "[[rate_limits]]\nby = \"principal\"\nrequests = [\"s3\"]\nrate = 1000\nburst = 1000\nshared = true\n";
    let start = |name: &str| gateway_with(&backend, &shared, &dir.path().join(name), limit);
    let (a, b) = (start("a.json"), start("b.json"));
    let leaked = assume(&a, WRITER, "leaked", None);
    let later = assume(&a, WRITER, "later", None);
    let busy = assume(&a, READER, "busy", None);
    let (ok, said) = revoke(
        &a,
        ONCALL_KEY,
        &["--role-arn", WRITER, "--session-name", "leaked"],
    );
    assert!(ok, "{said}");
    let reached = |gw: &Gateway, creds: &Creds| {
        let started = std::time::Instant::now();
        while ls(gw, creds, &backend.bucket).status.success() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "the revocation never reached the other gateway"
            );
        }
    };
    reached(&b, &leaked);
    // Traffic at b while the master dies: every answer is S3's (no gateway error).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let traffic = {
        let (endpoint, stop) = (b.endpoint.clone(), stop.clone());
        let (busy, bucket) = (busy.clone(), backend.bucket.clone());
        std::thread::spawn(move || {
            let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = support::signed_s3_request(
                    &endpoint,
                    &busy,
                    "HEAD",
                    &format!("/{bucket}"),
                    "",
                    b"",
                );
                *statuses.entry(r.status).or_default() += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            statuses
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(500));
    set.kill_master();
    let killed = std::time::Instant::now();
    // A revocation is taken once a master answers again.
    loop {
        let (ok, said) = revoke(
            &a,
            ONCALL_KEY,
            &["--role-arn", WRITER, "--session-name", "later"],
        );
        if ok {
            break;
        }
        assert!(said.contains("ServiceUnavailable"), "{said}");
        assert!(
            killed.elapsed() < std::time::Duration::from_secs(40),
            "no master after 40 s: {said}"
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    eprintln!(
        "a revocation was taken again {:?} after the master was killed",
        killed.elapsed()
    );
    reached(&b, &later);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let statuses = traffic.join().unwrap();
    eprintln!("b's answers during the failover: {statuses:?}");
    assert_eq!(
        statuses.keys().copied().collect::<Vec<_>>(),
        vec![200],
        "{statuses:?}"
    );
}

/// Revoking a user's sessions: its GetSessionToken session and a role session chained from it
/// are refused; a role session the user assumed with its long-term key is not (it is the role's).
#[test]
fn revoking_a_user_refuses_its_session_and_the_sessions_chained_from_it() {
    let Some(backend) = Backend::start("s3s-fs") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(&backend, &dir.path().join("revocations.json"));
    let develop = gw.aws(DEVELOP.0, DEVELOP.1, None);
    let creds_of = |out: String| {
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let c = &v["Credentials"];
        Creds {
            key_id: c["AccessKeyId"].as_str().unwrap().into(),
            secret: c["SecretAccessKey"].as_str().unwrap().into(),
            token: Some(c["SessionToken"].as_str().unwrap().into()),
        }
    };
    let gst = creds_of(develop.ok(&["sts", "get-session-token"]));
    let chained = creds_of(gst.aws(&gw).ok(&[
        "sts",
        "assume-role",
        "--role-arn",
        WRITER,
        "--role-session-name",
        "chained",
    ]));
    let direct = assume(&gw, WRITER, "direct", None);
    assert!(ls(&gw, &chained, &backend.bucket).status.success());
    let (ok, said) = revoke(
        &gw,
        ONCALL_KEY,
        &["--user-arn", "arn:aws:iam::111122223333:user/develop"],
    );
    assert!(ok, "{said}");
    for (what, creds) in [
        ("the user's session", &gst),
        ("the chained session", &chained),
    ] {
        let out = creds.aws(&gw).run(&["sts", "get-caller-identity"]);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("AccessDenied"),
            "{what} was not refused"
        );
    }
    assert!(ls(&gw, &chained, &backend.bucket).status.code() != Some(0));
    assert!(ls(&gw, &direct, &backend.bucket).status.success());
}
