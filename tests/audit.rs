//! The audit trail: one CloudTrail-shaped record per request (allowed and refused; STS and S3),
//! never a secret, token, signature or encoded message, and a full queue drops records (counted)
//! instead of holding requests.

mod support;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderValue};
use serde_json::Value;
use sha2::{Digest, Sha256};
use stsgate::sigv4::{AmzDate, Signer, SigningKeyCache};
use support::recorder::{RECORDER_KEY, Recorder};
use support::{Creds, DEVELOP, Gateway, WRITER_ROLE, config_with_backend};

/// Sends a request (signed by `signer` if given) and returns (status, body).
fn send(
    gw: &Gateway,
    signer: Option<&Signer>,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> (u16, String) {
    let host = gw.endpoint.trim_start_matches("http://");
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_str(host).unwrap());
    if let Some(ct) = content_type {
        headers.insert("content-type", HeaderValue::from_str(ct).unwrap());
    }
    if let Some(s) = signer {
        s.sign(
            method,
            path,
            "",
            &mut headers,
            &hex::encode(Sha256::digest(body)),
            AmzDate::now(),
        )
        .unwrap();
    }
    let reply = support::raw_request(
        &gw.endpoint,
        method,
        path,
        &support::header_pairs(&headers),
        body,
    );
    (reply.status, reply.body)
}

fn records(path: &std::path::Path, expected: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect();
        if lines.len() >= expected || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn every_request_has_one_record_and_no_secret_reaches_the_trail() {
    let recorder = Recorder::start();
    let dir = tempfile::tempdir().unwrap();
    let trail = dir.path().join("audit.log");
    let gw = Gateway::start(&config_with_backend(
        &recorder.backend_toml(),
        &format!("{WRITER_ROLE}\n[audit]\nfile = \"{}\"\n", trail.display()),
    ));
    let develop = Signer::new(
        DEVELOP.0,
        DEVELOP.1,
        None,
        "us-east-1",
        "sts",
        SigningKeyCache::disabled(),
    );
    let form = "application/x-www-form-urlencoded; charset=utf-8";
    // 1. AssumeRole (STS, long-term key).
    let (status, xml) = send(&gw, Some(&develop), "POST", "/", Some(form), b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fs3_writer&RoleSessionName=audited");
    assert_eq!(status, 200, "{xml}");
    let field = |name: &str| {
        xml.split(&format!("<{name}>"))
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .to_string()
    };
    let creds = Creds {
        key_id: field("AccessKeyId"),
        secret: field("SecretAccessKey"),
        token: Some(field("SessionToken")),
    };
    let sts = creds.signer("sts");
    let s3 = creds.signer("s3");
    // 2. GetCallerIdentity (STS, session).
    assert_eq!(
        send(
            &gw,
            Some(&sts),
            "POST",
            "/",
            Some(form),
            b"Action=GetCallerIdentity&Version=2011-06-15"
        )
        .0,
        200
    );
    // 3–5. PutObject, GetObject, DeleteObject (S3, session).
    assert_eq!(
        send(&gw, Some(&s3), "PUT", "/audited/docs/a.txt", None, b"hello").0,
        200
    );
    assert_eq!(
        send(&gw, Some(&s3), "GET", "/audited/docs/a.txt", None, b"").0,
        200
    );
    assert_eq!(
        send(&gw, Some(&s3), "DELETE", "/audited/docs/a.txt", None, b"").0,
        204
    );
    // 6. Refused by policy: develop's own key has no S3 permission.
    let develop_s3 = Signer::new(
        DEVELOP.0,
        DEVELOP.1,
        None,
        "us-east-1",
        "s3",
        SigningKeyCache::disabled(),
    );
    let (status, refusal) = send(
        &gw,
        Some(&develop_s3),
        "GET",
        "/audited/docs/a.txt",
        None,
        b"",
    );
    assert_eq!(status, 403);
    let blob = refusal
        .split("Encoded authorization failure message: ")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    // 7. A wrong secret; 8. anonymous.
    let forged = Signer::new(
        &creds.key_id,
        "not-the-secret",
        creds.token.as_deref(),
        "us-east-1",
        "s3",
        SigningKeyCache::disabled(),
    );
    assert_eq!(
        send(&gw, Some(&forged), "GET", "/audited/docs/a.txt", None, b"").0,
        403
    );
    assert_eq!(
        send(&gw, None, "GET", "/audited/docs/a.txt", None, b"").0,
        403
    );

    let records = records(&trail, 8);
    assert_eq!(records.len(), 8, "one record per request: {records:#?}");
    let names: Vec<&str> = records
        .iter()
        .map(|r| r["eventName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "AssumeRole",
            "GetCallerIdentity",
            "PutObject",
            "GetObject",
            "DeleteObject",
            "GetObject",
            // A forged signature is refused before classification; an anonymous GET is
            // classified (a bucket policy could grant it) and refused by authorization.
            "GET",
            "GetObject"
        ]
    );
    for r in &records {
        for field in [
            "eventVersion",
            "eventTime",
            "eventSource",
            "awsRegion",
            "sourceIPAddress",
            "requestID",
            "eventID",
            "userIdentity",
        ] {
            assert!(!r[field].is_null(), "{field} missing in {r}");
        }
        assert_eq!(r["sourceIPAddress"], "127.0.0.1");
    }
    let assume = &records[0];
    assert_eq!(assume["eventSource"], "sts.amazonaws.com");
    assert_eq!(assume["userIdentity"]["type"], "IAMUser");
    assert_eq!(
        assume["userIdentity"]["arn"],
        "arn:aws:iam::111122223333:user/develop"
    );
    assert_eq!(assume["readOnly"], false);
    let put = &records[2];
    assert_eq!(put["eventSource"], "s3.amazonaws.com");
    assert_eq!(put["requestParameters"]["bucketName"], "audited");
    assert_eq!(put["requestParameters"]["key"], "docs/a.txt");
    assert_eq!(put["userIdentity"]["type"], "AssumedRole");
    assert_eq!(put["userIdentity"]["accessKeyId"], creds.key_id.as_str());
    assert_eq!(
        put["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"],
        "arn:aws:iam::111122223333:role/s3_writer"
    );
    assert_eq!(
        put["userIdentity"]["sessionContext"]["attributes"]["mfaAuthenticated"],
        "false"
    );
    assert_eq!(
        put["resources"][1]["ARN"],
        "arn:aws:s3:::audited/docs/a.txt"
    );
    assert_eq!(put["readOnly"], false);
    assert!(put["errorCode"].is_null());
    assert_eq!(records[3]["readOnly"], true);
    let denied = &records[5];
    assert_eq!(denied["errorCode"], "AccessDenied");
    assert!(
        denied["errorMessage"]
            .as_str()
            .unwrap()
            .contains("is not authorized to perform: s3:GetObject")
    );
    assert_eq!(
        denied["userIdentity"]["arn"],
        "arn:aws:iam::111122223333:user/develop"
    );
    // A forged signature names the key it claimed, never as an authenticated caller.
    assert_eq!(records[6]["errorCode"], "SignatureDoesNotMatch");
    assert_eq!(records[6]["userIdentity"]["type"], "Unknown");
    assert_eq!(records[7]["userIdentity"]["accountId"], "anonymous");

    // Nothing secret: configured secrets, the session's secret and token, the encoded message.
    let text = std::fs::read_to_string(&trail).unwrap();
    let demo = std::fs::read_to_string(&gw.config_path).unwrap();
    let mut secrets: Vec<String> = demo
        .lines()
        .filter(|l| {
            l.trim_start().starts_with("secret") || l.trim_start().starts_with("secret_access_key")
        })
        .filter_map(|l| l.split('"').nth(1).map(str::to_string))
        .collect();
    assert!(secrets.len() >= 5, "{secrets:?}");
    secrets.extend([
        creds.secret.clone(),
        creds.token.clone().unwrap(),
        blob,
        RECORDER_KEY.1.to_string(),
        DEVELOP.1.to_string(),
    ]);
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "the audit trail contains a secret: {secret}"
        );
    }
    assert!(
        !text.contains("Signature="),
        "a signature reached the trail"
    );
}

#[test]
fn sighup_reopens_the_file_after_rotation() {
    let recorder = Recorder::start();
    let dir = tempfile::tempdir().unwrap();
    let trail = dir.path().join("audit.log");
    let gw = Gateway::start(&config_with_backend(
        &recorder.backend_toml(),
        &format!("[audit]\nfile = \"{}\"\n", trail.display()),
    ));
    assert_eq!(send(&gw, None, "GET", "/bucket/one", None, b"").0, 403);
    assert_eq!(records(&trail, 1).len(), 1);
    std::fs::rename(&trail, dir.path().join("audit.log.1")).unwrap();
    let ok = std::process::Command::new("kill")
        .args(["-HUP", &gw.pid().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        send(&gw, None, "GET", "/bucket/two", None, b"").0,
        403,
        "the gateway survives SIGHUP"
    );
    let new = records(&trail, 1);
    assert_eq!(new.len(), 1, "the next record goes to a new file");
    assert_eq!(
        records(&dir.path().join("audit.log.1"), 1).len(),
        1,
        "the rotated file keeps the old record"
    );
}

/// The writer is stalled (stdout is a pipe nobody reads, 64 KiB fill it): with a queue of 1,
/// records are dropped and counted, and every request is still answered.
#[test]
fn a_stalled_writer_drops_records_and_never_holds_requests() {
    let recorder = Recorder::start();
    let gw = Gateway::start(&config_with_backend(
        &recorder.backend_toml(),
        "[audit]\nstdout = true\nqueue_capacity = 1\n",
    ));
    const REQUESTS: usize = 400;
    let started = Instant::now();
    let endpoint = gw.endpoint.clone();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let endpoint = endpoint.clone();
            std::thread::spawn(move || {
                let host = endpoint.trim_start_matches("http://").to_string();
                let mut answered = 0;
                for i in 0..REQUESTS / 8 {
                    let mut s = std::net::TcpStream::connect(&host).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                    let path = format!("/flood/{t}-{i}-{}", "x".repeat(200));
                    s.write_all(
                        format!("GET {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n")
                            .as_bytes(),
                    )
                    .unwrap();
                    let mut out = Vec::new();
                    let _ = s.read_to_end(&mut out);
                    if out.starts_with(b"HTTP/1.1 403") {
                        answered += 1;
                    }
                }
                answered
            })
        })
        .collect();
    let answered: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(
        answered, REQUESTS,
        "every request was answered while the audit writer was stalled"
    );
    let metrics = std::process::Command::new("curl")
        .args(["-s", &format!("{}/metrics", gw.admin)])
        .output()
        .unwrap();
    let metrics = String::from_utf8_lossy(&metrics.stdout);
    let value = |name: &str| -> u64 {
        metrics
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap()
    };
    let (queued, dropped) = (
        value("stsgate_audit_records_total"),
        value("stsgate_audit_dropped_total"),
    );
    assert_eq!(queued + dropped, REQUESTS as u64, "{metrics}");
    assert!(
        dropped > 0,
        "a stalled writer with a queue of 1 must drop: {metrics}"
    );
    eprintln!(
        "{REQUESTS} requests in {:?}: {queued} records queued, {dropped} dropped",
        started.elapsed()
    );
}
