//! Proves the harness: aws-cli straight against each real backend (no gateway in between):
//! make a bucket, upload 20 MiB as a multipart upload, download it byte-exact, list, and fetch a
//! presigned GET. If this fails, a gateway test failure would mean nothing.

mod support;

use std::process::Command;

use support::{Backend, sha256_file, write_test_file};

const SIZE: usize = 20 * 1024 * 1024;

fn smoke(kind: &str) {
    let Some(backend) = Backend::start(kind) else {
        return;
    };
    let aws = backend.aws();
    let dir = backend.dir();
    let upload = dir.join("upload.bin");
    let download = dir.join("download.bin");
    write_test_file(&upload, SIZE, 7);

    let bucket = format!("smoke-{}", kind.replace('-', ""));
    aws.ok(&["s3", "mb", &format!("s3://{bucket}")]);
    // 20 MiB is above aws-cli's 8 MiB multipart threshold: this is a multipart upload.
    let put = aws.ok(&[
        "s3",
        "cp",
        upload.to_str().unwrap(),
        &format!("s3://{bucket}/data/20MiB.bin"),
    ]);
    assert!(put.contains("upload:"), "{put}");
    aws.ok(&[
        "s3",
        "cp",
        &format!("s3://{bucket}/data/20MiB.bin"),
        download.to_str().unwrap(),
    ]);
    assert_eq!(
        sha256_file(&download),
        sha256_file(&upload),
        "downloaded bytes differ from uploaded ones"
    );

    let head = aws.ok(&[
        "s3api",
        "head-object",
        "--bucket",
        &bucket,
        "--key",
        "data/20MiB.bin",
    ]);
    let head: serde_json::Value = serde_json::from_str(&head).unwrap();
    assert_eq!(head["ContentLength"], SIZE as u64);
    // A multipart ETag is "<md5 of part md5s>-<part count>".
    let etag = head["ETag"].as_str().unwrap();
    assert!(
        etag.trim_matches('"').contains('-'),
        "expected a multipart ETag, got {etag}"
    );

    let listing = aws.ok(&["s3", "ls", &format!("s3://{bucket}/data/")]);
    assert!(
        listing.contains("20MiB.bin") && listing.contains(&SIZE.to_string()),
        "{listing}"
    );

    let url = aws.ok(&[
        "s3",
        "presign",
        &format!("s3://{bucket}/data/20MiB.bin"),
        "--expires-in",
        "300",
    ]);
    let url = url.trim();
    assert!(
        url.contains("X-Amz-Algorithm=AWS4-HMAC-SHA256"),
        "presigned URL is not SigV4: {url}"
    );
    let fetched = dir.join("presigned.bin");
    let status = Command::new("curl")
        .args(["-sS", "-f", "-o"])
        .arg(&fetched)
        .arg(url)
        .status()
        .expect("run curl");
    assert!(status.success(), "presigned GET failed");
    assert_eq!(sha256_file(&fetched), sha256_file(&upload));

    // The pre-created bucket from the script is there too.
    let buckets = aws.ok(&["s3", "ls"]);
    assert!(
        buckets.contains(&backend.bucket) && buckets.contains(&bucket),
        "{buckets}"
    );
}

#[test]
fn aws_cli_against_garage() {
    smoke("garage");
}

#[test]
fn aws_cli_against_s3s_fs() {
    smoke("s3s-fs");
}

#[test]
fn aws_cli_against_minio_when_installed() {
    smoke("minio");
}

#[test]
fn aws_cli_against_radosgw() {
    smoke("radosgw");
}
