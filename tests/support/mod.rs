//! Test harness: real backends started through `scripts/backend.sh`, and real clients.
//!
//! `Backend::start` returns `None` (after printing a loud SKIPPED line) when a backend cannot be
//! started, unless `STSGATE_REQUIRE_BACKENDS=1`, in which case it panics: CI never passes a suite
//! whose backend is missing.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

pub mod api_backend;
pub mod keycloak;
pub mod oidc_issuer;
pub mod recorder;
pub mod s3s_reading;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn backends_required() -> bool {
    std::env::var("STSGATE_REQUIRE_BACKENDS").is_ok_and(|v| v == "1")
}

/// Skips (or, when backends are required, fails) a test whose prerequisite is missing.
pub fn unavailable(what: &str, why: &str) {
    if backends_required() {
        panic!("{what} is required (STSGATE_REQUIRE_BACKENDS=1) but unavailable: {why}");
    }
    eprintln!("\n******** SKIPPED: {what} unavailable: {why} ********\n");
}

/// A running S3 backend. Stopped when dropped.
pub struct Backend {
    pub kind: String,
    pub endpoint: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub bucket: String,
    pub region: String,
    /// The backend server's process id.
    pub pid: u32,
    dir: tempfile::TempDir,
}

/// A program built by `go install` (`scripts/backend.sh install minio|mc`), or else on PATH.
pub fn go_program(name: &str) -> Option<PathBuf> {
    Command::new("go")
        .args(["env", "GOPATH"])
        .output()
        .ok()
        .map(|o| {
            PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())
                .join("bin")
                .join(name)
        })
        .filter(|p| p.is_file())
        .or_else(|| which(name))
}

/// Builds the Go client programs of `tests/interop/go` into `dir` (its module cache is Go's own).
pub fn interop_go(dir: &Path) -> PathBuf {
    let program = dir.join("interop-go");
    let build = Command::new("go")
        .args(["build", "-o"])
        .arg(&program)
        .arg(".")
        .current_dir(repo_root().join("tests/interop/go"))
        .env("GOFLAGS", "-buildvcs=false")
        .output()
        .expect("go is on PATH");
    assert!(
        build.status.success(),
        "go build: {}",
        String::from_utf8_lossy(&build.stderr)
    );
    program
}

/// A MinIO server binary: built by `scripts/backend.sh install minio`, or on PATH.
pub fn minio_installed() -> bool {
    go_program("minio").is_some()
}

impl Backend {
    /// Starts `kind` (`garage`, `s3s-fs` or `minio`) in a fresh directory.
    pub fn start(kind: &str) -> Option<Backend> {
        if kind.starts_with("minio") && !minio_installed() {
            // MinIO is optional: scripts/backend.sh install minio needs a Go toolchain.
            eprintln!(
                "\n******** SKIPPED: minio (not installed: scripts/backend.sh install minio) ********\n"
            );
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix(&format!("stsgate-{kind}-"))
            .tempdir()
            .expect("temp dir");
        let out = Command::new(repo_root().join("scripts/backend.sh"))
            .arg("start")
            .arg(kind)
            .arg(dir.path())
            .output()
            .expect("cannot run scripts/backend.sh");
        if !out.status.success() {
            unavailable(kind, &String::from_utf8_lossy(&out.stderr));
            return None;
        }
        let stdout = String::from_utf8(out.stdout).expect("backend.sh prints UTF-8");
        let get = |key: &str| {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))
                .unwrap_or_else(|| panic!("backend.sh did not print {key}: {stdout}"))
                .to_string()
        };
        Some(Backend {
            kind: kind.to_string(),
            endpoint: get("ENDPOINT"),
            access_key_id: get("ACCESS_KEY_ID"),
            secret_access_key: get("SECRET_ACCESS_KEY"),
            bucket: get("BUCKET"),
            region: get("REGION"),
            pid: get("PID").parse().expect("PID is a number"),
            dir,
        })
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A `[[backends]]` entry pointing at this backend with its key and region.
    pub fn toml(&self) -> String {
        format!(
            "[[backends]]\nname = \"{}\"\nkind = \"s3\"\nurl = \"{}\"\nregion = \"{}\"\naccess_key_id = \"{}\"\nsecret_access_key = \"{}\"",
            self.kind, self.endpoint, self.region, self.access_key_id, self.secret_access_key
        )
    }

    /// An aws-cli invocation with this backend's credentials and endpoint, SigV4 everywhere.
    pub fn aws(&self) -> AwsCli {
        AwsCli::new(
            &self.endpoint,
            &self.access_key_id,
            &self.secret_access_key,
            None,
            &self.region,
            self.dir.path(),
        )
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("scripts/backend.sh"))
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}

/// Runs aws-cli with explicit credentials and an isolated config (no user profile leaks in).
pub struct AwsCli {
    endpoint: String,
    env: Vec<(String, String)>,
}

impl AwsCli {
    pub fn new(
        endpoint: &str,
        key_id: &str,
        secret: &str,
        token: Option<&str>,
        region: &str,
        scratch: &Path,
    ) -> AwsCli {
        // aws-cli v1 presigns with SigV2 unless told otherwise; stsgate speaks SigV4 only.
        let config = scratch.join("aws-config");
        std::fs::write(
            &config,
            format!("[default]\nregion = {region}\ns3 =\n    signature_version = s3v4\n"),
        )
        .expect("write aws config");
        let mut env = vec![
            ("AWS_ACCESS_KEY_ID".to_string(), key_id.to_string()),
            ("AWS_SECRET_ACCESS_KEY".to_string(), secret.to_string()),
            ("AWS_DEFAULT_REGION".to_string(), region.to_string()),
            ("AWS_CONFIG_FILE".to_string(), config.display().to_string()),
            (
                "AWS_SHARED_CREDENTIALS_FILE".to_string(),
                scratch.join("no-credentials").display().to_string(),
            ),
            ("AWS_EC2_METADATA_DISABLED".to_string(), "true".to_string()),
        ];
        if let Some(token) = token {
            env.push(("AWS_SESSION_TOKEN".to_string(), token.to_string()));
        }
        AwsCli {
            endpoint: endpoint.to_string(),
            env,
        }
    }

    /// The same invocation with one more environment variable (e.g. `AWS_MAX_ATTEMPTS`).
    pub fn with_env(mut self, name: &str, value: &str) -> AwsCli {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// Runs `aws --endpoint-url <endpoint> <args>` and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new("aws");
        cmd.arg("--endpoint-url")
            .arg(&self.endpoint)
            .args(args)
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.output().expect("cannot run aws (pip install awscli)")
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "aws {} failed: {}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("aws prints UTF-8")
    }
}

pub fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    })
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut hasher = Sha256::new();
    let mut file = std::fs::File::open(path).expect("open file");
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).expect("read file");
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    hex::encode(hasher.finalize())
}

/// Writes `len` bytes of deterministic pseudo-random data (a simple LCG: content, not secrecy).
pub fn write_test_file(path: &Path, len: usize, seed: u64) {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut data = Vec::with_capacity(len);
    while data.len() < len {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        data.extend_from_slice(&state.to_le_bytes());
    }
    data.truncate(len);
    std::fs::write(path, data).expect("write test file");
}

/// The demo config text with its `[[backends]]` entry replaced by `backend_toml`, plus `extra`
/// TOML inserted before it.
pub fn config_with_backend(backend_toml: &str, extra: &str) -> String {
    let demo = std::fs::read_to_string(repo_root().join("config/stsgate.toml")).unwrap();
    let start = demo.find("[[backends]]").unwrap();
    let end = demo[start..].find("\n\n").map(|i| start + i).unwrap();
    format!("{}{extra}\n{backend_toml}{}", &demo[..start], &demo[end..])
}

/// A running `stsgate serve` with a given config text (ports replaced by free ones).
pub struct Gateway {
    pub endpoint: String,
    /// The admin listener (`/health`, `/ready`, `/metrics`).
    pub admin: String,
    pub config_path: PathBuf,
    child: std::process::Child,
    /// The gateway's stdout (where `[audit] stdout = true` writes), never read unless a test
    /// takes it: an unread pipe is how the audit overflow test makes the writer stall.
    pub stdout: Option<std::process::ChildStdout>,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Gateway {
    /// Starts the gateway with `config_text` (the demo config's ports are rewritten).
    pub fn start(config_text: &str) -> Gateway {
        Gateway::start_with_fd_limit(config_text, None)
    }

    /// The process id of `stsgate serve`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// As [`Gateway::start`], with the open-file limit lowered to `nofile` (through `ulimit`).
    pub fn start_with_fd_limit(config_text: &str, nofile: Option<u32>) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("policies")).unwrap();
        std::fs::copy(
            repo_root().join("config/policies/s3-read-only.json"),
            dir.path().join("policies/s3-read-only.json"),
        )
        .unwrap();
        let (gw, admin) = (free_port(), free_port());
        let text = config_text
            .replace(
                "listen = \"127.0.0.1:7480\"",
                &format!("listen = \"127.0.0.1:{gw}\""),
            )
            .replace(
                "admin_listen = \"127.0.0.1:7481\"",
                &format!("admin_listen = \"127.0.0.1:{admin}\""),
            );
        let config_path = dir.path().join("stsgate.toml");
        std::fs::write(&config_path, text).unwrap();
        let log = std::fs::File::create(dir.path().join("gateway.log")).unwrap();
        let mut command = match nofile {
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .arg(env!("CARGO_BIN_EXE_stsgate"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_stsgate")),
        };
        // stsgate's own debug lines (each forwarded request's operation and payload mode) are
        // what some tests read to see how a client's request went through.
        if std::env::var_os("STSGATE_LOG").is_none() {
            command.env("STSGATE_LOG", "info,stsgate=debug");
        }
        let child = command
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .stdout(std::process::Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut child = child;
        let stdout = child.stdout.take();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", admin)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the gateway did not start: {}",
                std::fs::read_to_string(dir.path().join("gateway.log")).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Gateway {
            endpoint: format!("http://127.0.0.1:{gw}"),
            admin: format!("http://127.0.0.1:{admin}"),
            config_path,
            child,
            stdout,
            _dir: dir,
        }
    }

    /// The demo config pointed at `backend` (its URL, key and region), plus `extra` TOML
    /// inserted before the backends section.
    pub fn in_front_of(backend: &Backend, extra: &str) -> Gateway {
        Gateway::with_backend(&backend.toml(), extra)
    }

    /// The demo config with its `[[backends]]` entry replaced by `backend_toml`, plus `extra`
    /// TOML inserted before it.
    pub fn with_backend(backend_toml: &str, extra: &str) -> Gateway {
        Gateway::start(&config_with_backend(backend_toml, extra))
    }

    pub fn demo() -> Gateway {
        Gateway::start(&std::fs::read_to_string(repo_root().join("config/stsgate.toml")).unwrap())
    }

    /// aws-cli with the given credentials against this gateway.
    pub fn aws(&self, key_id: &str, secret: &str, token: Option<&str>) -> AwsCli {
        AwsCli::new(
            &self.endpoint,
            key_id,
            secret,
            token,
            "us-east-1",
            self._dir.path(),
        )
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("gateway.log")).unwrap_or_default()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The demo users' long-term keys.
pub const DEVELOP: (&str, &str) = (
    "AKIARTX3GSDSSMDOBCNR",
    "zNCaXt23IxFgfCt08vWrL/AoIP1Dw3kANWGG3cDE",
);
pub const NO_SKILL: (&str, &str) = (
    "AKIARTX3GSDSQ7NFB6A5",
    "ciClNmvAIfJUv16yJRnLmT4T5yyXKCsZHNJb89vL",
);
pub const AUDITOR: (&str, &str) = (
    "AKIARTX3GSDSYQ5LXWVD",
    "JTVU4+B11z86W+RdOWaokYF/yTp1bLk0gwOLRWeL",
);
pub const S3_ROLE: &str = "arn:aws:iam::111122223333:role/s3_role";
pub const NO_SKILL_MFA: &str = "arn:aws:iam::111122223333:mfa/no_skill";

/// A role develop may assume with full S3 access (for tests that write through the gateway).
pub const WRITER_ROLE: &str = r#"
[[accounts.roles]]
name = "s3_writer"
trust_policy = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/develop"},"Action":"sts:AssumeRole"}}'
inline_policies = [{ name = "All", document = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}' }]
"#;

/// True if the backend itself has `key` (checked with the backend's own credentials).
pub fn backend_has(backend: &Backend, key: &str) -> bool {
    backend
        .aws()
        .run(&[
            "s3api",
            "head-object",
            "--bucket",
            &backend.bucket,
            "--key",
            key,
        ])
        .status
        .success()
}

/// The current code of the demo's MFA device `no_skill` (via `stsgate mfa-code`).
pub fn mfa_code(gw: &Gateway) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_stsgate"))
        .args(["mfa-code", "--serial", NO_SKILL_MFA, "--config"])
        .arg(&gw.config_path)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Temporary credentials, usable with aws-cli or a hand signer.
#[derive(Clone)]
pub struct Creds {
    pub key_id: String,
    pub secret: String,
    pub token: Option<String>,
}

impl Creds {
    /// A SigV4 signer for these credentials (us-east-1, `service`).
    pub fn signer(&self, service: &str) -> stsgate::sigv4::Signer {
        stsgate::sigv4::Signer::new(
            &self.key_id,
            &self.secret,
            self.token.as_deref(),
            "us-east-1",
            service,
            stsgate::sigv4::SigningKeyCache::disabled(),
        )
    }

    pub fn aws(&self, gw: &Gateway) -> AwsCli {
        gw.aws(&self.key_id, &self.secret, self.token.as_deref())
    }
}

/// Temporary credentials for `role` from AssumeRole as develop (with a session policy).
pub fn assume(gw: &Gateway, role: &str, session: &str, policy: Option<&str>) -> Creds {
    let develop = gw.aws(DEVELOP.0, DEVELOP.1, None);
    let mut args = vec![
        "sts",
        "assume-role",
        "--role-arn",
        role,
        "--role-session-name",
        session,
    ];
    if let Some(p) = policy {
        args.extend(["--policy", p]);
    }
    let v: serde_json::Value = serde_json::from_str(&develop.ok(&args)).unwrap();
    let c = &v["Credentials"];
    Creds {
        key_id: c["AccessKeyId"].as_str().unwrap().to_string(),
        secret: c["SecretAccessKey"].as_str().unwrap().to_string(),
        token: Some(c["SessionToken"].as_str().unwrap().to_string()),
    }
}

/// Runs aws-cli expecting failure; returns its stderr.
pub fn fails(aws: &AwsCli, args: &[&str]) -> String {
    let out = aws.run(args);
    assert!(
        !out.status.success(),
        "aws {} unexpectedly succeeded",
        args.join(" ")
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `creds` with its session token re-sealed to have expired `ago` seconds ago.
pub fn expired_copy(gw: &Gateway, creds: &Creds, ago: i64) -> Creds {
    let loaded = stsgate::config::load(&gw.config_path).unwrap();
    let state = stsgate::server::State::new(std::sync::Arc::new(loaded.config)).unwrap();
    let purpose = stsgate::sts::Purpose::SessionToken;
    let mut claims: stsgate::sts::SessionClaims = serde_json::from_slice(
        &state
            .keyring
            .open(purpose, creds.token.as_deref().unwrap())
            .unwrap(),
    )
    .unwrap();
    claims.expires_at = stsgate::sigv4::AmzDate::now().unix() - ago;
    Creds {
        key_id: creds.key_id.clone(),
        secret: creds.secret.clone(),
        token: Some(
            state
                .keyring
                .seal(purpose, &serde_json::to_vec(&claims).unwrap()),
        ),
    }
}

/// A self-signed certificate for localhost and *.s3.localhost (openssl), and a client that
/// trusts it and offers only h2.
pub fn tls_material(
    dir: &std::path::Path,
) -> (
    std::path::PathBuf,
    std::path::PathBuf,
    tokio_rustls::TlsConnector,
) {
    let (cert, key) = (dir.join("gw.crt"), dir.join("gw.key"));
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .args(["-days", "1", "-subj", "/CN=localhost"])
        .args([
            "-addext",
            "subjectAltName=DNS:localhost,DNS:*.s3.localhost,IP:127.0.0.1",
        ])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (Debian package openssl) is needed for the h2-over-TLS cases");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_file(&cert).unwrap())
        .unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    (
        cert,
        key,
        tokio_rustls::TlsConnector::from(Arc::new(config)),
    )
}

/// `config_text` with the demo config's commented TLS block turned on with `cert` and `key`.
pub fn with_tls(config_text: &str, cert: &Path, key: &Path) -> String {
    let text = config_text.replace(
        "# [server.tls]                     # serve HTTPS (paths relative to this file)\n# cert = \"../certs/stsgate.crt\"\n# key = \"../certs/stsgate.key\"",
        &format!("[server.tls]\ncert = \"{}\"\nkey = \"{}\"", cert.display(), key.display()),
    );
    assert!(
        text.contains("[server.tls]\ncert"),
        "the demo config's TLS block moved"
    );
    text
}

/// A response read off the wire by [`raw_request`].
#[derive(Debug)]
pub struct RawReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends exactly these bytes over HTTP/1.1 to `endpoint` (`http://host:port`): the request
/// line and headers as given, `Host` added when absent (signers that leave it to the HTTP
/// library sign the URL's host), `Content-Length` when there is a body and none is given,
/// `Connection: close`; reads the whole reply (20 s at most).
pub fn raw_request(
    endpoint: &str,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> RawReply {
    use std::io::{Read, Write};
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut wire = format!("{method} {target} HTTP/1.1\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        wire.push_str(&format!("host: {addr}\r\n"));
    }
    let mut has_length = false;
    for (k, v) in headers {
        has_length |= k.eq_ignore_ascii_case("content-length");
        wire.push_str(&format!("{k}: {v}\r\n"));
    }
    if !has_length && !body.is_empty() {
        wire.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    wire.push_str("connection: close\r\n\r\n");
    stream.write_all(wire.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    RawReply {
        status,
        headers,
        body: body.to_string(),
    }
}

/// Sends a request signed for `s3` with `creds` (the body's SHA-256 signed) to the gateway at
/// `endpoint`, as raw HTTP/1.1 bytes (see [`raw_request`]).
#[allow(dead_code)]
pub fn signed_s3_request(
    endpoint: &str,
    creds: &Creds,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
) -> RawReply {
    use sha2::Digest as _;
    let host = endpoint.trim_start_matches("http://");
    let mut headers = http::HeaderMap::new();
    headers.insert("host", host.parse().unwrap());
    creds
        .signer("s3")
        .sign(
            method,
            path,
            query,
            &mut headers,
            &hex::encode(sha2::Sha256::digest(body)),
            stsgate::sigv4::AmzDate::now(),
        )
        .unwrap();
    let target = if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    };
    raw_request(endpoint, method, &target, &header_pairs(&headers), body)
}

/// `headers` as (name, value) pairs for [`raw_request`].
pub fn header_pairs(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
        .collect()
}

/// A throw-away Redis started by `scripts/redis.sh` (the shared state of several gateways).
/// Stopped when dropped.
pub struct Redis {
    pub url: String,
    pub port: u16,
    /// The password Redis requires (`requirepass`), if any.
    pub password: Option<String>,
    dir: tempfile::TempDir,
}

impl Redis {
    /// Starts Redis (on `port`, or a free one); `None` after a SKIPPED line when it cannot run
    /// (a failure when backends are required).
    pub fn start(port: Option<u16>) -> Option<Redis> {
        Redis::start_in(Redis::scratch(), port, None, false)
    }

    /// As [`Redis::start`], requiring `password`.
    /// Starts Redis serving TLS only (`rediss://`), its certificate from a throw-away CA whose
    /// PEM file is [`Redis::ca_file`].
    pub fn start_tls() -> Option<Redis> {
        Redis::start_in(Redis::scratch(), None, None, true)
    }

    /// The CA of a TLS Redis.
    pub fn ca_file(&self) -> std::path::PathBuf {
        self.dir.path().join("ca.pem")
    }

    pub fn start_with_password(password: &str) -> Option<Redis> {
        Redis::start_in(Redis::scratch(), None, Some(password.to_string()), false)
    }

    fn scratch() -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix("stsgate-redis-")
            .tempdir()
            .unwrap()
    }

    fn start_in(
        dir: tempfile::TempDir,
        port: Option<u16>,
        password: Option<String>,
        tls: bool,
    ) -> Option<Redis> {
        let mut command = Command::new(repo_root().join("scripts/redis.sh"));
        command.arg("start").arg(dir.path());
        if tls {
            command.env("REDIS_TLS", "1");
        }
        if let Some(p) = port {
            command.env("REDIS_PORT", p.to_string());
        }
        if let Some(p) = &password {
            command.env("REDIS_PASSWORD", p);
        }
        let out = command.output().expect("cannot run scripts/redis.sh");
        if !out.status.success() {
            unavailable("redis", &String::from_utf8_lossy(&out.stderr));
            return None;
        }
        let stdout = String::from_utf8(out.stdout).unwrap();
        let get = |key: &str| {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))
                .unwrap_or_else(|| panic!("redis.sh did not print {key}: {stdout}"))
                .to_string()
        };
        Some(Redis {
            url: get("REDIS_URL"),
            port: get("PORT").parse().unwrap(),
            password,
            dir,
        })
    }

    pub fn stop(&self) {
        let _ = Command::new(repo_root().join("scripts/redis.sh"))
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }

    /// Stops this Redis and starts a fresh one (empty) on the same port.
    pub fn restart(self) -> Redis {
        self.stop();
        let (port, password) = (self.port, self.password.clone());
        drop(self);
        Redis::start_in(Redis::scratch(), Some(port), password, false)
            .expect("redis restarts on its port")
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs a Python script with `env` added; its stdout (the test fails with its stderr if it fails).
pub fn python(script: &str, env: &[(&str, &str)]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

impl Creds {
    /// Python lines making `s3`, a boto3 S3 client with these credentials against the gateway,
    /// signing with SigV4 (boto3 signs POST policies with SigV2 unless told).
    pub fn boto3_s3(&self, gw: &Gateway) -> String {
        format!(
            "import boto3, json\nfrom botocore.config import Config\ns3 = boto3.client(\"s3\", endpoint_url=\"{}\", region_name=\"us-east-1\", aws_access_key_id=\"{}\", aws_secret_access_key=\"{}\", aws_session_token=\"{}\", config=Config(signature_version=\"s3v4\"))\n",
            gw.endpoint,
            self.key_id,
            self.secret,
            self.token.as_deref().unwrap_or("")
        )
    }
}

/// The gateway's `/metrics` text.
pub fn metrics(gw: &Gateway) -> String {
    let out = Command::new("curl")
        .args(["-sS", &format!("{}/metrics", gw.admin)])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An object's bytes as the backend itself has them (read with the backend's own key).
pub fn backend_bytes(backend: &Backend, key: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("object");
    backend.aws().ok(&[
        "s3",
        "cp",
        &format!("s3://{}/{key}", backend.bucket),
        out.to_str().unwrap(),
    ]);
    std::fs::read(out).unwrap()
}

/// A Redis master, its replica and three sentinels (`scripts/redis.sh start-sentinel`). Stopped
/// when dropped.
pub struct RedisSentinel {
    /// `redis://host:port` of each sentinel.
    pub sentinels: Vec<String>,
    pub master_name: String,
    /// The master's own folder (`scripts/redis.sh stop` on it kills the master).
    pub master_dir: PathBuf,
    dir: tempfile::TempDir,
}

impl RedisSentinel {
    pub fn start() -> Option<RedisSentinel> {
        let dir = tempfile::Builder::new()
            .prefix("stsgate-sentinel-")
            .tempdir()
            .unwrap();
        let out = Command::new(repo_root().join("scripts/redis.sh"))
            .arg("start-sentinel")
            .arg(dir.path())
            .output()
            .expect("cannot run scripts/redis.sh");
        if !out.status.success() {
            unavailable("redis-sentinel", &String::from_utf8_lossy(&out.stderr));
            return None;
        }
        let stdout = String::from_utf8(out.stdout).unwrap();
        let get = |key: &str| {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))
                .unwrap_or_else(|| panic!("redis.sh did not print {key}: {stdout}"))
                .to_string()
        };
        Some(RedisSentinel {
            sentinels: get("SENTINELS").split(',').map(str::to_string).collect(),
            master_name: get("MASTER_NAME"),
            master_dir: PathBuf::from(get("MASTER_DIR")),
            dir,
        })
    }

    /// Kills the master: the sentinels promote the replica.
    pub fn kill_master(&self) {
        let _ = Command::new(repo_root().join("scripts/redis.sh"))
            .arg("stop")
            .arg(&self.master_dir)
            .output();
    }
}

impl Drop for RedisSentinel {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("scripts/redis.sh"))
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}
