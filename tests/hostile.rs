//! The hostile corpus (`tests/hostile/corpus.txt`): requests that try to make the backend
//! execute something other than what the gateway authorized, each sent over HTTP/1.1 (raw bytes,
//! so absolute-form targets and duplicate headers go out exactly as written), h2c (prior
//! knowledge) and h2 over TLS, in front of the recording backend, Garage and s3s-fs.
//!
//! Every refusal must carry the S3 status and code the corpus names and reach no backend (the
//! recorder counts what arrives); every forwarded case must reach the backend as the request
//! line the corpus names; no response may ever carry another bucket's or a denied prefix's data.

mod support;

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use sha2::{Digest, Sha256};
use support::recorder::Recorder;
use support::{Backend, Creds, Gateway, WRITER_ROLE, assume, config_with_backend};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WRITER: &str = "arn:aws:iam::111122223333:role/s3_writer";
const OTHER_BUCKET: &str = "bucketb";
/// Data no response may ever carry: the other bucket's object and the denied prefix's.
const SECRETS: &[&str] = &["TOP-SECRET-B", "PRIVATE-A"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Http1,
    H2c,
    H2Tls,
}

#[derive(Debug)]
enum Expect {
    Refuse(u16, String),
    /// Forwarded; the status if the corpus names one.
    Forward(Option<u16>),
}

#[derive(Debug)]
struct Case {
    line: usize,
    expect: Expect,
    method: String,
    target: String,
    host: Option<String>,
    authority: Option<String>,
    headers: Vec<(String, String)>,
    body: String,
    upstream: Option<String>,
    has: Option<String>,
    http1_only: bool,
}

fn load(vars: &[(&str, String)]) -> Vec<Case> {
    let text = std::fs::read_to_string(support::repo_root().join("tests/hostile/corpus.txt"))
        .expect("tests/hostile/corpus.txt");
    let fill = |s: &str| {
        let mut s = s.to_string();
        for (k, v) in vars {
            s = s.replace(&format!("{{{k}}}"), v);
        }
        s
    };
    let mut cases = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split(" | ");
        let mut head = parts.next().unwrap().split_whitespace();
        let (expect, method, target) = (head.next().unwrap(), head.next().unwrap(), head.next());
        let target = fill(target.unwrap_or_else(|| panic!("line {}: no target", i + 1)));
        let expect = match expect.split_once(':') {
            Some(("fwd", "*")) => Expect::Forward(None),
            Some(("fwd", s)) => Expect::Forward(Some(s.parse().unwrap())),
            Some((s, code)) => Expect::Refuse(s.parse().unwrap(), code.to_string()),
            None => panic!("line {}: bad expectation {expect}", i + 1),
        };
        let mut case = Case {
            line: i + 1,
            expect,
            method: method.to_string(),
            target,
            host: Some(fill("{gw}")),
            authority: None,
            headers: Vec::new(),
            body: String::new(),
            upstream: None,
            has: None,
            http1_only: false,
        };
        for option in parts {
            let option = option.trim();
            let (name, value) = option.split_once('=').unwrap();
            let value = fill(value);
            match name {
                "h" => {
                    let (k, v) = value.split_once(": ").unwrap();
                    case.headers.push((k.to_ascii_lowercase(), v.to_string()));
                }
                "host" => case.host = (!value.is_empty()).then_some(value),
                "authority" => case.authority = Some(value),
                "body" => case.body = value,
                "up" => case.upstream = Some(value),
                "has" => case.has = Some(value),
                "only" => case.http1_only = value == "http1",
                _ => panic!("line {}: unknown option {name}", i + 1),
            }
        }
        cases.push(case);
    }
    cases
}

/// The signed header list of a case: `host` is what the gateway reads as the host (the Host
/// header, else the authority), and is left out of what is sent when the case has no Host header.
fn signed_headers(case: &Case, creds: &Creds) -> Vec<(String, String)> {
    let signing_host = case
        .host
        .clone()
        .or_else(|| case.authority.clone())
        .unwrap_or_default();
    let mut headers = http::HeaderMap::new();
    headers.insert("host", signing_host.parse().unwrap());
    for (k, v) in &case.headers {
        headers.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    let (path, query) = case.target.split_once('?').unwrap_or((&case.target, ""));
    let signer = creds.signer("s3");
    let hash = hex::encode(Sha256::digest(case.body.as_bytes()));
    signer
        .sign(
            &case.method,
            path,
            query,
            &mut headers,
            &hash,
            stsgate::sigv4::AmzDate::now(),
        )
        .unwrap();
    let mut out: Vec<(String, String)> = headers
        .iter()
        .filter(|(k, _)| *k != "host" || case.host.is_some())
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
        .collect();
    if !case.body.is_empty() || matches!(case.method.as_str(), "PUT" | "POST") {
        out.push(("content-length".into(), case.body.len().to_string()));
    }
    out
}

#[derive(Debug)]
struct Reply {
    status: u16,
    code: Option<String>,
    body: String,
}

fn code_of(body: &str, header: Option<&str>) -> Option<String> {
    if let Some(h) = header {
        return Some(h.to_string());
    }
    let start = body.find("<Code>")? + 6;
    let end = body[start..].find("</Code>")? + start;
    Some(body[start..end].to_string())
}

/// HTTP/1.1 as raw bytes: the request line and headers go out exactly as the case writes them.
async fn send_http1(addr: SocketAddr, case: &Case, headers: &[(String, String)]) -> Reply {
    let target = match &case.authority {
        Some(a) => format!("http://{a}{}", case.target),
        None => case.target.clone(),
    };
    let mut wire = format!("{} {target} HTTP/1.1\r\n", case.method);
    for (k, v) in headers {
        wire.push_str(&format!("{k}: {v}\r\n"));
    }
    wire.push_str("connection: close\r\n\r\n");
    wire.push_str(&case.body);
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(wire.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        stream.read_to_end(&mut response),
    )
    .await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let error_header = head.lines().find_map(|l| {
        l.split_once(':')
            .filter(|(k, _)| k.eq_ignore_ascii_case("x-amz-error-code"))
            .map(|(_, v)| v.trim())
    });
    Reply {
        status,
        code: code_of(body, error_header),
        body: body.to_string(),
    }
}

/// HTTP/2 (h2c with prior knowledge, or h2 over TLS): `:authority` is the case's authority, or
/// its Host value; a Host header goes along only when the case gives both.
async fn send_h2(
    addr: SocketAddr,
    tls: Option<&tokio_rustls::TlsConnector>,
    case: &Case,
    headers: &[(String, String)],
) -> Reply {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (scheme, mut sender) = match tls {
        Some(connector) => {
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let stream = connector.connect(name, tcp).await.unwrap();
            let (sender, conn) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                    .await
                    .unwrap();
            tokio::spawn(conn);
            ("https", sender)
        }
        None => {
            let (sender, conn) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
                    .await
                    .unwrap();
            tokio::spawn(conn);
            ("http", sender)
        }
    };
    let authority = case
        .authority
        .clone()
        .or_else(|| case.host.clone())
        .unwrap();
    let uri = http::Uri::builder()
        .scheme(scheme)
        .authority(authority.as_str())
        .path_and_query(case.target.as_str())
        .build()
        .unwrap();
    let mut request = http::Request::builder()
        .method(http::Method::from_bytes(case.method.as_bytes()).unwrap())
        .uri(uri);
    for (k, v) in headers {
        if k == "host" && case.authority.is_none() {
            continue;
        }
        request = request.header(k.as_str(), v.as_str());
    }
    let request = request
        .body(Full::new(Bytes::from(case.body.clone())))
        .unwrap();
    let response = match sender.send_request(request).await {
        Ok(r) => r,
        Err(e) => {
            return Reply {
                status: 0,
                code: None,
                body: format!("HTTP/2 request failed: {e}"),
            };
        }
    };
    let status = response.status().as_u16();
    let error_header = response
        .headers()
        .get("x-amz-error-code")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response
        .into_body()
        .collect()
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
        .unwrap_or_default();
    Reply {
        status,
        code: code_of(&body, error_header.as_deref()),
        body,
    }
}

/// Where the cases go: the plain and the TLS gateway in front of one backend.
struct Rig {
    name: String,
    plain: Gateway,
    tls: Gateway,
    connector: tokio_rustls::TlsConnector,
    bucket: String,
    recorder: Option<Recorder>,
    _dir: tempfile::TempDir,
}

impl Rig {
    fn new(name: &str, backend_toml: &str, bucket: &str, recorder: Option<Recorder>) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key, connector) = support::tls_material(dir.path());
        let text = config_with_backend(backend_toml, WRITER_ROLE);
        let plain = Gateway::start(&text);
        let tls_text = support::with_tls(&text, &cert, &key);
        let tls = Gateway::start(&tls_text);
        Rig {
            name: name.to_string(),
            plain,
            tls,
            connector,
            bucket: bucket.to_string(),
            recorder,
            _dir: dir,
        }
    }

    fn port(gw: &Gateway) -> u16 {
        gw.endpoint.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// Runs every case over every protocol; returns the failures.
    fn run(&self, creds: &Creds) -> (usize, Vec<String>) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut failures = Vec::new();
        let mut sent = 0;
        for proto in [Proto::Http1, Proto::H2c, Proto::H2Tls] {
            let gw = if proto == Proto::H2Tls {
                &self.tls
            } else {
                &self.plain
            };
            let port = Rig::port(gw);
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let vars = [
                ("A", self.bucket.clone()),
                ("B", OTHER_BUCKET.to_string()),
                ("gw", format!("127.0.0.1:{port}")),
                ("port", port.to_string()),
            ];
            for case in load(&vars) {
                if case.http1_only && proto != Proto::Http1 {
                    continue;
                }
                sent += 1;
                let headers = signed_headers(&case, creds);
                let before = self.recorder.as_ref().map_or(0, |r| r.seen().len());
                let reply = runtime.block_on(async {
                    match proto {
                        Proto::Http1 => send_http1(addr, &case, &headers).await,
                        Proto::H2c => send_h2(addr, None, &case, &headers).await,
                        Proto::H2Tls => send_h2(addr, Some(&self.connector), &case, &headers).await,
                    }
                });
                let arrived: Vec<String> = self
                    .recorder
                    .as_ref()
                    .map(|r| {
                        r.seen()[before..]
                            .iter()
                            .map(|s| {
                                let q = if s.query.is_empty() {
                                    String::new()
                                } else {
                                    format!("?{}", s.query)
                                };
                                format!("{} {}{q}", s.method, s.path)
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let mut fail = |why: String| {
                    failures.push(format!(
                        "{} {proto:?} line {}: {} {}: {why}\n    reply {} {:?}: {}",
                        self.name,
                        case.line,
                        case.method,
                        case.target,
                        reply.status,
                        reply.code,
                        reply.body.chars().take(300).collect::<String>()
                    ))
                };
                if let Some(secret) = SECRETS.iter().find(|s| reply.body.contains(*s)) {
                    fail(format!("the response carries protected data ({secret})"));
                }
                match &case.expect {
                    Expect::Refuse(status, code) => {
                        if reply.status != *status || reply.code.as_deref() != Some(code) {
                            fail(format!("expected refusal {status} {code}"));
                        }
                        if !arrived.is_empty() {
                            fail(format!("refused, yet the backend received {arrived:?}"));
                        }
                    }
                    Expect::Forward(status) => {
                        if status.is_some_and(|s| s != reply.status) {
                            fail(format!("expected status {status:?}"));
                        }
                        if reply.status == 0
                            || (400..500).contains(&reply.status)
                                && reply
                                    .code
                                    .as_deref()
                                    .is_some_and(|c| c.starts_with("Invalid"))
                        {
                            fail("expected the request to be forwarded".into());
                        }
                        if let Some(has) = &case.has
                            && !reply.body.contains(has.as_str())
                        {
                            fail(format!("the response body lacks {has:?}"));
                        }
                        if self.recorder.is_some()
                            && let Some(up) = &case.upstream
                            && arrived != [up.clone()]
                        {
                            fail(format!(
                                "the backend should have received [{up:?}], got {arrived:?}"
                            ));
                        }
                    }
                }
            }
        }
        (sent, failures)
    }
}

/// The session the corpus is written for (see the corpus header).
fn session(gw: &Gateway, bucket: &str) -> Creds {
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Action":"s3:*","Resource":["arn:aws:s3:::{bucket}","arn:aws:s3:::{bucket}/*"]}},
            {{"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/private/*"}},
            {{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::{bucket}/protected/*"}},
            {{"Effect":"Deny","Action":"s3:BypassGovernanceRetention","Resource":"*"}}]}}"#
    );
    assume(gw, WRITER, "hostile", Some(&policy))
}

const OBJECTS: &[(&str, &[u8])] = &[
    ("public/pub.txt", b"public data"),
    ("private/x", b"PRIVATE-A"),
    ("protected/x", b"protected data"),
];

fn assert_clean(rig: &Rig, sent: usize, failures: &[String]) {
    println!("{}: {sent} hostile-corpus requests sent", rig.name);
    assert!(
        failures.is_empty(),
        "{} of {sent} cases failed against {}:\n{}",
        failures.len(),
        rig.name,
        failures.join("\n")
    );
    assert!(
        sent >= 450,
        "the corpus is smaller than it should be: {sent} requests"
    );
}

#[test]
fn the_hostile_corpus_reaches_no_backend_through_the_recorder() {
    let rec = Recorder::start();
    for (key, body) in OBJECTS {
        rec.put_object(&format!("/recorded/{key}"), body);
    }
    rec.put_object(&format!("/{OTHER_BUCKET}/secret.txt"), b"TOP-SECRET-B");
    let toml = rec.backend_toml();
    let rig = Rig::new("recorder", &toml, "recorded", Some(rec));
    let creds = session(&rig.plain, "recorded");
    let (sent, failures) = rig.run(&creds);
    assert_clean(&rig, sent, &failures);
    let rec = rig.recorder.as_ref().unwrap();
    assert!(
        rec.seen().iter().all(|s| s.signature.is_ok()),
        "every forwarded request is re-signed with the backend's key"
    );
}

fn against(kind: &str) {
    let Some(backend) = Backend::start(kind) else {
        return;
    };
    let dir = backend.dir().to_path_buf();
    let aws = backend.aws();
    aws.ok(&["s3", "mb", &format!("s3://{OTHER_BUCKET}")]);
    let put = |bucket: &str, key: &str, body: &[u8]| {
        let file = dir.join("object");
        std::fs::write(&file, body).unwrap();
        aws.ok(&[
            "s3",
            "cp",
            file.to_str().unwrap(),
            &format!("s3://{bucket}/{key}"),
        ]);
    };
    for (key, body) in OBJECTS {
        put(&backend.bucket, key, body);
    }
    put(OTHER_BUCKET, "secret.txt", b"TOP-SECRET-B");
    let toml = backend.toml();
    let rig = Rig::new(kind, &toml, &backend.bucket, None);
    let creds = session(&rig.plain, &backend.bucket);
    let (sent, failures) = rig.run(&creds);
    assert_clean(&rig, sent, &failures);
    // Nothing the corpus tried wrote outside the session's bucket or deleted what it protects.
    let listing = aws.ok(&["s3", "ls", "--recursive", &format!("s3://{OTHER_BUCKET}")]);
    assert!(
        listing.lines().count() == 1 && listing.contains("secret.txt"),
        "{OTHER_BUCKET} changed: {listing}"
    );
    assert!(support::backend_has(&backend, "protected/x"));
    assert!(support::backend_has(&backend, "private/x"));
}

#[test]
fn the_hostile_corpus_against_garage() {
    against("garage");
}

#[test]
fn the_hostile_corpus_against_s3s_fs() {
    against("s3s-fs");
}

/// MinIO honours the control headers and query forms the corpus sends: every one must be refused
/// before it, and its own listing must show nothing changed.
#[test]
fn the_hostile_corpus_against_minio() {
    against("minio");
}

#[test]
fn the_hostile_corpus_against_minio_service_account() {
    against("minio-svcacct");
}

#[test]
fn the_hostile_corpus_against_radosgw() {
    against("radosgw");
}
