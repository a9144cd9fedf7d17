//! The `stsgate` binary as an operator uses it: exit codes, printed problems, keygen, serve.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::repo_root;

fn stsgate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stsgate"))
}

fn demo_text() -> String {
    std::fs::read_to_string(repo_root().join("config/stsgate.toml")).unwrap()
}

/// Writes a config next to a copy of the demo's policy files, so relative `file:` paths work.
fn write_config(dir: &Path, text: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    std::fs::copy(
        repo_root().join("config/policies/s3-read-only.json"),
        dir.join("policies/s3-read-only.json"),
    )
    .unwrap();
    let path = dir.join("stsgate.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn check_passes_the_demo_config() {
    let out = stsgate()
        .args(["check", "--config"])
        .arg(repo_root().join("config/stsgate.toml"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("valid (1 account(s), 3 user(s), 3 role(s), 2 backend(s))"),
        "{stdout}"
    );
}

#[test]
fn check_uses_the_default_path_from_the_repo_root() {
    let out = stsgate()
        .arg("check")
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_strict_fails_on_warnings() {
    // The demo's dev-mode warning is enough for --strict to fail.
    let out = stsgate()
        .args(["check", "--strict", "--config"])
        .arg(repo_root().join("config/stsgate.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning in server: dev_mode is on"));
}

#[test]
fn check_exits_64_and_lists_every_located_error() {
    let dir = tempfile::tempdir().unwrap();
    let broken = demo_text()
        .replace("id = \"111122223333\"", "id = \"42\"")
        .replace("max_session_duration = 3600", "max_session_duration = 99")
        .replace("url = \"http://127.0.0.1:3900\"", "url = \"ftp://x\"");
    let path = write_config(dir.path(), &broken);
    let out = stsgate()
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let located = stderr
        .lines()
        .filter(|l| l.contains("stsgate.toml:") && l.contains(": error in "))
        .count();
    assert!(located >= 3, "expected 3 located errors:\n{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("invalid (3 error(s))"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn check_reports_a_missing_file() {
    let out = stsgate()
        .args(["check", "--config", "/nonexistent/stsgate.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the config file"));
}

#[test]
fn keygen_output_drops_into_the_keyring() {
    let out = stsgate()
        .args(["keygen", "--id", "rotated-1"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let snippet = String::from_utf8(out.stdout).unwrap();
    assert!(
        snippet.starts_with("[[keyring.keys]]\nid = \"rotated-1\"\n"),
        "{snippet}"
    );
    // Add the new key next to the old one and make it active: the config must stay valid.
    let text = demo_text()
        .replace("active = \"demo-2026-11\"", "active = \"rotated-1\"")
        .replace("\n[[accounts]]\n", &format!("\n{snippet}\n[[accounts]]\n"));
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &text);
    let check = stsgate()
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn keygen_access_key_encodes_the_account() {
    let out = stsgate()
        .args(["keygen", "--access-key", "111122223333"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let id = text
        .lines()
        .find_map(|l| l.strip_prefix("id = \""))
        .unwrap()
        .trim_end_matches('"');
    assert_eq!(
        stsgate::identity::decode_access_key_id(id),
        Some((stsgate::identity::KeyKind::LongTerm, 111122223333))
    );
    let bad = stsgate()
        .args(["keygen", "--access-key", "12"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(64));
}

#[test]
fn serve_refuses_a_bad_config_before_binding() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        &demo_text().replace("id = \"111122223333\"", "id = \"42\""),
    );
    let out = stsgate()
        .args(["serve", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid config, not starting"));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

#[test]
fn serve_answers_health_and_refuses_anonymous_requests() {
    let (gw, admin) = (free_port(), free_port());
    let text = demo_text()
        .replace(
            "listen = \"127.0.0.1:7480\"",
            &format!("listen = \"127.0.0.1:{gw}\""),
        )
        .replace(
            "admin_listen = \"127.0.0.1:7481\"",
            &format!("admin_listen = \"127.0.0.1:{admin}\""),
        );
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &text);
    /// Kills the server even when an assertion fails first (an orphan would also keep the
    /// test's stdout open).
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = KillOnDrop(
        stsgate()
            .args(["serve", "--config"])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let health = loop {
        if let Some(r) = http_get(admin, "/health") {
            break r;
        }
        assert!(Instant::now() < deadline, "admin listener never came up");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let gateway = http_get(gw, "/stsgate-test/key").unwrap();
    assert!(gateway.starts_with("HTTP/1.1 403"), "{gateway}");
    assert!(
        gateway.contains("<Code>AccessDenied</Code>")
            && gateway.contains("<Message>Access Denied</Message>"),
        "{gateway}"
    );
    let metrics = http_get(admin, "/metrics").unwrap();
    assert!(
        metrics.contains("stsgate_gateway_responses_total{class=\"4xx\"} 1"),
        "{metrics}"
    );
    // SIGTERM drains and exits 0.
    let _ = Command::new("kill").arg(child.0.id().to_string()).status();
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

fn simulate_lines(
    args: &[&str],
    files: &[(&str, &str)],
) -> (Option<i32>, Vec<serde_json::Value>, String) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let out = stsgate()
        .arg("simulate")
        .args(args)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (
        out.status.code(),
        lines,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn simulate_explains_session_policy_intersection() {
    let role = r#"{"Version":"2012-10-17","Statement":{"Sid":"Read","Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"*"}}"#;
    let session = r#"{"Version":"2012-10-17","Statement":{"Sid":"ListOnly","Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}}"#;
    let (code, lines, _) = simulate_lines(
        &[
            "--policy",
            "role.json",
            "--session-policy",
            "session.json",
            "--action",
            "s3:ListBucket",
            "--action",
            "s3:GetObject",
            "--resource",
            "arn:aws:s3:::b",
        ],
        &[("role.json", role), ("session.json", session)],
    );
    assert_eq!(code, Some(0));
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["decision"], "allowed");
    let sids: Vec<_> = lines[0]["matchedStatements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["sid"].as_str().unwrap().to_string())
        .collect();
    assert!(
        sids.contains(&"Read".to_string()) && sids.contains(&"ListOnly".to_string()),
        "{sids:?}"
    );
    assert_eq!(lines[1]["decision"], "implicitDeny");
    assert_eq!(
        lines[1]["reason"],
        "because no session policy allows the s3:GetObject action"
    );
}

#[test]
fn simulate_uses_context_keys() {
    let p = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},
      {"Sid":"OnlyFromOffice","Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#;
    let (_, inside, _) = simulate_lines(
        &[
            "--policy",
            "p.json",
            "--action",
            "s3:GetObject",
            "--context",
            "aws:SourceIp=ip:10.1.2.3",
        ],
        &[("p.json", p)],
    );
    assert_eq!(inside[0]["decision"], "allowed");
    let (_, outside, _) = simulate_lines(
        &[
            "--policy",
            "p.json",
            "--action",
            "s3:GetObject",
            "--context",
            "aws:SourceIp=ip:192.0.2.1",
        ],
        &[("p.json", p)],
    );
    assert_eq!(outside[0]["decision"], "explicitDeny");
    assert_eq!(outside[0]["matchedStatements"][0]["sid"], "OnlyFromOffice");
    let (code, _, err) = simulate_lines(
        &[
            "--policy",
            "p.json",
            "--action",
            "s3:GetObject",
            "--context",
            "aws:SourceIp=ipv9:x",
        ],
        &[("p.json", p)],
    );
    assert_eq!(code, Some(64));
    assert!(err.contains("unknown type 'ipv9'"), "{err}");
}

#[test]
fn simulate_exits_64_on_a_malformed_policy() {
    let (code, lines, err) = simulate_lines(
        &["--policy", "bad.json", "--action", "s3:GetObject"],
        &[(
            "bad.json",
            r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject"}}"#,
        )],
    );
    assert_eq!(code, Some(64));
    assert!(lines.is_empty());
    assert!(
        err.contains("MalformedPolicyDocument: Statement 1: Resource or NotResource is missing"),
        "{err}"
    );
}
