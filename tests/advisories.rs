//! The object stores' own security advisories, as tests of the gateway (security round 2):
//! - MinIO CVE-2025-31489 and CVE-2026-41145 skipped the signature check for some payload modes
//!   (unsigned trailers; credentials in the query): every payload mode, with credentials in the
//!   header and in the query, has its signature verified, and a bad one reaches no backend.
//! - CVE-2024-36107 answered conditional requests before authorizing them: a refused request
//!   carrying `If-None-Match` / `If-Modified-Since` / `If-Match` gets 403, never 304 or 412.
//! - CVE-2026-72921 matched a policy's `tenant1/*` and an `s3:prefix` of `tenant1/` against
//!   `tenant1234/`: neither reaches it here.

mod support;

use sha2::{Digest, Sha256};
use support::recorder::Recorder;
use support::{Creds, Gateway, RawReply, WRITER_ROLE, assume, header_pairs, raw_request};

const WRITER: &str = "arn:aws:iam::111122223333:role/s3_writer";

fn gateway(rec: &Recorder) -> Gateway {
    Gateway::with_backend(&rec.backend_toml(), WRITER_ROLE)
}

fn code(reply: &RawReply) -> Option<&str> {
    reply
        .body
        .split("<Code>")
        .nth(1)
        .and_then(|r| r.split("</Code>").next())
        .or_else(|| reply.header("x-amz-error-code"))
}

/// A signed request (`payload` is the signed x-amz-content-sha256 line), optionally with one
/// character of the signature changed.
#[allow(clippy::too_many_arguments)]
fn header_signed(
    gw: &Gateway,
    creds: &Creds,
    method: &str,
    path: &str,
    payload: &str,
    extra: &[(&str, &str)],
    body: &[u8],
    tamper: bool,
) -> RawReply {
    let host = gw.endpoint.trim_start_matches("http://");
    let mut headers = http::HeaderMap::new();
    headers.insert("host", host.parse().unwrap());
    for (k, v) in extra {
        headers.insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    creds
        .signer("s3")
        .sign(
            method,
            path,
            "",
            &mut headers,
            payload,
            stsgate::sigv4::AmzDate::now(),
        )
        .unwrap();
    let mut pairs = header_pairs(&headers);
    if tamper {
        for (k, v) in pairs.iter_mut() {
            if k == "authorization" {
                let last = v.pop().unwrap();
                v.push(if last == '0' { '1' } else { '0' });
            }
        }
    }
    raw_request(&gw.endpoint, method, path, &pairs, body)
}

/// A presigned PUT URL's path and query, made by botocore for the session.
fn presigned_put(gw: &Gateway, creds: &Creds, key: &str) -> String {
    let script = format!(
        r#"
import boto3, sys
s3 = boto3.client("s3", endpoint_url="{endpoint}", region_name="us-east-1",
    aws_access_key_id="{ak}", aws_secret_access_key="{sk}", aws_session_token="{tok}",
    config=boto3.session.Config(signature_version="s3v4", s3={{"addressing_style": "path"}}))
print(s3.generate_presigned_url("put_object", Params={{"Bucket": "recorded", "Key": "{key}"}}, ExpiresIn=300))
"#,
        endpoint = gw.endpoint,
        ak = creds.key_id,
        sk = creds.secret,
        tok = creds.token.as_deref().unwrap_or(""),
    );
    let url = support::python(&script, &[]).trim().to_string();
    url.strip_prefix(&gw.endpoint).unwrap().to_string()
}

/// One aws-chunked body of `data` with an unsigned trailer (CRC32), as SDKs send it.
fn unsigned_trailer_body(data: &[u8]) -> Vec<u8> {
    let crc = crc32fast::hash(data).to_be_bytes();
    let b64 = data_encoding::BASE64.encode(&crc);
    let mut body = format!("{:x}\r\n", data.len()).into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n0\r\nx-amz-checksum-crc32:{b64}\r\n\r\n").as_bytes());
    body
}

#[test]
fn every_payload_mode_has_its_signature_verified_in_header_and_query() {
    let rec = Recorder::start();
    let gw = gateway(&rec);
    let creds = assume(&gw, WRITER, "modes", None);
    let data = b"attacker bytes";
    let chunked = unsigned_trailer_body(data);
    let hex = hex::encode(Sha256::digest(data));
    let decoded = data.len().to_string();
    let chunked_headers: &[(&str, &str)] = &[
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", &decoded),
        ("x-amz-trailer", "x-amz-checksum-crc32"),
    ];
    for (mode, headers, body) in [
        ("UNSIGNED-PAYLOAD", &[][..], &data[..]),
        (hex.as_str(), &[][..], &data[..]),
        (
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            chunked_headers,
            &chunked[..],
        ),
        (
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            chunked_headers,
            &chunked[..],
        ),
        (
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            chunked_headers,
            &chunked[..],
        ),
    ] {
        let mut with_mode: Vec<(&str, &str)> = headers.to_vec();
        with_mode.push(("x-amz-content-sha256", mode));
        let path = "/recorded/modes/header.bin";
        let reply = header_signed(&gw, &creds, "PUT", path, mode, headers, body, true);
        assert_eq!(
            (reply.status, code(&reply)),
            (403, Some("SignatureDoesNotMatch")),
            "header auth, {mode}: {reply:?}"
        );
        // Credentials in the query: the presigned URL's signature altered, the mode sent as a
        // header (unsigned there) and as the query's own X-Amz-Content-Sha256.
        let url = presigned_put(&gw, &creds, "modes/query.bin");
        let sig = url.rfind("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
        let forged = format!(
            "{}{}{}",
            &url[..sig],
            if &url[sig..sig + 1] == "0" { "1" } else { "0" },
            &url[sig + 1..]
        );
        let mut pairs: Vec<(String, String)> = with_mode
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let reply = raw_request(&gw.endpoint, "PUT", &forged, &pairs, body);
        assert_eq!(reply.status, 403, "query auth, {mode} header: {reply:?}");
        assert!(
            matches!(code(&reply), Some("SignatureDoesNotMatch" | "AccessDenied")),
            "query auth, {mode} header: {reply:?}"
        );
        pairs.retain(|(k, _)| k != "x-amz-content-sha256");
        let with_param = format!("{forged}&X-Amz-Content-Sha256={mode}");
        let reply = raw_request(&gw.endpoint, "PUT", &with_param, &pairs, body);
        assert_eq!(reply.status, 403, "query auth, {mode} parameter: {reply:?}");
    }
    assert!(
        rec.seen().is_empty(),
        "a request with a bad signature reached the backend"
    );
    // Controls: the same modes signed correctly are accepted and verified.
    let ok = header_signed(
        &gw,
        &creds,
        "PUT",
        "/recorded/modes/ok.bin",
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        chunked_headers,
        &chunked,
        false,
    );
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(
        rec.object("/recorded/modes/ok.bin").as_deref(),
        Some(&data[..])
    );
    let url = presigned_put(&gw, &creds, "modes/presigned.bin");
    let ok = raw_request(&gw.endpoint, "PUT", &url, &[], data);
    assert_eq!(ok.status, 200, "{ok:?}");
}

#[test]
fn a_refused_conditional_request_is_403_never_304_or_412() {
    let rec = Recorder::start();
    rec.put_object("/recorded/private/x", b"secret");
    rec.put_object("/recorded/public/y", b"public");
    let gw = gateway(&rec);
    let public_only = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::recorded/public/*"}}"#;
    let creds = assume(&gw, WRITER, "conditional", Some(public_only));
    let empty = hex::encode(Sha256::digest(b""));
    let conditionals: &[&[(&str, &str)]] = &[
        &[("if-none-match", "*")],
        &[("if-none-match", "\"d41d8cd98f00b204e9800998ecf8427e\"")],
        &[("if-modified-since", "Sat, 01 Jan 2099 00:00:00 GMT")],
        &[("if-match", "\"not-the-etag\"")],
        &[("if-unmodified-since", "Sat, 01 Jan 2000 00:00:00 GMT")],
    ];
    for headers in conditionals {
        for method in ["GET", "HEAD"] {
            let reply = header_signed(
                &gw,
                &creds,
                method,
                "/recorded/private/x",
                &empty,
                headers,
                b"",
                false,
            );
            assert_eq!(reply.status, 403, "{method} {headers:?}: {reply:?}");
            // Anonymous: refused as S3 refuses anonymous callers, before the conditional.
            let pairs: Vec<(String, String)> = headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let anonymous = raw_request(&gw.endpoint, method, "/recorded/private/x", &pairs, b"");
            assert_eq!(
                anonymous.status, 403,
                "anonymous {method} {headers:?}: {anonymous:?}"
            );
        }
    }
    assert!(
        rec.seen().is_empty(),
        "a refused conditional request reached the backend"
    );
    // Allowed, the conditional is the backend's to answer.
    let allowed = header_signed(
        &gw,
        &creds,
        "GET",
        "/recorded/public/y",
        &empty,
        &[("if-none-match", "\"x\"")],
        b"",
        false,
    );
    assert_eq!(allowed.status, 200, "{allowed:?}");
    assert!(rec.seen().pop().unwrap().header("if-none-match").is_some());
}

#[test]
fn a_tenant_prefix_never_reaches_a_longer_tenant_name() {
    let rec = Recorder::start();
    for key in ["tenant1/a", "tenant1234/a"] {
        rec.put_object(&format!("/recorded/{key}"), b"data");
    }
    let gw = gateway(&rec);
    let tenant1 = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::recorded/tenant1/*"},
        {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::recorded","Condition":{"StringLike":{"s3:prefix":["tenant1/","tenant1/*"]}}}]}"#;
    let creds = assume(&gw, WRITER, "tenant1", Some(tenant1));
    let send = |method: &str, target: &str, body: &[u8]| {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        support::signed_s3_request(&gw.endpoint, &creds, method, path, query, body)
    };
    let before = rec.seen_count();
    for (method, target) in [
        ("GET", "/recorded/tenant1234/a"),
        ("PUT", "/recorded/tenant1234/b"),
        ("GET", "/recorded/tenant12/a"),
        ("GET", "/recorded?list-type=2&prefix=tenant1234%2F"),
        ("GET", "/recorded?list-type=2&prefix=tenant1"),
        ("GET", "/recorded?list-type=2&prefix=tenant12"),
        ("GET", "/recorded?list-type=2"),
        ("GET", "/recorded?prefix=tenant1234%2F"),
    ] {
        let reply = send(method, target, b"x");
        assert_eq!(
            (reply.status, code(&reply)),
            (403, Some("AccessDenied")),
            "{method} {target}: {reply:?}"
        );
    }
    assert_eq!(
        rec.seen_count(),
        before,
        "tenant1's session reached another tenant"
    );
    for (method, target) in [
        ("GET", "/recorded/tenant1/a"),
        ("PUT", "/recorded/tenant1/b"),
        ("GET", "/recorded?list-type=2&prefix=tenant1%2F"),
        ("GET", "/recorded?list-type=2&prefix=tenant1%2Fsub%2F"),
    ] {
        let reply = send(method, target, b"x");
        assert_ne!(reply.status, 403, "{method} {target}: {reply:?}");
    }
    assert_eq!(rec.seen_count(), before + 4);
}
