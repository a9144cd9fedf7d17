//! aws-chunked uploads through the gateway against real backends: aws-sdk-rust (which, for a
//! streaming body, sends `STREAMING-UNSIGNED-PAYLOAD-TRAILER` with a CRC32 trailer, even over
//! plain HTTP in the 2026 SDKs), and hand-built bodies with signed chunks (one bad chunk
//! signature) or a wrong trailing checksum, which must leave no object behind.

mod support;

use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};
use stsgate::sigv4::checksum::{Checksum, ChecksumAlgorithm};
use stsgate::sigv4::chunked::chunk_signature;
use stsgate::sigv4::{AmzDate, Signer, SigningKey, SigningKeyCache};
use support::{Backend, DEVELOP, Gateway, WRITER_ROLE, backend_has};

struct Session {
    akid: String,
    secret: String,
    token: String,
}

fn writer_session(gw: &Gateway) -> Session {
    let develop = gw.aws(DEVELOP.0, DEVELOP.1, None);
    let v: Value = serde_json::from_str(&develop.ok(&[
        "sts",
        "assume-role",
        "--role-arn",
        "arn:aws:iam::111122223333:role/s3_writer",
        "--role-session-name",
        "chunked",
    ]))
    .unwrap();
    let c = &v["Credentials"];
    Session {
        akid: c["AccessKeyId"].as_str().unwrap().into(),
        secret: c["SecretAccessKey"].as_str().unwrap().into(),
        token: c["SessionToken"].as_str().unwrap().into(),
    }
}

async fn sdk_round_trip(kind: &str) {
    let Some(backend) = Backend::start(kind) else {
        return;
    };
    let gw = Gateway::in_front_of(&backend, WRITER_ROLE);
    let s = writer_session(&gw);
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&gw.endpoint)
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            &s.akid,
            &s.secret,
            Some(s.token.clone()),
            None,
            "test",
        ))
        .load()
        .await;
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let data: Vec<u8> = (0..3 * 1024 * 1024 + 17)
        .map(|i| (i * 7 % 253) as u8)
        .collect();
    // A file body streams with a known length: that is when the SDK uses aws-chunked.
    let file = backend.dir().join("sdk-upload.bin");
    std::fs::write(&file, &data).unwrap();
    client
        .put_object()
        .bucket(&backend.bucket)
        .key("sdk/object.bin")
        .body(
            aws_sdk_s3::primitives::ByteStream::from_path(&file)
                .await
                .unwrap(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("put_object through the gateway: {e:?}\n{}", gw.log()));
    let log = gw.log();
    assert!(
        log.contains("operation=\"PutObject\"") && log.contains("payload=STREAMING-"),
        "aws-sdk-rust should have uploaded the file as aws-chunked:\n{log}"
    );
    let got = client
        .get_object()
        .bucket(&backend.bucket)
        .key("sdk/object.bin")
        .send()
        .await
        .unwrap();
    let bytes = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(
        Sha256::digest(&bytes),
        Sha256::digest(&data),
        "downloaded bytes differ"
    );
    let listed = client
        .list_objects_v2()
        .bucket(&backend.bucket)
        .prefix("sdk/")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.contents().len(), 1);
    client
        .delete_object()
        .bucket(&backend.bucket)
        .key("sdk/object.bin")
        .send()
        .await
        .unwrap();
    assert!(!backend_has(&backend, "sdk/object.bin"));
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_sdk_rust_chunked_upload_against_garage() {
    sdk_round_trip("garage").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_sdk_rust_chunked_upload_against_s3s_fs() {
    sdk_round_trip("s3s-fs").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_sdk_rust_chunked_upload_against_minio() {
    sdk_round_trip("minio").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_sdk_rust_chunked_upload_against_minio_service_account() {
    sdk_round_trip("minio-svcacct").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_sdk_rust_chunked_upload_against_radosgw() {
    sdk_round_trip("radosgw").await;
}

/// What to break in a hand-built body.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    /// Flip a bit of this chunk's signature (0-based; the last index is the final empty chunk).
    ChunkSignature(usize),
    WrongChecksum,
}

/// Sends a hand-built aws-chunked PUT with curl; returns the response body.
fn send_chunked(
    gw: &Gateway,
    s: &Session,
    bucket: &str,
    key: &str,
    mode: &str,
    data: &[u8],
    fault: Fault,
) -> String {
    let host = gw.endpoint.trim_start_matches("http://").to_string();
    let path = format!("/{bucket}/{key}");
    let now = AmzDate::now();
    let chunk_size = 1000;
    let signed = mode.starts_with("STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
    let trailer = mode.ends_with("TRAILER");
    // Build the body first (its length is signed), with placeholder signatures sized like real ones.
    let build = |seed: Option<[u8; 32]>| -> Vec<u8> {
        let key = SigningKey::derive(&s.secret, now.date_str(), "us-east-1", "s3");
        let scope = format!("{}/us-east-1/s3/aws4_request", now.date_str());
        let mut body = Vec::new();
        let mut previous = seed.unwrap_or([0; 32]);
        for (i, chunk) in data
            .chunks(chunk_size)
            .chain(std::iter::once(&[][..]))
            .enumerate()
        {
            if signed {
                let mut sig =
                    chunk_signature(&key, &now, &scope, &previous, &Sha256::digest(chunk).into());
                previous = sig;
                if fault == Fault::ChunkSignature(i) {
                    sig[0] ^= 1;
                }
                body.extend_from_slice(
                    format!("{:x};chunk-signature={}\r\n", chunk.len(), hex::encode(sig))
                        .as_bytes(),
                );
            } else {
                body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            }
            if !chunk.is_empty() {
                body.extend_from_slice(chunk);
                body.extend_from_slice(b"\r\n");
            }
        }
        if trailer {
            let mut c = Checksum::new(ChecksumAlgorithm::Crc32);
            c.update(data);
            let mut value = c.finalize_base64();
            if fault == Fault::WrongChecksum {
                value = "AAAAAA==".into();
            }
            body.extend_from_slice(format!("x-amz-checksum-crc32:{value}\r\n\r\n").as_bytes());
        } else {
            body.extend_from_slice(b"\r\n");
        }
        body
    };
    let length = build(None).len();
    let mut headers = http::HeaderMap::new();
    headers.insert("host", http::HeaderValue::from_str(&host).unwrap());
    headers.insert("content-length", http::HeaderValue::from(length));
    headers.insert(
        "content-encoding",
        http::HeaderValue::from_static("aws-chunked"),
    );
    headers.insert(
        "x-amz-decoded-content-length",
        http::HeaderValue::from(data.len()),
    );
    if trailer {
        headers.insert(
            "x-amz-trailer",
            http::HeaderValue::from_static("x-amz-checksum-crc32"),
        );
    }
    let signer = Signer::new(
        &s.akid,
        &s.secret,
        Some(&s.token),
        "us-east-1",
        "s3",
        SigningKeyCache::default(),
    );
    let seed = signer
        .sign("PUT", &path, "", &mut headers, mode, now)
        .unwrap();
    let body = build(Some(seed));
    assert_eq!(body.len(), length);
    let file = std::env::temp_dir().join(format!("stsgate-chunked-{}-{key}", std::process::id()));
    std::fs::write(&file, &body).unwrap();
    let mut curl = Command::new("curl");
    curl.args([
        "-sS",
        "-X",
        "PUT",
        "-H",
        "Content-Type:",
        "-H",
        "Expect:",
        "--data-binary",
    ])
    .arg(format!("@{}", file.display()))
    .arg(format!("{}{path}", gw.endpoint));
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            curl.arg("-H")
                .arg(format!("{}: {}", name, value.to_str().unwrap()));
        }
    }
    let out = curl.output().unwrap();
    let _ = std::fs::remove_file(&file);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn hand_built(kind: &str) {
    let Some(backend) = Backend::start(kind) else {
        return;
    };
    let gw = Gateway::in_front_of(&backend, WRITER_ROLE);
    let s = writer_session(&gw);
    let data: Vec<u8> = (0..4321).map(|i| (i % 251) as u8).collect();
    let bucket = backend.bucket.clone();

    let ok = send_chunked(
        &gw,
        &s,
        &bucket,
        "signed-ok.bin",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        &data,
        Fault::None,
    );
    assert!(!ok.contains("<Error>"), "{ok}\n{}", gw.log());
    assert!(backend_has(&backend, "signed-ok.bin"));
    let fetched = backend.dir().join("signed-ok.out");
    backend.aws().ok(&[
        "s3",
        "cp",
        &format!("s3://{bucket}/signed-ok.bin"),
        fetched.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(&fetched).unwrap(), data);

    let bad = send_chunked(
        &gw,
        &s,
        &bucket,
        "signed-bad.bin",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        &data,
        Fault::ChunkSignature(2),
    );
    assert!(bad.contains("<Code>SignatureDoesNotMatch</Code>"), "{bad}");
    assert!(
        !backend_has(&backend, "signed-bad.bin"),
        "a body with a bad chunk signature created an object"
    );
    let bad_final = send_chunked(
        &gw,
        &s,
        &bucket,
        "signed-bad-final.bin",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        &data,
        Fault::ChunkSignature(5),
    );
    assert!(
        bad_final.contains("<Code>SignatureDoesNotMatch</Code>"),
        "{bad_final}"
    );
    assert!(
        !backend_has(&backend, "signed-bad-final.bin"),
        "a bad final-chunk signature created an object"
    );

    let trailer_ok = send_chunked(
        &gw,
        &s,
        &bucket,
        "trailer-ok.bin",
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        &data,
        Fault::None,
    );
    assert!(!trailer_ok.contains("<Error>"), "{trailer_ok}");
    assert!(backend_has(&backend, "trailer-ok.bin"));
    let trailer_bad = send_chunked(
        &gw,
        &s,
        &bucket,
        "trailer-bad.bin",
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        &data,
        Fault::WrongChecksum,
    );
    assert!(
        trailer_bad.contains("<Code>BadDigest</Code>"),
        "{trailer_bad}"
    );
    assert!(
        !backend_has(&backend, "trailer-bad.bin"),
        "a wrong trailing checksum created an object"
    );
}

#[test]
fn hand_built_chunked_bodies_against_garage() {
    hand_built("garage");
}

#[test]
fn hand_built_chunked_bodies_against_s3s_fs() {
    hand_built("s3s-fs");
}

#[test]
fn hand_built_chunked_bodies_against_minio() {
    hand_built("minio");
}

#[test]
fn hand_built_chunked_bodies_against_minio_service_account() {
    hand_built("minio-svcacct");
}

#[test]
fn hand_built_chunked_bodies_against_radosgw() {
    hand_built("radosgw");
}
