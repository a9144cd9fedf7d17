//! Config reload without a restart: an edited policy applies to the next request of a live
//! session; a broken file leaves the running config serving (logged with its place, counted);
//! SIGHUP reloads too; a keyring rotation keeps sessions sealed with a still-listed key valid.

mod support;

use std::time::{Duration, Instant};

use support::recorder::Recorder;
use support::{Gateway, assume, config_with_backend, fails};

const ROLE: &str = r#"
[[accounts.roles]]
name = "reload_role"
trust_policy = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/develop"},"Action":"sts:AssumeRole"}}'
inline_policies = [{ name = "Bucket", document = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}' }]
"#;

fn metric(gw: &Gateway, name: &str) -> u64 {
    let out = std::process::Command::new("curl")
        .args(["-s", &format!("{}/metrics", gw.admin)])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

/// Waits until `name` reaches `at_least` (the watcher polls every 2 s).
fn wait_metric(gw: &Gateway, name: &str, at_least: u64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while metric(gw, name) < at_least {
        assert!(
            Instant::now() < deadline,
            "{name} did not reach {at_least}: {}",
            gw.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Rewrites the config file. Sleeps past the file system's timestamp resolution first, so the
/// change is seen even within the same second.
fn edit(gw: &Gateway, f: impl FnOnce(String) -> String) {
    std::thread::sleep(Duration::from_millis(1100));
    let text = std::fs::read_to_string(&gw.config_path).unwrap();
    let new = f(text.clone());
    assert_ne!(new, text, "the edit changed nothing");
    std::fs::write(&gw.config_path, new).unwrap();
}

#[test]
fn policy_edits_broken_files_sighup_and_key_rotation() {
    let recorder = Recorder::start();
    let gw = Gateway::start(&config_with_backend(&recorder.backend_toml(), ROLE));
    let session = assume(
        &gw,
        "arn:aws:iam::111122223333:role/reload_role",
        "live",
        None,
    );
    let cli = session.aws(&gw);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, b"reload").unwrap();
    let put = |key: &str| {
        cli.run(&[
            "s3",
            "cp",
            file.to_str().unwrap(),
            &format!("s3://reload/{key}"),
        ])
        .status
        .success()
    };
    assert!(put("before"));

    // The role's policy now denies: the same live session is refused at its next request.
    edit(&gw, |t| {
        t.replace(
            r#"{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#,
            r#"{"Effect":"Deny","Action":"s3:*","Resource":"*"}"#,
        )
    });
    wait_metric(&gw, "stsgate_config_reloads_total", 1);
    assert!(!put("after-deny"));
    assert!(fails(&cli, &["s3", "ls", "s3://reload/"]).contains("AccessDenied"));

    // A broken file: refused with its place, counted, and the running config keeps serving.
    edit(&gw, |t| {
        t.replace("[keyring]", "[keyring]\nactive_typo = =")
    });
    wait_metric(&gw, "stsgate_config_reload_failures_total", 1);
    let log = gw.log();
    assert!(
        log.contains("config reload refused") && log.contains("stsgate.toml:"),
        "{log}"
    );
    assert!(
        !put("while-broken"),
        "the last good config (deny) still applies"
    );
    assert_eq!(metric(&gw, "stsgate_config_reloads_total"), 1);

    // Fixed, with the allow back and the keyring rotated (a new active key, the old one kept):
    // reloaded on SIGHUP, and the session sealed with the old key still works.
    edit(&gw, |t| {
        t.replace("[keyring]\nactive_typo = =", "[keyring]")
            .replace(r#"{"Effect":"Deny","Action":"s3:*","Resource":"*"}"#, r#"{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#)
            .replace("active = \"demo-2026-11\"", "active = \"rotated-2026-12\"\n[[keyring.keys]]\nid = \"rotated-2026-12\"\nsecret = \"qEG3Q0W4R8Ywdt5OkSdAVgbkPaHnYq6wHyIy9L1zsfM=\"")
    });
    let ok = std::process::Command::new("kill")
        .args(["-HUP", &gw.pid().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    wait_metric(&gw, "stsgate_config_reloads_total", 2);
    assert!(put("after-fix"), "{}", gw.log());
    // New sessions are sealed with the new key and work too.
    let fresh = assume(
        &gw,
        "arn:aws:iam::111122223333:role/reload_role",
        "fresh",
        None,
    );
    assert!(
        fresh
            .aws(&gw)
            .run(&["s3", "cp", file.to_str().unwrap(), "s3://reload/fresh"])
            .status
            .success(),
        "a session sealed with the new active key: {}",
        gw.log()
    );
    assert!(
        recorder
            .seen()
            .iter()
            .any(|s| s.path == "/reload/after-fix")
    );
}
