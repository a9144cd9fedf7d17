//! The S3 gateway in front of real backends (Garage, s3s-fs), driven by aws-cli with temporary
//! credentials from AssumeRole: the seed stories, forwarding, and refusals that never reach
//! the backend.

mod support;

use std::process::Command;

use serde_json::Value;
use support::{
    AUDITOR, AwsCli, Backend, Gateway, S3_ROLE, WRITER_ROLE, backend_has, expired_copy, fails,
    sha256_file, write_test_file,
};

/// aws-cli with temporary credentials for `role`.
fn assume(gw: &Gateway, role: &str, session: &str, policy: Option<&str>) -> AwsCli {
    support::assume(gw, role, session, policy).aws(gw)
}

fn seed_stories(kind: &str) {
    let Some(backend) = Backend::start(kind) else {
        return;
    };
    let gw = Gateway::in_front_of(&backend, WRITER_ROLE);
    let bucket = backend.bucket.clone();
    let dir = backend.dir().to_path_buf();
    let seed = dir.join("seed.bin");
    write_test_file(&seed, 5000, 1);
    backend.aws().ok(&[
        "s3",
        "cp",
        seed.to_str().unwrap(),
        &format!("s3://{bucket}/docs/seed.bin"),
    ]);

    // Read-only role: list and get work, byte-exact.
    let reader = assume(&gw, S3_ROLE, "reader", None);
    let listing = reader.ok(&["s3", "ls", &format!("s3://{bucket}/docs/")]);
    assert!(listing.contains("seed.bin"), "{listing}\n{}", gw.log());
    let got = dir.join("got.bin");
    reader.ok(&[
        "s3",
        "cp",
        &format!("s3://{bucket}/docs/seed.bin"),
        got.to_str().unwrap(),
    ]);
    assert_eq!(sha256_file(&got), sha256_file(&seed));

    // Put is refused with a decodable message, and the backend never sees the object.
    let err = fails(
        &reader,
        &[
            "s3",
            "cp",
            seed.to_str().unwrap(),
            &format!("s3://{bucket}/docs/denied.bin"),
        ],
    );
    assert!(
        err.contains("AccessDenied")
            && err
                .contains("is not authorized to perform: s3:PutObject on resource: arn:aws:s3:::"),
        "{err}"
    );
    assert!(
        !backend_has(&backend, "docs/denied.bin"),
        "a refused PutObject reached the backend"
    );
    let blob = err
        .split("Encoded authorization failure message: ")
        .nth(1)
        .expect("an encoded message")
        .split_whitespace()
        .next()
        .unwrap();
    let decoded: Value = serde_json::from_str(&gw.aws(AUDITOR.0, AUDITOR.1, None).ok(&[
        "sts",
        "decode-authorization-message",
        "--encoded-message",
        blob,
    ]))
    .unwrap();
    let message: Value = serde_json::from_str(decoded["DecodedMessage"].as_str().unwrap()).unwrap();
    assert_eq!(message["allowed"], false);
    assert_eq!(message["context"]["action"], "s3:PutObject");
    assert_eq!(
        message["context"]["resource"],
        format!("arn:aws:s3:::{bucket}/docs/denied.bin")
    );
    assert_eq!(
        message["context"]["principal"]["arn"],
        "arn:aws:sts::111122223333:assumed-role/s3_role/reader"
    );

    // A session policy that only allows listing: GetObject is refused.
    let list_only = assume(
        &gw,
        S3_ROLE,
        "lister",
        Some(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}}"#,
        ),
    );
    list_only.ok(&["s3", "ls", &format!("s3://{bucket}/")]);
    let err = fails(
        &list_only,
        &[
            "s3",
            "cp",
            &format!("s3://{bucket}/docs/seed.bin"),
            got.to_str().unwrap(),
        ],
    );
    assert!(err.contains("403") || err.contains("AccessDenied"), "{err}");
    let err = fails(
        &list_only,
        &[
            "s3api",
            "get-object",
            "--bucket",
            &bucket,
            "--key",
            "docs/seed.bin",
            got.to_str().unwrap(),
        ],
    );
    assert!(
        err.contains("because no session policy allows the s3:GetObject action"),
        "{err}"
    );

    // s3:prefix confines a session to its own folder.
    let folder = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"StringLike":{"s3:prefix":"docs/*"}}}}"#;
    let confined = assume(&gw, S3_ROLE, "confined", Some(folder));
    confined.ok(&[
        "s3api",
        "list-objects-v2",
        "--bucket",
        &bucket,
        "--prefix",
        "docs/",
    ]);
    let err = fails(
        &confined,
        &[
            "s3api",
            "list-objects-v2",
            "--bucket",
            &bucket,
            "--prefix",
            "other/",
        ],
    );
    assert!(err.contains("AccessDenied"), "{err}");
    let err = fails(
        &confined,
        &["s3api", "list-objects-v2", "--bucket", &bucket],
    );
    assert!(
        err.contains("AccessDenied"),
        "listing without a prefix must be refused: {err}"
    );
}

fn writer_flows(kind: &str) {
    let Some(backend) = Backend::start(kind) else {
        return;
    };
    let gw = Gateway::in_front_of(&backend, WRITER_ROLE);
    let bucket = backend.bucket.clone();
    let dir = backend.dir().to_path_buf();
    let writer = assume(
        &gw,
        "arn:aws:iam::111122223333:role/s3_writer",
        "writer",
        None,
    );

    // 20 MiB: a multipart upload through the gateway, downloaded byte-exact.
    let big = dir.join("big.bin");
    write_test_file(&big, 20 * 1024 * 1024, 9);
    writer.ok(&[
        "s3",
        "cp",
        big.to_str().unwrap(),
        &format!("s3://{bucket}/big/20MiB.bin"),
    ]);
    let back = dir.join("back.bin");
    writer.ok(&[
        "s3",
        "cp",
        &format!("s3://{bucket}/big/20MiB.bin"),
        back.to_str().unwrap(),
    ]);
    assert_eq!(sha256_file(&back), sha256_file(&big));

    // Presigned GET through the gateway.
    let url = writer.ok(&[
        "s3",
        "presign",
        &format!("s3://{bucket}/big/20MiB.bin"),
        "--expires-in",
        "300",
    ]);
    let fetched = dir.join("presigned.bin");
    let status = Command::new("curl")
        .args(["-sS", "-f", "-o"])
        .arg(&fetched)
        .arg(url.trim())
        .status()
        .unwrap();
    assert!(
        status.success(),
        "presigned GET through the gateway failed\n{}",
        gw.log()
    );
    assert_eq!(sha256_file(&fetched), sha256_file(&big));

    // Copy, list with prefix, delete.
    writer.ok(&[
        "s3api",
        "copy-object",
        "--bucket",
        &bucket,
        "--key",
        "copy/one.bin",
        "--copy-source",
        &format!("{bucket}/big/20MiB.bin"),
    ]);
    let listed: Value = serde_json::from_str(&writer.ok(&[
        "s3api",
        "list-objects-v2",
        "--bucket",
        &bucket,
        "--prefix",
        "copy/",
    ]))
    .unwrap();
    assert_eq!(listed["Contents"][0]["Key"], "copy/one.bin");
    writer.ok(&["s3", "rm", &format!("s3://{bucket}/copy/one.bin")]);
    assert!(!backend_has(&backend, "copy/one.bin"));

    // Buckets: mb, ls (ListBuckets), rb through the gateway.
    let fresh = format!("{bucket}-made");
    writer.ok(&["s3", "mb", &format!("s3://{fresh}")]);
    let buckets = writer.ok(&["s3", "ls"]);
    assert!(buckets.contains(&fresh), "{buckets}");
    writer.ok(&["s3", "rb", &format!("s3://{fresh}")]);
    let buckets = backend.aws().ok(&["s3", "ls"]);
    assert!(!buckets.contains(&fresh), "{buckets}");
}

#[test]
fn seed_stories_against_garage() {
    seed_stories("garage");
}

#[test]
fn seed_stories_against_s3s_fs() {
    seed_stories("s3s-fs");
}

#[test]
fn seed_stories_against_minio() {
    seed_stories("minio");
}

#[test]
fn seed_stories_against_minio_service_account() {
    seed_stories("minio-svcacct");
}

#[test]
fn seed_stories_against_radosgw() {
    seed_stories("radosgw");
}

#[test]
fn uploads_downloads_presign_copy_against_garage() {
    writer_flows("garage");
}

#[test]
fn uploads_downloads_presign_copy_against_s3s_fs() {
    writer_flows("s3s-fs");
}

#[test]
fn uploads_downloads_presign_copy_against_minio() {
    writer_flows("minio");
}

#[test]
fn uploads_downloads_presign_copy_against_minio_service_account() {
    writer_flows("minio-svcacct");
}

#[test]
fn uploads_downloads_presign_copy_against_radosgw() {
    writer_flows("radosgw");
}

fn refusals(kind: &str) {
    let Some(backend) = Backend::start(kind) else {
        return;
    };
    let gw = Gateway::in_front_of(&backend, WRITER_ROLE);
    let bucket = backend.bucket.clone();
    let creds = support::assume(
        &gw,
        "arn:aws:iam::111122223333:role/s3_writer",
        "refusals",
        None,
    );
    let (akid, secret, token) = (
        creds.key_id.as_str(),
        creds.secret.as_str(),
        creds.token.as_deref().unwrap(),
    );

    // Expired session: sealed by the same keyring with an expiry in the past.
    let expired = expired_copy(&gw, &creds, 5).token.unwrap();
    let err = fails(
        &gw.aws(akid, secret, Some(&expired)),
        &["s3api", "list-objects-v2", "--bucket", &bucket],
    );
    assert!(err.contains("ExpiredToken"), "{err}");
    // Tampered token.
    let mut bad = token.as_bytes().to_vec();
    let i = bad.len() / 3;
    bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
    let err = fails(
        &gw.aws(akid, secret, Some(std::str::from_utf8(&bad).unwrap())),
        &["s3api", "list-objects-v2", "--bucket", &bucket],
    );
    assert!(err.contains("InvalidClientTokenId"), "{err}");

    // A body that does not match its signed SHA-256: refused, and no object is created.
    let good = b"the body that was signed";
    let forged = b"a body of the same length";
    let forged = &forged[..good.len()];
    let host = gw.endpoint.trim_start_matches("http://").to_string();
    let path = format!("/{bucket}/forged.bin");
    let mut headers = http::HeaderMap::new();
    headers.insert("host", http::HeaderValue::from_str(&host).unwrap());
    headers.insert("content-length", http::HeaderValue::from(good.len()));
    let signer = stsgate::sigv4::Signer::new(
        akid,
        secret,
        Some(token),
        "us-east-1",
        "s3",
        stsgate::sigv4::SigningKeyCache::default(),
    );
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(good));
    signer
        .sign(
            "PUT",
            &path,
            "",
            &mut headers,
            &hash,
            stsgate::sigv4::AmzDate::now(),
        )
        .unwrap();
    let body_file = backend.dir().join("forged.body");
    std::fs::write(&body_file, forged).unwrap();
    let mut curl = Command::new("curl");
    curl.args(["-sS", "-X", "PUT", "--data-binary"])
        .arg(format!("@{}", body_file.display()))
        .arg(format!("{}{path}", gw.endpoint));
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            curl.arg("-H")
                .arg(format!("{}: {}", name, value.to_str().unwrap()));
        }
    }
    let out = curl.output().unwrap();
    let response = String::from_utf8_lossy(&out.stdout);
    assert!(
        response.contains("<Code>XAmzContentSHA256Mismatch</Code>"),
        "{response}\n{}",
        gw.log()
    );
    assert!(
        !backend_has(&backend, "forged.bin"),
        "an object whose body failed verification was created"
    );
}

#[test]
fn refusals_against_garage() {
    refusals("garage");
}

#[test]
fn refusals_against_s3s_fs() {
    refusals("s3s-fs");
}

#[test]
fn refusals_against_minio() {
    refusals("minio");
}

#[test]
fn refusals_against_minio_service_account() {
    refusals("minio-svcacct");
}

#[test]
fn refusals_against_radosgw() {
    refusals("radosgw");
}

fn delete_objects(kind: &str) {
    let Some(backend) = Backend::start(kind) else {
        return;
    };
    let gw = Gateway::in_front_of(&backend, WRITER_ROLE);
    let bucket = backend.bucket.clone();
    let file = backend.dir().join("small.txt");
    std::fs::write(&file, b"x").unwrap();
    for key in ["multi/a.txt", "multi/b.txt", "multi/keep1.txt"] {
        backend.aws().ok(&[
            "s3",
            "cp",
            file.to_str().unwrap(),
            &format!("s3://{bucket}/{key}"),
        ]);
    }
    // A session that may delete everything except multi/keep*: one denied key refuses the whole
    // request, naming it, and nothing is deleted.
    let guarded = assume(
        &gw,
        "arn:aws:iam::111122223333:role/s3_writer",
        "guarded",
        Some(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::*/multi/keep*"}]}"#,
        ),
    );
    let request = r#"{"Objects":[{"Key":"multi/a.txt"},{"Key":"multi/keep1.txt"}]}"#;
    let err = fails(
        &guarded,
        &[
            "s3api",
            "delete-objects",
            "--bucket",
            &bucket,
            "--delete",
            request,
        ],
    );
    assert!(
        err.contains("AccessDenied")
            && err.contains(&format!(
                "s3:DeleteObject on resource: arn:aws:s3:::{bucket}/multi/keep1.txt"
            )),
        "{err}"
    );
    assert!(
        err.contains("with an explicit deny in a session policy"),
        "{err}"
    );
    assert!(
        backend_has(&backend, "multi/a.txt") && backend_has(&backend, "multi/keep1.txt"),
        "a refused DeleteObjects deleted something"
    );
    // The writer's own session deletes all three in one DeleteObjects request.
    let writer = assume(
        &gw,
        "arn:aws:iam::111122223333:role/s3_writer",
        "cleaner",
        None,
    );
    let all =
        r#"{"Objects":[{"Key":"multi/a.txt"},{"Key":"multi/b.txt"},{"Key":"multi/keep1.txt"}]}"#;
    writer.ok(&[
        "s3api",
        "delete-objects",
        "--bucket",
        &bucket,
        "--delete",
        all,
    ]);
    for key in ["multi/a.txt", "multi/b.txt", "multi/keep1.txt"] {
        assert!(!backend_has(&backend, key), "{key} survived\n{}", gw.log());
    }
    assert!(
        gw.log().contains("operation=\"DeleteObjects\""),
        "the deletes should have gone through DeleteObjects"
    );
}

#[test]
fn delete_objects_against_garage() {
    delete_objects("garage");
}

#[test]
fn delete_objects_against_s3s_fs() {
    delete_objects("s3s-fs");
}

#[test]
fn delete_objects_against_minio() {
    delete_objects("minio");
}

#[test]
fn delete_objects_against_minio_service_account() {
    delete_objects("minio-svcacct");
}

#[test]
fn delete_objects_against_radosgw() {
    delete_objects("radosgw");
}
