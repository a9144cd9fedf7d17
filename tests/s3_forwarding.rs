//! The forwarding contract seen from the backend's side: an in-process recording backend
//! (`support/recorder.rs`) behind the running gateway. It shows what arrives (path style,
//! re-signed with the backend's key, client auth stripped, the headers S3 needs kept), that
//! refused requests never arrive, that backend errors pass through unchanged, and how
//! unreachable, silent and slow backends and clients are answered. Object tagging is tested
//! here because neither Garage nor s3s-fs implements it.

mod support;

use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::recorder::{Behaviour, RECORDER_KEY, Recorder};
use support::{Creds, Gateway, S3_ROLE, WRITER_ROLE, assume, expired_copy, fails};

const BUCKET: &str = "recorded";
const WRITER: &str = "arn:aws:iam::111122223333:role/s3_writer";

fn gateway_for(url: &str, backend_extra: &str) -> Gateway {
    gateway_with(url, backend_extra, WRITER_ROLE)
}

/// The demo config plus `extra` TOML, in front of `url` with the recorder's key.
fn gateway_with(url: &str, backend_extra: &str, extra: &str) -> Gateway {
    let toml = format!(
        "[[backends]]\nname = \"recorder\"\nkind = \"s3\"\nurl = \"{url}\"\nregion = \"us-east-1\"\naccess_key_id = \"{}\"\nsecret_access_key = \"{}\"\n{backend_extra}",
        RECORDER_KEY.0, RECORDER_KEY.1
    );
    Gateway::with_backend(&toml, extra)
}

/// A request signed by hand with stsgate's signer and sent with curl.
struct Call<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a str,
    /// Host (with port) to sign and send; the gateway's address when `None`.
    host: Option<&'a str>,
    body: &'a [u8],
    /// Sign `UNSIGNED-PAYLOAD` instead of the body's SHA-256.
    unsigned: bool,
    headers: &'a [(&'a str, &'a str)],
    curl: &'a [&'a str],
    date: Option<stsgate::sigv4::AmzDate>,
}

impl Default for Call<'_> {
    fn default() -> Self {
        Call {
            method: "GET",
            path: "/",
            query: "",
            host: None,
            body: b"",
            unsigned: false,
            headers: &[],
            curl: &[],
            date: None,
        }
    }
}

/// Starts a multipart upload through the gateway: the upload id the gateway issued.
fn create_upload(gw: &Gateway, creds: &Creds, path: &str) -> String {
    let answer = send(
        gw,
        Some(creds),
        &Call {
            method: "POST",
            path,
            query: "uploads=",
            ..Default::default()
        },
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    let id = answer
        .body
        .split("<UploadId>")
        .nth(1)
        .and_then(|rest| rest.split("</UploadId>").next())
        .unwrap_or_else(|| panic!("no UploadId in {}", answer.body));
    assert!(
        !id.starts_with("recorder-upload-"),
        "the backend's own id reached the client: {id}"
    );
    id.to_string()
}

#[derive(Debug)]
struct Answer {
    status: u16,
    headers: String,
    body: String,
    uploaded: u64,
    downloaded: u64,
    verbose: String,
}

impl Answer {
    fn code(&self) -> Option<String> {
        let start = self.body.find("<Code>")? + 6;
        let end = self.body[start..].find("</Code>")? + start;
        Some(self.body[start..end].to_string())
    }
}

fn send(gw: &Gateway, creds: Option<&Creds>, call: &Call) -> Answer {
    let dir = tempfile::tempdir().unwrap();
    let port = gw.endpoint.rsplit(':').next().unwrap();
    let host = call
        .host
        .map(str::to_string)
        .unwrap_or_else(|| format!("127.0.0.1:{port}"));
    let mut headers = http::HeaderMap::new();
    headers.insert("host", host.parse().unwrap());
    for (name, value) in call.headers {
        headers.append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    if let Some(c) = creds {
        let signer = c.signer("s3");
        let hash = if call.unsigned {
            "UNSIGNED-PAYLOAD".to_string()
        } else {
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(call.body))
        };
        signer
            .sign(
                call.method,
                call.path,
                call.query,
                &mut headers,
                &hash,
                call.date.unwrap_or_else(stsgate::sigv4::AmzDate::now),
            )
            .unwrap();
    }
    let url = format!(
        "http://{host}{}{}{}",
        call.path,
        if call.query.is_empty() { "" } else { "?" },
        call.query
    );
    let mut curl = Command::new("curl");
    curl.args(["-sS", "-v", "-X", call.method, "-o"])
        .arg(dir.path().join("body"))
        .arg("-D")
        .arg(dir.path().join("headers"))
        .args(["-w", "%{http_code} %{size_upload} %{size_download}"])
        .args(["--resolve", &format!("{}:127.0.0.1", host)]);
    if call.method == "HEAD" {
        curl.arg("--head");
    }
    if !call.body.is_empty() || call.method == "PUT" {
        std::fs::write(dir.path().join("upload"), call.body).unwrap();
        curl.arg("-T").arg(dir.path().join("upload"));
    }
    for (name, value) in &headers {
        if name != "host" {
            curl.arg("-H")
                .arg(format!("{}: {}", name, value.to_str().unwrap()));
        }
    }
    if !call.curl.iter().any(|a| a.starts_with("Expect:")) {
        // curl would add `Expect: 100-continue` on its own for large bodies.
        curl.args(["-H", "Expect:"]);
    }
    curl.args(call.curl).arg(&url);
    let out = curl.output().expect("curl");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut fields = stdout.split_whitespace();
    let status = fields.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let uploaded = fields.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let downloaded = fields.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    Answer {
        status,
        headers: std::fs::read_to_string(dir.path().join("headers")).unwrap_or_default(),
        body: std::fs::read_to_string(dir.path().join("body")).unwrap_or_default(),
        uploaded,
        downloaded,
        verbose: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn tagging_is_forwarded_re_signed_and_refused_without_reaching_the_backend() {
    let rec = Recorder::start();
    let gw = gateway_for(&rec.endpoint, "");
    let writer = assume(&gw, WRITER, "tagger", None).aws(&gw);
    let file = gw.config_path.with_file_name("small.txt");
    std::fs::write(&file, b"tag me").unwrap();
    let file = file.to_str().unwrap();
    writer.ok(&[
        "s3api",
        "put-object",
        "--bucket",
        BUCKET,
        "--key",
        "t/a.txt",
        "--body",
        file,
    ]);
    writer.ok(&[
        "s3api",
        "put-object-tagging",
        "--bucket",
        BUCKET,
        "--key",
        "t/a.txt",
        "--tagging",
        "TagSet=[{Key=team,Value=blue}]",
    ]);
    let tags: Value = serde_json::from_str(&writer.ok(&[
        "s3api",
        "get-object-tagging",
        "--bucket",
        BUCKET,
        "--key",
        "t/a.txt",
    ]))
    .unwrap();
    assert_eq!(tags["TagSet"][0]["Key"], "team", "{tags}");
    assert_eq!(tags["TagSet"][0]["Value"], "blue", "{tags}");
    let seen = rec.seen();
    let put = seen
        .iter()
        .find(|s| s.method == "PUT" && s.query == "tagging")
        .expect("PutObjectTagging reached the backend");
    assert_eq!(put.path, "/recorded/t/a.txt");
    assert_eq!(put.signature, Ok(()), "re-signed with the backend's key");
    let body = String::from_utf8_lossy(put.body.as_ref().unwrap()).into_owned();
    assert!(
        body.contains("<Key>team</Key>") && body.contains("<Value>blue</Value>"),
        "{body}"
    );
    // The body's integrity header (Content-MD5, or a flexible checksum in newer clients).
    assert!(
        put.headers
            .keys()
            .any(|k| k == "content-md5" || k.as_str().starts_with("x-amz-checksum-")),
        "the body checksum must be passed through: {:?}",
        put.headers
    );
    writer.ok(&[
        "s3api",
        "delete-object-tagging",
        "--bucket",
        BUCKET,
        "--key",
        "t/a.txt",
    ]);
    assert!(
        rec.seen()
            .iter()
            .any(|s| s.method == "DELETE" && s.query == "tagging" && s.signature.is_ok())
    );

    // A session that may only read tags: PutObjectTagging is refused and never arrives.
    let reader = assume(
        &gw,
        WRITER,
        "tag-reader",
        Some(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:GetObjectTagging","s3:PutObject"],"Resource":"*"}}"#,
        ),
    )
    .aws(&gw);
    rec.clear_seen();
    let err = fails(
        &reader,
        &[
            "s3api",
            "put-object-tagging",
            "--bucket",
            BUCKET,
            "--key",
            "t/a.txt",
            "--tagging",
            "TagSet=[{Key=team,Value=red}]",
        ],
    );
    assert!(
        err.contains("s3:PutObjectTagging on resource: arn:aws:s3:::recorded/t/a.txt"),
        "{err}"
    );
    // PutObject with tags needs s3:PutObjectTagging as well.
    let err = fails(
        &reader,
        &[
            "s3api",
            "put-object",
            "--bucket",
            BUCKET,
            "--key",
            "t/b.txt",
            "--body",
            file,
            "--tagging",
            "team=red",
        ],
    );
    assert!(err.contains("s3:PutObjectTagging"), "{err}");
    assert!(
        rec.seen().is_empty(),
        "refused requests reached the backend: {:?}",
        rec.seen()
    );
    reader.ok(&[
        "s3api",
        "get-object-tagging",
        "--bucket",
        BUCKET,
        "--key",
        "t/a.txt",
    ]);
    reader.ok(&[
        "s3api",
        "put-object",
        "--bucket",
        BUCKET,
        "--key",
        "t/b.txt",
        "--body",
        file,
    ]);
    let seen: Vec<_> = rec
        .seen()
        .iter()
        .map(|s| format!("{} {}?{}", s.method, s.path, s.query))
        .collect();
    assert_eq!(
        seen,
        ["GET /recorded/t/a.txt?tagging", "PUT /recorded/t/b.txt?"]
    );
}

#[test]
fn what_reaches_the_backend_is_path_style_re_signed_and_keeps_what_s3_needs() {
    let rec = Recorder::start();
    let gw = gateway_for(&rec.endpoint, "");
    let creds = assume(&gw, WRITER, "headers", None);
    let writer = creds.aws(&gw);
    let file = gw.config_path.with_file_name("obj.txt");
    std::fs::write(&file, b"0123456789abcdefghij").unwrap();
    let md5 = "ZEvgbfxUBh/R5n9eu6vNWA=="; // MD5 of "0123456789abcdefghij", base64
    writer.ok(&[
        "s3api",
        "put-object",
        "--bucket",
        BUCKET,
        "--key",
        "h/obj.txt",
        "--body",
        file.to_str().unwrap(),
        "--content-md5",
        md5,
        "--metadata",
        "color=green",
        "--cache-control",
        "max-age=60",
        "--content-type",
        "text/plain",
    ]);
    let seen = rec.seen();
    let put = seen.last().unwrap();
    assert_eq!(
        (put.method.as_str(), put.path.as_str()),
        ("PUT", "/recorded/h/obj.txt")
    );
    assert_eq!(put.signature, Ok(()));
    assert_eq!(put.body.as_deref(), Some(&b"0123456789abcdefghij"[..]));
    assert_eq!(put.header("content-md5"), Some(md5));
    assert_eq!(put.header("x-amz-meta-color"), Some("green"));
    assert_eq!(put.header("cache-control"), Some("max-age=60"));
    assert_eq!(put.header("content-type"), Some("text/plain"));
    assert!(
        put.header("authorization")
            .unwrap()
            .starts_with(&format!("AWS4-HMAC-SHA256 Credential={}/", RECORDER_KEY.0)),
        "{:?}",
        put.header("authorization")
    );
    assert_eq!(
        put.header("x-amz-security-token"),
        None,
        "the client's session token must not reach the backend"
    );

    // Range, conditionals and SSE-C headers reach the backend.
    rec.clear_seen();
    let sse_key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    let sse_md5 = "hRasmdxgYDKV3nvbahU1MA==";
    let answer = send(
        &gw,
        Some(&creds),
        &Call {
            path: "/recorded/h/obj.txt",
            headers: &[
                ("range", "bytes=0-9"),
                ("if-none-match", "\"nope\""),
                ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
                ("x-amz-server-side-encryption-customer-key", sse_key),
                ("x-amz-server-side-encryption-customer-key-md5", sse_md5),
                ("connection", "keep-alive, x-drop-me"),
                ("x-drop-me", "1"),
                ("keep-alive", "timeout=5"),
            ],
            ..Default::default()
        },
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    let seen = rec.seen();
    let get = seen.last().unwrap();
    assert_eq!(get.signature, Ok(()));
    assert_eq!(get.header("range"), Some("bytes=0-9"));
    assert_eq!(get.header("if-none-match"), Some("\"nope\""));
    assert_eq!(
        get.header("x-amz-server-side-encryption-customer-key"),
        Some(sse_key)
    );
    assert_eq!(
        get.header("x-amz-server-side-encryption-customer-key-md5"),
        Some(sse_md5)
    );
    assert_eq!(
        get.header("x-drop-me"),
        None,
        "named in Connection: one hop only"
    );
    assert_eq!(get.header("keep-alive"), None, "hop-by-hop");

    // Virtual-hosted style (public host s3.localhost) arrives path style.
    let port = gw.endpoint.rsplit(':').next().unwrap();
    let host = format!("recorded.s3.localhost:{port}");
    let answer = send(
        &gw,
        Some(&creds),
        &Call {
            path: "/h/obj.txt",
            host: Some(&host),
            ..Default::default()
        },
    );
    assert_eq!(answer.status, 200, "{answer:?}\n{}", gw.log());
    assert_eq!(answer.body, "0123456789abcdefghij");
    let seen = rec.seen();
    let get = seen.last().unwrap();
    assert_eq!(get.path, "/recorded/h/obj.txt");
    assert_eq!(get.signature, Ok(()));

    // A presigned URL: the backend gets a header-signed request without X-Amz-* parameters.
    let url = writer.ok(&[
        "s3",
        "presign",
        "s3://recorded/h/obj.txt",
        "--expires-in",
        "300",
    ]);
    let out = Command::new("curl")
        .args(["-sS", "-f", url.trim()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"0123456789abcdefghij");
    let seen = rec.seen();
    let get = seen.last().unwrap();
    assert_eq!(get.query, "", "presign parameters must be stripped");
    assert_eq!(get.signature, Ok(()));
    assert_eq!(get.header("x-amz-security-token"), None);
}

#[test]
fn backend_errors_pass_through_unchanged() {
    let rec = Recorder::start();
    let gw = gateway_for(&rec.endpoint, "");
    let creds = assume(&gw, WRITER, "errors", None);
    for (status, code) in [
        (404, "NoSuchKey"),
        (500, "InternalError"),
        (503, "SlowDown"),
    ] {
        rec.set(Behaviour::Fail { status, code });
        let answer = send(
            &gw,
            Some(&creds),
            &Call {
                path: "/recorded/missing.txt",
                ..Default::default()
            },
        );
        assert_eq!(answer.status, status, "{answer:?}");
        assert_eq!(
            answer.body,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>the recorder says {code}</Message><Resource>recorder</Resource><RequestId>RECORDER-REQUEST-ID</RequestId></Error>"
            )
        );
        let headers = answer.headers.to_ascii_lowercase();
        assert!(
            headers.contains("x-recorder-note: passed through")
                && headers.contains("x-amz-request-id: recorder-request-id"),
            "{headers}"
        );
    }
    // aws-cli sees the backend's code.
    rec.set(Behaviour::Fail {
        status: 404,
        code: "NoSuchKey",
    });
    let err = fails(
        &creds.aws(&gw),
        &[
            "s3api",
            "get-object",
            "--bucket",
            BUCKET,
            "--key",
            "missing.txt",
            gw.config_path.with_file_name("out").to_str().unwrap(),
        ],
    );
    assert!(err.contains("NoSuchKey"), "{err}");
}

#[test]
fn unreachable_backend_is_503_and_a_dropped_connection_is_502() {
    // Nothing listens on this port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let gw = gateway_for(&url, "");
    let creds = assume(&gw, WRITER, "down", None);
    let call = Call {
        path: "/recorded/x.txt",
        ..Default::default()
    };
    let answer = send(&gw, Some(&creds), &call);
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.code().as_deref(), Some("ServiceUnavailable"));
    let head = send(
        &gw,
        Some(&creds),
        &Call {
            method: "HEAD",
            ..call
        },
    );
    assert_eq!(head.status, 503);
    assert_eq!(head.downloaded, 0, "HEAD errors have no body");
    assert!(
        head.headers
            .to_ascii_lowercase()
            .contains("x-amz-error-code: serviceunavailable"),
        "{}",
        head.headers
    );
    drop(gw);

    // A backend that accepts and hangs up without answering.
    let rude = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", rude.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in rude.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            drop(s);
        }
    });
    let gw = gateway_for(&url, "");
    let creds = assume(&gw, WRITER, "rude", None);
    let answer = send(&gw, Some(&creds), &call);
    assert_eq!(answer.status, 502, "{answer:?}");
    assert_eq!(answer.code().as_deref(), Some("BadGateway"));
}

#[test]
fn a_silent_backend_is_504_but_a_slow_steady_upload_is_never_cut_off() {
    let rec = Recorder::start();
    let gw = gateway_for(&rec.endpoint, "timeout_seconds = 1");
    let creds = assume(&gw, WRITER, "timeouts", None);

    rec.set(Behaviour::Delay(Duration::from_secs(4)));
    let answer = send(
        &gw,
        Some(&creds),
        &Call {
            path: "/recorded/slow.txt",
            ..Default::default()
        },
    );
    assert_eq!(answer.status, 504, "{answer:?}");
    assert_eq!(answer.code().as_deref(), Some("GatewayTimeout"));
    assert!(answer.body.contains("within 1 seconds"), "{}", answer.body);

    // A backend that goes silent in the middle of a response body: the client's download is
    // cut short (curl: exit 18, partial file) instead of hanging.
    rec.set(Behaviour::StallBody);
    let started = std::time::Instant::now();
    let answer = send(
        &gw,
        Some(&creds),
        &Call {
            path: "/recorded/stalls.txt",
            curl: &["--max-time", "20"],
            ..Default::default()
        },
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.downloaded, 10, "{answer:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the client hung on a silent backend: {answer:?}"
    );
    assert!(
        gw.log().contains("backend went silent mid-response"),
        "{}",
        gw.log()
    );

    // 192 KiB in 8 KiB pieces every 200 ms: about 5 s of upload with a 1 s timeout, never
    // silent for 1 s. It must not be cut off.
    rec.set(Behaviour::Store);
    let body: Vec<u8> = (0..192 * 1024u32).map(|i| (i % 251) as u8).collect();
    let pieces: Vec<(&[u8], Duration)> = body
        .chunks(8 * 1024)
        .map(|c| (c, Duration::from_millis(200)))
        .collect();
    let response = slow_put(&gw, &creds, "/recorded/steady.bin", body.len(), &pieces);
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "{response}\n{}",
        gw.log()
    );
    assert_eq!(
        rec.object("/recorded/steady.bin").as_deref(),
        Some(&body[..])
    );

    // A client that stops sending mid-body: 400 RequestTimeout, and no object.
    let response = slow_put(
        &gw,
        &creds,
        "/recorded/stalled.bin",
        100,
        &[(b"0123456789", Duration::ZERO)],
    );
    assert!(
        response.starts_with("HTTP/1.1 400") && response.contains("<Code>RequestTimeout</Code>"),
        "{response}\n{}",
        gw.log()
    );
    assert_eq!(rec.object("/recorded/stalled.bin"), None);
}

/// A PUT over a raw connection announcing `length` bytes and sending `pieces`, each after its
/// pause; returns the response as text.
fn slow_put(
    gw: &Gateway,
    creds: &Creds,
    path: &str,
    length: usize,
    pieces: &[(&[u8], Duration)],
) -> String {
    let port: u16 = gw.endpoint.rsplit(':').next().unwrap().parse().unwrap();
    let mut headers = http::HeaderMap::new();
    headers.insert("host", format!("127.0.0.1:{port}").parse().unwrap());
    headers.insert("content-length", length.into());
    stsgate::sigv4::Signer::new(
        &creds.key_id,
        &creds.secret,
        creds.token.as_deref(),
        "us-east-1",
        "s3",
        stsgate::sigv4::SigningKeyCache::disabled(),
    )
    .sign(
        "PUT",
        path,
        "",
        &mut headers,
        "UNSIGNED-PAYLOAD",
        stsgate::sigv4::AmzDate::now(),
    )
    .unwrap();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut head = format!("PUT {path} HTTP/1.1\r\n");
    for (name, value) in &headers {
        head.push_str(&format!("{}: {}\r\n", name, value.to_str().unwrap()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    for (piece, pause) in pieces {
        std::thread::sleep(*pause);
        if stream.write_all(piece).is_err() {
            break; // the gateway answered early; read what it said
        }
    }
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&response);
        if text.contains("</Error>")
            || (text.starts_with("HTTP/1.1 200") && text.contains("\r\n\r\n"))
        {
            break;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => response.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&response).into_owned()
}

#[test]
fn expect_100_continue_sends_the_body_only_once_authorized() {
    let rec = Recorder::start();
    let gw = gateway_for(&rec.endpoint, "");
    let writer = assume(&gw, WRITER, "expect", None);
    let reader = assume(&gw, S3_ROLE, "expect-reader", None);
    let body: Vec<u8> = (0..2 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
    let call = Call {
        method: "PUT",
        path: "/recorded/expect.bin",
        body: &body,
        curl: &["-H", "Expect: 100-continue", "--expect100-timeout", "30"],
        ..Default::default()
    };
    let answer = send(&gw, Some(&writer), &call);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(
        answer.verbose.contains("HTTP/1.1 100 Continue"),
        "{}",
        answer.verbose
    );
    assert_eq!(answer.uploaded, body.len() as u64);
    assert_eq!(
        rec.object("/recorded/expect.bin").as_deref(),
        Some(&body[..])
    );

    // Refused before the body is read: no 100 Continue, no upload, nothing forwarded.
    rec.clear_seen();
    let answer = send(
        &gw,
        Some(&reader),
        &Call {
            path: "/recorded/expect-denied.bin",
            ..call
        },
    );
    assert_eq!(answer.status, 403, "{answer:?}");
    assert_eq!(answer.code().as_deref(), Some("AccessDenied"));
    assert!(
        !answer.verbose.contains("100 Continue"),
        "{}",
        answer.verbose
    );
    assert_eq!(
        answer.uploaded, 0,
        "the body was sent to a refused request: {}",
        answer.verbose
    );
    assert!(rec.seen().is_empty());
}

#[test]
fn refused_requests_never_reach_the_backend() {
    let rec = Recorder::start();
    let gw = gateway_for(&rec.endpoint, "");
    let writer = assume(&gw, WRITER, "refused", None);
    let reader = assume(&gw, S3_ROLE, "refused-reader", None);
    let get = Call {
        path: "/recorded/a.txt",
        ..Default::default()
    };
    let mut cases: Vec<(&str, Answer, u16, &str)> = Vec::new();

    cases.push(("anonymous", send(&gw, None, &get), 403, "AccessDenied"));
    let unknown = Creds {
        key_id: "AKIARTX3GSDSZZZZZZZZ".into(),
        secret: "x".into(),
        token: None,
    };
    cases.push((
        "unknown key",
        send(&gw, Some(&unknown), &get),
        403,
        "InvalidAccessKeyId",
    ));
    let wrong_secret = Creds {
        secret: "not-the-secret".into(),
        ..assume(&gw, WRITER, "wrong", None)
    };
    cases.push((
        "wrong secret",
        send(&gw, Some(&wrong_secret), &get),
        403,
        "SignatureDoesNotMatch",
    ));
    let expired = expired_copy(&gw, &writer, 5);
    cases.push((
        "expired session",
        send(&gw, Some(&expired), &get),
        400,
        "ExpiredToken",
    ));
    let mut tampered = writer.token.clone().unwrap().into_bytes();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = Creds {
        token: Some(String::from_utf8(tampered).unwrap()),
        ..assume(&gw, WRITER, "tampered", None)
    };
    cases.push((
        "tampered token",
        send(&gw, Some(&tampered), &get),
        403,
        "InvalidClientTokenId",
    ));
    let skewed = stsgate::sigv4::AmzDate::from_unix(stsgate::sigv4::AmzDate::now().unix() - 1200);
    cases.push((
        "clock skew",
        send(
            &gw,
            Some(&writer),
            &Call {
                date: Some(skewed),
                ..Default::default()
            },
        ),
        403,
        "RequestTimeTooSkewed",
    ));
    cases.push((
        "denied by policy",
        send(
            &gw,
            Some(&reader),
            &Call {
                method: "PUT",
                path: "/recorded/denied.txt",
                body: b"no",
                ..Default::default()
            },
        ),
        403,
        "AccessDenied",
    ));
    cases.push((
        "ambiguous sub-resources",
        send(
            &gw,
            Some(&writer),
            &Call {
                path: "/recorded/a.txt",
                query: "acl&tagging",
                ..Default::default()
            },
        ),
        400,
        "InvalidRequest",
    ));
    cases.push((
        "repeated query parameter",
        send(
            &gw,
            Some(&writer),
            &Call {
                path: "/recorded/a.txt",
                query: "versionId=1&versionId=2",
                ..Default::default()
            },
        ),
        400,
        "InvalidArgument",
    ));

    // Presigned URLs: expired URL, expired session, tampered signature.
    let presign = |creds: &Creds, expires: &str| {
        creds
            .aws(&gw)
            .ok(&[
                "s3",
                "presign",
                "s3://recorded/a.txt",
                "--expires-in",
                expires,
            ])
            .trim()
            .to_string()
    };
    let curl = |url: &str| {
        let out = Command::new("curl")
            .args(["-sS", "-w", "\n%{http_code}", url])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').unwrap();
        Answer {
            status: status.parse().unwrap_or(0),
            headers: String::new(),
            body: body.to_string(),
            uploaded: 0,
            downloaded: 0,
            verbose: String::new(),
        }
    };
    let short = presign(&writer, "1");
    let from_expired_session = presign(&expired, "300");
    let good = presign(&writer, "300");
    let sig = good.rfind("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let forged = format!(
        "{}{}{}",
        &good[..sig],
        if &good[sig..sig + 1] == "0" { "1" } else { "0" },
        &good[sig + 1..]
    );
    std::thread::sleep(Duration::from_millis(2100));
    let expired_url = curl(&short);
    assert!(
        expired_url.body.contains("Request has expired"),
        "{}",
        expired_url.body
    );
    cases.push(("expired presigned URL", expired_url, 403, "AccessDenied"));
    cases.push((
        "presigned URL of an expired session",
        curl(&from_expired_session),
        400,
        "ExpiredToken",
    ));
    cases.push((
        "forged presigned signature",
        curl(&forged),
        403,
        "SignatureDoesNotMatch",
    ));

    for (what, answer, status, code) in &cases {
        assert_eq!(
            (answer.status, answer.code().as_deref()),
            (*status, Some(*code)),
            "{what}: {answer:?}"
        );
    }
    assert!(
        rec.seen().is_empty(),
        "refused requests reached the backend: {:?}",
        rec.seen()
            .iter()
            .map(|s| format!("{} {}?{}", s.method, s.path, s.query))
            .collect::<Vec<_>>()
    );

    // The same GET with valid credentials does arrive: the recorder is listening.
    let answer = send(&gw, Some(&writer), &get);
    assert_eq!(answer.status, 404, "{answer:?}");
    assert_eq!(rec.seen().len(), 1);

    // Operators see the refusals by code, and the forwarded request by the backend's class.
    let out = Command::new("curl")
        .args(["-sS", &format!("{}/metrics", gw.admin)])
        .output()
        .unwrap();
    let metrics = String::from_utf8_lossy(&out.stdout);
    for line in [
        "stsgate_s3_refused_total{code=\"AccessDenied\"} 3",
        "stsgate_s3_refused_total{code=\"InvalidAccessKeyId\"} 1",
        "stsgate_s3_refused_total{code=\"SignatureDoesNotMatch\"} 2",
        "stsgate_s3_refused_total{code=\"ExpiredToken\"} 2",
        "stsgate_s3_refused_total{code=\"InvalidClientTokenId\"} 1",
        "stsgate_s3_refused_total{code=\"RequestTimeTooSkewed\"} 1",
        "stsgate_s3_refused_total{code=\"InvalidRequest\"} 1",
        "stsgate_s3_refused_total{code=\"InvalidArgument\"} 1",
        "stsgate_s3_forwarded_total{class=\"4xx\"} 1",
        "stsgate_s3_forwarded_total{class=\"2xx\"} 0",
    ] {
        assert!(metrics.contains(line), "no `{line}` in\n{metrics}");
    }
}

#[test]
fn principal_tags_confine_a_role_session_to_its_team_folder() {
    let rec = Recorder::start();
    let team_role = r#"
[[accounts.roles]]
name = "s3_team"
trust_policy = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/develop"},"Action":"sts:AssumeRole"}}'
inline_policies = [{ name = "TeamFolder", document = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::recorded/${aws:PrincipalTag/team}/*"},{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/level":"senior"}}}]}' }]
tags = { team = "blue", level = "junior" }
"#;
    let gw = gateway_with(&rec.endpoint, "", team_role);
    let creds = assume(&gw, "arn:aws:iam::111122223333:role/s3_team", "team", None);
    let put = |path: &'static str| {
        send(
            &gw,
            Some(&creds),
            &Call {
                method: "PUT",
                path,
                body: b"team data",
                ..Default::default()
            },
        )
    };
    let own = put("/recorded/blue/a.txt");
    assert_eq!(own.status, 200, "{own:?}\n{}", gw.log());
    let other = put("/recorded/red/a.txt");
    assert_eq!(other.status, 403, "{other:?}");
    assert!(
        other
            .body
            .contains("s3:PutObject on resource: arn:aws:s3:::recorded/red/a.txt"),
        "{}",
        other.body
    );
    // The condition on aws:PrincipalTag/level does not match "junior".
    let get = send(
        &gw,
        Some(&creds),
        &Call {
            path: "/recorded/blue/a.txt",
            ..Default::default()
        },
    );
    assert_eq!(get.status, 403, "{get:?}");
    let arrived: Vec<_> = rec
        .seen()
        .iter()
        .map(|s| format!("{} {}", s.method, s.path))
        .collect();
    assert_eq!(arrived, ["PUT /recorded/blue/a.txt"]);
}

#[test]
fn a_missing_key_is_access_denied_for_callers_who_may_not_list_the_bucket() {
    let rec = Recorder::start();
    let gw = gateway_for(&rec.endpoint, "");
    let writer = assume(&gw, WRITER, "lister", None);
    let get_only = assume(
        &gw,
        WRITER,
        "get-only",
        Some(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
        ),
    );
    let put = send(
        &gw,
        Some(&writer),
        &Call {
            method: "PUT",
            path: "/recorded/present.txt",
            body: b"here",
            ..Default::default()
        },
    );
    assert_eq!(put.status, 200, "{put:?}");
    let get = |creds: &Creds, method: &'static str, path: &'static str| {
        send(
            &gw,
            Some(creds),
            &Call {
                method,
                path,
                ..Default::default()
            },
        )
    };
    // May list: the backend's 404 NoSuchKey passes through.
    let missing = get(&writer, "GET", "/recorded/absent.txt");
    assert_eq!(
        (missing.status, missing.code().as_deref()),
        (404, Some("NoSuchKey")),
        "{missing:?}"
    );
    // May not list: 403 AccessDenied naming s3:ListBucket, for GET and HEAD alike.
    let hidden = get(&get_only, "GET", "/recorded/absent.txt");
    assert_eq!(
        (hidden.status, hidden.code().as_deref()),
        (403, Some("AccessDenied")),
        "{hidden:?}"
    );
    assert!(
        hidden
            .body
            .contains("s3:ListBucket on resource: arn:aws:s3:::recorded "),
        "{}",
        hidden.body
    );
    let head = get(&get_only, "HEAD", "/recorded/absent.txt");
    assert_eq!(head.status, 403, "{head:?}");
    assert_eq!(head.downloaded, 0);
    // Objects that exist are served as usual.
    let present = get(&get_only, "GET", "/recorded/present.txt");
    assert_eq!((present.status, present.body.as_str()), (200, "here"));
}

#[test]
fn backend_fingerprints_do_not_reach_clients_unless_the_config_asks() {
    let rec = Recorder::start();
    let complete = "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"e\"</ETag></Part></CompleteMultipartUpload>";
    let backend_addr = rec.addr.to_string();
    let upload_id = {
        let gw = gateway_for(&rec.endpoint, "");
        let creds = assume(&gw, WRITER, "fingerprints", None);
        create_upload(&gw, &creds, "/recorded/big.bin")
    };
    let query = format!("uploadId={upload_id}");
    let call = Call {
        method: "POST",
        path: "/recorded/big.bin",
        query: &query,
        body: complete.as_bytes(),
        ..Default::default()
    };
    {
        let gw = gateway_for(&rec.endpoint, "");
        let creds = assume(&gw, WRITER, "fingerprints", None);
        let answer = send(&gw, Some(&creds), &call);
        assert_eq!(answer.status, 200, "{answer:?}");
        let gateway_host = gw.endpoint.trim_start_matches("http://");
        assert!(
            answer.body.contains(&format!(
                "<Location>http://{gateway_host}/recorded/big.bin</Location>"
            )),
            "{}",
            answer.body
        );
        assert!(!answer.body.contains(&backend_addr), "{}", answer.body);
        let headers = answer.headers.to_ascii_lowercase();
        assert!(
            !headers.contains("server:") && !headers.contains("x-amz-id-2"),
            "{headers}"
        );
        assert!(headers.contains("x-amz-request-id"), "{headers}");
    }
    let gw = gateway_for(&rec.endpoint, "pass_fingerprints = true\n");
    let creds = assume(&gw, WRITER, "fingerprints", None);
    let answer = send(&gw, Some(&creds), &call);
    assert!(
        answer.body.contains(&backend_addr),
        "passed through on request: {}",
        answer.body
    );
    assert!(
        answer
            .headers
            .to_ascii_lowercase()
            .contains("server: recorderstore/1.0"),
        "{}",
        answer.headers
    );
}

/// Security round 2, row 1: an upload id is bound to the key it was created for. A session
/// allowed only `recorded/tmp/*` holds the id of another session's upload of `private/victim`
/// and tries it on its own key with all four operations that take an id: each is
/// `404 NoSuchUpload` and nothing reaches the backend. The backend's own id is never shown, and a
/// made-up or backend-shaped id is refused the same way.
#[test]
fn an_upload_id_works_only_for_the_key_it_was_issued_for() {
    let rec = Recorder::start();
    let gw = gateway_for(&rec.endpoint, "");
    let victim = assume(&gw, WRITER, "victim", None);
    let tmp_only = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::recorded/tmp/*"}}"#;
    let attacker = assume(&gw, WRITER, "attacker", Some(tmp_only));
    let stolen = create_upload(&gw, &victim, "/recorded/private/victim");
    let own = create_upload(&gw, &attacker, "/recorded/tmp/loot");
    assert_ne!(stolen, own);
    let complete = "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"e\"</ETag></Part></CompleteMultipartUpload>";
    let before = rec.seen_count();
    let backend_id = format!(
        "recorder-upload-{}",
        &hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
            b"/recorded/private/victim"
        ))[..16]
    );
    for id in [stolen.as_str(), &backend_id, "U1", &own[..own.len() - 2]] {
        for (method, query, body) in [
            ("POST", format!("uploadId={id}"), complete.as_bytes()),
            (
                "PUT",
                format!("partNumber=2&uploadId={id}"),
                &b"part two"[..],
            ),
            ("GET", format!("uploadId={id}"), &b""[..]),
            ("DELETE", format!("uploadId={id}"), &b""[..]),
        ] {
            let answer = send(
                &gw,
                Some(&attacker),
                &Call {
                    method,
                    path: "/recorded/tmp/loot",
                    query: &query,
                    body,
                    ..Default::default()
                },
            );
            assert_eq!(
                (answer.status, answer.code().as_deref()),
                (404, Some("NoSuchUpload")),
                "{method} ?{query}: {answer:?}"
            );
        }
    }
    // On the victim's key itself the attacker is refused by policy first.
    let answer = send(
        &gw,
        Some(&attacker),
        &Call {
            method: "POST",
            path: "/recorded/private/victim",
            query: &format!("uploadId={stolen}"),
            body: complete.as_bytes(),
            ..Default::default()
        },
    );
    assert_eq!(answer.status, 403, "{answer:?}");
    assert_eq!(
        rec.seen_count(),
        before,
        "a refused upload request reached the backend"
    );
    // The legitimate owners complete their uploads; the backend gets its own ids.
    for (creds, path, id) in [
        (&attacker, "/recorded/tmp/loot", &own),
        (&victim, "/recorded/private/victim", &stolen),
    ] {
        let answer = send(
            &gw,
            Some(creds),
            &Call {
                method: "POST",
                path,
                query: &format!("uploadId={id}"),
                body: complete.as_bytes(),
                ..Default::default()
            },
        );
        assert_eq!(answer.status, 200, "{path}: {answer:?}");
        let seen = rec.seen().pop().unwrap();
        assert!(
            seen.query.starts_with("uploadId=recorder-upload-"),
            "{}",
            seen.query
        );
    }
}

/// Security round 2, row 3: S3 refuses response-* overrides on anonymous requests; honoured, they
/// would serve a public object as text/html from the gateway's origin.
#[test]
fn anonymous_reads_cannot_override_response_headers() {
    let rec = Recorder::start();
    rec.put_object("/pubbkt/upload.txt", b"<script>alert(1)</script>");
    let public = r#"[[backends.buckets]]
name = "pubbkt"
policy = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pubbkt/*"}}'
"#;
    let gw = gateway_for(&rec.endpoint, public);
    let plain = send(
        &gw,
        None,
        &Call {
            method: "GET",
            path: "/pubbkt/upload.txt",
            ..Default::default()
        },
    );
    assert_eq!(plain.status, 200, "{plain:?}");
    let before = rec.seen_count();
    for query in [
        "response-content-type=text/html&response-content-disposition=inline",
        "response-content-type=text/html",
        "response-cache-control=no-cache",
    ] {
        let answer = send(
            &gw,
            None,
            &Call {
                method: "GET",
                path: "/pubbkt/upload.txt",
                query,
                ..Default::default()
            },
        );
        assert_eq!(
            (answer.status, answer.code().as_deref()),
            (400, Some("InvalidRequest")),
            "{query}: {answer:?}"
        );
        assert!(
            answer.body.contains(
                "Request specific response headers cannot be used for anonymous GET requests."
            ),
            "{}",
            answer.body
        );
    }
    assert_eq!(rec.seen_count(), before);
    // A signed caller may still use them.
    let creds = assume(&gw, WRITER, "overrides", None);
    let signed = send(
        &gw,
        Some(&creds),
        &Call {
            method: "GET",
            path: "/pubbkt/upload.txt",
            query: "response-content-type=text/plain",
            ..Default::default()
        },
    );
    assert_eq!(signed.status, 200, "{signed:?}");
    assert!(
        rec.seen()
            .pop()
            .unwrap()
            .query
            .contains("response-content-type=text%2Fplain")
    );
}

/// Security round 2, row 6: bucket configuration that names other resources (or opens the
/// bucket to anonymous web serving) is refused with 501 unless the backend enables it.
#[test]
fn bucket_configuration_naming_other_resources_is_refused() {
    let rec = Recorder::start();
    let gw = gateway_for(&rec.endpoint, "");
    let creds = assume(&gw, WRITER, "config", None);
    let before = rec.seen_count();
    for (query, operation) in [
        ("logging=", "PutBucketLogging"),
        ("replication=", "PutBucketReplication"),
        ("notification=", "PutBucketNotificationConfiguration"),
        ("website=", "PutBucketWebsite"),
    ] {
        let answer = send(
            &gw,
            Some(&creds),
            &Call {
                method: "PUT",
                path: "/recorded",
                query,
                body: b"<x/>",
                ..Default::default()
            },
        );
        assert_eq!(
            (answer.status, answer.code().as_deref()),
            (501, Some("NotImplemented")),
            "{query}: {answer:?}"
        );
        assert!(
            answer
                .body
                .contains(&format!("{operation} is not forwarded by this gateway")),
            "{}",
            answer.body
        );
    }
    for query in ["inventory=&id=a", "analytics=&id=a", "metrics=&id=a"] {
        let answer = send(
            &gw,
            Some(&creds),
            &Call {
                method: "PUT",
                path: "/recorded",
                query,
                body: b"<x/>",
                ..Default::default()
            },
        );
        assert!(
            answer.status == 400 || answer.status == 501,
            "{query}: {answer:?}"
        );
    }
    assert_eq!(rec.seen_count(), before);
    // Reading them is harmless and forwarded; a backend may enable PutBucketWebsite.
    let get = send(
        &gw,
        Some(&creds),
        &Call {
            method: "GET",
            path: "/recorded",
            query: "logging=",
            ..Default::default()
        },
    );
    assert_ne!(get.status, 501, "{get:?}");
    assert_eq!(
        rec.seen_count(),
        before + 1,
        "GetBucketLogging is forwarded"
    );
    let gw = gateway_for(&rec.endpoint, "allow_bucket_website = true\n");
    let creds = assume(&gw, WRITER, "config", None);
    let put = send(
        &gw,
        Some(&creds),
        &Call {
            method: "PUT",
            path: "/recorded",
            query: "website=",
            body: b"<x/>",
            ..Default::default()
        },
    );
    assert_eq!(put.status, 200, "{put:?}");
}

/// Security round 2, row 10: S3's bucket naming rules, refused before anything is forwarded.
#[test]
fn bucket_names_s3_would_refuse_never_reach_the_backend() {
    let rec = Recorder::start();
    let gw = gateway_for(&rec.endpoint, "");
    let creds = assume(&gw, WRITER, "names", None);
    for path in [
        "/192.168.0.1/k",
        "/xn--abc/k",
        "/bucket-s3alias/k",
        "/a..b/k",
        "/-abc/k",
        "/abc-/k",
        "/sthree-x/k",
    ] {
        let answer = send(
            &gw,
            Some(&creds),
            &Call {
                method: "GET",
                path,
                ..Default::default()
            },
        );
        assert_eq!(
            (answer.status, answer.code().as_deref()),
            (400, Some("InvalidBucketName")),
            "{path}: {answer:?}"
        );
    }
    assert_eq!(rec.seen_count(), 0);
}

/// Security round 2, row 8: CopyObject copies the source's tags unless told to replace them, so
/// it needs s3:GetObjectTagging on the source and s3:PutObjectTagging on the destination.
#[test]
fn copying_an_objects_tags_needs_the_tagging_permissions() {
    let rec = Recorder::start();
    rec.put_object("/recorded/src.txt", b"tagged source");
    let gw = gateway_for(&rec.endpoint, "");
    let no_tagging = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::recorded/*"}}"#;
    let creds = assume(&gw, WRITER, "copier", Some(no_tagging));
    let copy = |directive: Option<&str>| {
        let mut headers = vec![("x-amz-copy-source", "/recorded/src.txt")];
        if let Some(d) = directive {
            headers.push(("x-amz-tagging-directive", d));
        }
        send(
            &gw,
            Some(&creds),
            &Call {
                method: "PUT",
                path: "/recorded/dst.txt",
                headers: &headers,
                ..Default::default()
            },
        )
    };
    let before = rec.seen_count();
    for directive in [None, Some("COPY")] {
        let refused = copy(directive);
        assert_eq!(refused.status, 403, "{directive:?}: {refused:?}");
        assert!(
            refused
                .body
                .contains("s3:GetObjectTagging on resource: arn:aws:s3:::recorded/src.txt"),
            "{}",
            refused.body
        );
    }
    assert_eq!(
        rec.seen_count(),
        before,
        "a refused copy reached the backend"
    );
    // Tags replaced (none given): only the object permissions are needed.
    let replaced = copy(Some("REPLACE"));
    assert_eq!(replaced.status, 200, "{replaced:?}");
    // With the tagging permissions the default copy goes through.
    let with_tags = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:GetObjectTagging","s3:PutObjectTagging"],"Resource":"arn:aws:s3:::recorded/*"}}"#;
    let creds = assume(&gw, WRITER, "copier2", Some(with_tags));
    let ok = send(
        &gw,
        Some(&creds),
        &Call {
            method: "PUT",
            path: "/recorded/dst2.txt",
            headers: &[("x-amz-copy-source", "/recorded/src.txt")],
            ..Default::default()
        },
    );
    assert_eq!(ok.status, 200, "{ok:?}");
}
