//! Interop: requests signed by real signers (botocore's `S3SigV4Auth`/`S3SigV4QueryAuth`, and
//! aws-sdk-rust's `aws-sigv4`) verify, for the keys that broke other verifiers: spaces, Unicode,
//! `+`, `=`, a literal `%2F`, `//`, and empty query values.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue};
use stsgate::sigv4::encoding::uri_encode;
use stsgate::sigv4::{
    AmzDate, AuthKind, RequestParts, SigningKeyCache, UriMode, VerifyPolicy, parse_request_auth,
    verify_signature,
};

const AKID: &str = "AKIARTX3GSDSSMDOBCNR";
const SECRET: &str = "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";
const TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLE/token+with=odd%chars";

/// (object key, raw query) pairs. Keys are encoded the way SDKs encode them.
fn cases() -> Vec<(&'static str, &'static str)> {
    vec![
        ("plain.txt", ""),
        ("with spaces/and  two.txt", ""),
        ("ünïcödé/ሴ.bin", ""),
        ("a+b=c&d.txt", ""),
        ("literal%2Fpercent", ""),
        ("double//slash//key", ""),
        ("trailing/", ""),
        ("", "acl="),
        ("", "uploads="),
        ("", "list-type=2&prefix=&delimiter=%2F&encoding-type=url"),
        ("obj", "versionId=abc&x-id=GetObject"),
        (
            "obj",
            "response-content-disposition=attachment%3B%20filename%3D%22a%20b.txt%22",
        ),
    ]
}

fn wire_path(key: &str) -> String {
    format!("/interop-bucket/{}", uri_encode(key.as_bytes(), true))
}

fn verify(
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
) -> Result<AuthKind, stsgate::sigv4::SigV4Error> {
    let regions = vec!["us-east-1".to_string()];
    let policy = VerifyPolicy {
        regions: &regions,
        services: &["s3"],
        max_skew: Duration::from_secs(900),
        now: AmzDate::now(),
    };
    let req = RequestParts {
        method,
        path,
        query,
        headers,
        authority: None,
    };
    let parsed = parse_request_auth(&req, &policy)?.expect("the request is signed");
    assert_eq!(parsed.credential.access_key_id(), AKID);
    assert_eq!(
        parsed.security_token.as_deref(),
        Some(TOKEN),
        "the session token must round-trip"
    );
    let payload = parsed
        .content_sha256
        .expect("S3 requests carry a payload line")
        .to_string();
    verify_signature(
        &parsed,
        &req,
        SECRET,
        &payload,
        UriMode::S3,
        &SigningKeyCache::default(),
    )?;
    Ok(parsed.kind)
}

fn split_url(url: &str) -> (String, String) {
    let after_scheme = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let target = &after_scheme[after_scheme.find('/').unwrap_or(after_scheme.len())..];
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    (path.to_string(), query.to_string())
}

#[test]
fn botocore_signed_requests_verify() {
    if support::which("python3").is_none()
        || Command::new("python3")
            .args(["-c", "import botocore"])
            .status()
            .map(|s| !s.success())
            .unwrap_or(true)
    {
        support::unavailable(
            "botocore",
            "python3 with botocore is not installed (pip install boto3)",
        );
        return;
    }
    let mut requests = Vec::new();
    for (key, query) in cases() {
        let url = format!(
            "http://127.0.0.1:7480{}{}{}",
            wire_path(key),
            if query.is_empty() { "" } else { "?" },
            query
        );
        for presign in [false, true] {
            for method in ["GET", "PUT"] {
                if presign && method == "PUT" && !query.is_empty() {
                    continue;
                }
                let body = if method == "PUT" && !presign {
                    "some body bytes"
                } else {
                    ""
                };
                requests.push(serde_json::json!({"method": method, "url": url, "headers": {"x-amz-meta-note": "π and spaces  here"}, "body": body, "presign": presign}));
            }
        }
    }
    let spec = serde_json::json!({"access_key": AKID, "secret_key": SECRET, "token": TOKEN, "region": "us-east-1", "requests": requests});
    let script = support::repo_root().join("tests/interop/botocore_sign.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(spec.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "botocore_sign.py failed");
    let signed: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(signed.len(), requests.len());
    let mut presigned = 0;
    for r in &signed {
        let (path, query) = split_url(r["url"].as_str().unwrap());
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("127.0.0.1:7480"));
        for pair in r["headers"].as_array().unwrap() {
            let (name, value) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
            headers.append(
                HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).unwrap(),
                HeaderValue::from_bytes(value.as_bytes()).unwrap(),
            );
        }
        let method = r["method"].as_str().unwrap();
        let kind = verify(method, &path, &query, &headers)
            .unwrap_or_else(|e| panic!("botocore {method} {path}?{query}: {e}"));
        if kind == AuthKind::Presigned {
            presigned += 1;
        }
        // Tampering with the path must fail.
        let tampered = format!("{path}x");
        assert!(
            verify(method, &tampered, &query, &headers).is_err(),
            "tampered path verified: {tampered}"
        );
    }
    assert!(
        presigned >= cases().len(),
        "presigned cases were not exercised"
    );
}

fn sdk_sign(
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    presign: bool,
) -> http::Request<()> {
    use aws_sigv4::http_request::{
        PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
        SigningSettings, UriPathNormalizationMode, sign,
    };
    use aws_sigv4::sign::v4;
    let identity = aws_credential_types::Credentials::new(
        AKID,
        SECRET,
        Some(TOKEN.to_string()),
        None,
        "interop",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    if presign {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(900));
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let signable_body = if presign {
        SignableBody::UnsignedPayload
    } else {
        SignableBody::Bytes(body)
    };
    let signable =
        SignableRequest::new(method, uri, headers.iter().copied(), signable_body).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let mut request = builder.body(()).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    request
}

#[test]
fn aws_sigv4_crate_signed_requests_verify() {
    for (key, query) in cases() {
        let uri = format!(
            "http://127.0.0.1:7480{}{}{}",
            wire_path(key),
            if query.is_empty() { "" } else { "?" },
            query
        );
        for presign in [false, true] {
            let request = sdk_sign(
                "GET",
                &uri,
                &[
                    ("host", "127.0.0.1:7480"),
                    ("x-amz-meta-note", "hello world"),
                ],
                b"",
                presign,
            );
            let path = request.uri().path().to_string();
            let query = request.uri().query().unwrap_or("").to_string();
            let kind = verify("GET", &path, &query, request.headers())
                .unwrap_or_else(|e| panic!("aws-sigv4 {uri} (presign {presign}): {e}"));
            assert_eq!(kind == AuthKind::Presigned, presign);
            let mut changed = request.headers().clone();
            changed.insert("x-amz-meta-note", HeaderValue::from_static("hello there"));
            assert_eq!(
                verify("GET", &path, &query, &changed).unwrap_err().code(),
                "SignatureDoesNotMatch",
                "{uri}"
            );
        }
    }
}

#[test]
fn raw_sub_delimiters_verify_through_the_raw_path_fallback() {
    // Some signers leave '=' and ',' raw in the path and sign it that way (s3s-project/s3s#570).
    let uri = "http://127.0.0.1:7480/interop-bucket/k=v,x";
    let request = sdk_sign("GET", uri, &[("host", "127.0.0.1:7480")], b"", false);
    verify("GET", request.uri().path(), "", request.headers()).unwrap();
}
