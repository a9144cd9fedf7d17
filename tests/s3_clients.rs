//! More real S3 clients through the gateway against Garage, with temporary credentials from
//! AssumeRole: boto3 (default checksums), rclone and s3cmd: upload, download, list, delete.

mod support;

use std::process::Command;

use serde_json::Value;
use support::{Backend, DEVELOP, Gateway, WRITER_ROLE, backend_has, sha256_file, write_test_file};

struct Creds {
    akid: String,
    secret: String,
    token: String,
}

fn setup(kind: &str) -> Option<(Backend, Gateway, Creds)> {
    let backend = Backend::start(kind)?;
    let gw = Gateway::in_front_of(&backend, WRITER_ROLE);
    let develop = gw.aws(DEVELOP.0, DEVELOP.1, None);
    let v: Value = serde_json::from_str(&develop.ok(&[
        "sts",
        "assume-role",
        "--role-arn",
        "arn:aws:iam::111122223333:role/s3_writer",
        "--role-session-name",
        "clients",
    ]))
    .unwrap();
    let c = &v["Credentials"];
    let creds = Creds {
        akid: c["AccessKeyId"].as_str().unwrap().into(),
        secret: c["SecretAccessKey"].as_str().unwrap().into(),
        token: c["SessionToken"].as_str().unwrap().into(),
    };
    Some((backend, gw, creds))
}

fn tool(name: &str) -> bool {
    if support::which(name).is_some() {
        return true;
    }
    support::unavailable(name, "not installed (scripts/test.sh installs it)");
    false
}

#[test]
fn boto3_upload_download_list_delete() {
    boto3_upload_download_list_delete_against("garage");
}

#[test]
fn boto3_upload_download_list_delete_against_minio() {
    boto3_upload_download_list_delete_against("minio");
}

#[test]
fn boto3_upload_download_list_delete_against_minio_service_account() {
    boto3_upload_download_list_delete_against("minio-svcacct");
}

#[test]
fn boto3_upload_download_list_delete_against_radosgw() {
    boto3_upload_download_list_delete_against("radosgw");
}

fn boto3_upload_download_list_delete_against(kind: &str) {
    if !Command::new("python3")
        .args(["-c", "import boto3"])
        .status()
        .is_ok_and(|s| s.success())
    {
        support::unavailable("boto3", "python3 with boto3 is not installed");
        return;
    }
    let Some((backend, gw, c)) = setup(kind) else {
        return;
    };
    let big = backend.dir().join("boto3-big.bin");
    write_test_file(&big, 9 * 1024 * 1024, 3);
    let script = r#"
import hashlib, sys, boto3
from boto3.s3.transfer import TransferConfig
endpoint, akid, secret, token, bucket, big = sys.argv[1:7]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=akid, aws_secret_access_key=secret, aws_session_token=token)
s3.put_object(Bucket=bucket, Key="boto3/small.txt", Body=b"hello from boto3")
assert s3.get_object(Bucket=bucket, Key="boto3/small.txt")["Body"].read() == b"hello from boto3"
s3.upload_file(big, bucket, "boto3/big.bin", Config=TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024))
body = s3.get_object(Bucket=bucket, Key="boto3/big.bin")["Body"].read()
print(hashlib.sha256(body).hexdigest())
keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="boto3/")["Contents"])
assert keys == ["boto3/big.bin", "boto3/small.txt"], keys
s3.delete_object(Bucket=bucket, Key="boto3/small.txt")
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args([
            &gw.endpoint,
            &c.akid,
            &c.secret,
            &c.token,
            &backend.bucket,
            big.to_str().unwrap(),
        ])
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        gw.log()
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        sha256_file(&big)
    );
    assert!(!backend_has(&backend, "boto3/small.txt"));
    assert!(backend_has(&backend, "boto3/big.bin"));
}

#[test]
fn rclone_copy_list_cat_delete() {
    rclone_copy_list_cat_delete_against("garage");
}

#[test]
fn rclone_copy_list_cat_delete_against_minio() {
    rclone_copy_list_cat_delete_against("minio");
}

#[test]
fn rclone_copy_list_cat_delete_against_minio_service_account() {
    rclone_copy_list_cat_delete_against("minio-svcacct");
}

#[test]
fn rclone_copy_list_cat_delete_against_radosgw() {
    rclone_copy_list_cat_delete_against("radosgw");
}

fn rclone_copy_list_cat_delete_against(kind: &str) {
    if !tool("rclone") {
        return;
    }
    let Some((backend, gw, c)) = setup(kind) else {
        return;
    };
    let file = backend.dir().join("rclone.bin");
    write_test_file(&file, 3 * 1024 * 1024 + 5, 4);
    let rclone = |args: &[&str]| {
        let out = Command::new("rclone")
            .args(args)
            // rclone 1.60 cannot apply AWS_CA_BUNDLE to its own HTTP transport (and needs no CA for http).
            .env_remove("AWS_CA_BUNDLE")
            .env("RCLONE_CONFIG", backend.dir().join("rclone.conf"))
            .env("RCLONE_CONFIG_GW_TYPE", "s3")
            .env("RCLONE_CONFIG_GW_PROVIDER", "Other")
            .env("RCLONE_CONFIG_GW_ACCESS_KEY_ID", &c.akid)
            .env("RCLONE_CONFIG_GW_SECRET_ACCESS_KEY", &c.secret)
            .env("RCLONE_CONFIG_GW_SESSION_TOKEN", &c.token)
            .env("RCLONE_CONFIG_GW_ENDPOINT", &gw.endpoint)
            .env("RCLONE_CONFIG_GW_REGION", "us-east-1")
            .env("RCLONE_CONFIG_GW_FORCE_PATH_STYLE", "true")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "rclone {}: {}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr),
            gw.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let remote = format!("gw:{}/rclone/", backend.bucket);
    rclone(&["copy", file.to_str().unwrap(), &remote]);
    let listing = rclone(&["ls", &remote]);
    assert!(
        listing.contains("rclone.bin") && listing.contains(&(3 * 1024 * 1024 + 5).to_string()),
        "{listing}"
    );
    let back = backend.dir().join("rclone-back");
    rclone(&[
        "copy",
        &format!("{remote}rclone.bin"),
        back.to_str().unwrap(),
    ]);
    assert_eq!(sha256_file(&back.join("rclone.bin")), sha256_file(&file));
    rclone(&["delete", &remote]);
    assert!(!backend_has(&backend, "rclone/rclone.bin"));
}

#[test]
fn s3cmd_put_get_ls_del() {
    s3cmd_put_get_ls_del_against("garage");
}

#[test]
fn s3cmd_put_get_ls_del_against_minio() {
    s3cmd_put_get_ls_del_against("minio");
}

#[test]
fn s3cmd_put_get_ls_del_against_minio_service_account() {
    s3cmd_put_get_ls_del_against("minio-svcacct");
}

#[test]
fn s3cmd_put_get_ls_del_against_radosgw() {
    s3cmd_put_get_ls_del_against("radosgw");
}

fn s3cmd_put_get_ls_del_against(kind: &str) {
    if !tool("s3cmd") {
        return;
    }
    let Some((backend, gw, c)) = setup(kind) else {
        return;
    };
    let host = gw.endpoint.trim_start_matches("http://").to_string();
    let cfg = backend.dir().join("s3cmd.cfg");
    std::fs::write(
        &cfg,
        format!(
            "[default]\naccess_key = {}\nsecret_key = {}\naccess_token = {}\nhost_base = {host}\nhost_bucket = {host}\nuse_https = False\nsignature_v2 = False\nbucket_location = us-east-1\n",
            c.akid, c.secret, c.token
        ),
    )
    .unwrap();
    let file = backend.dir().join("s3cmd.bin");
    write_test_file(&file, 200_000, 5);
    let s3cmd = |args: &[&str]| {
        let out = Command::new("s3cmd")
            .arg("-c")
            .arg(&cfg)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "s3cmd {}: {}{}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            gw.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let url = format!("s3://{}/s3cmd/object.bin", backend.bucket);
    s3cmd(&["put", file.to_str().unwrap(), &url]);
    let listing = s3cmd(&["ls", &format!("s3://{}/s3cmd/", backend.bucket)]);
    assert!(listing.contains("object.bin"), "{listing}");
    let back = backend.dir().join("s3cmd.out");
    s3cmd(&["get", "--force", &url, back.to_str().unwrap()]);
    assert_eq!(sha256_file(&back), sha256_file(&file));
    s3cmd(&["del", &url]);
    assert!(!backend_has(&backend, "s3cmd/object.bin"));
}

#[test]
fn mc_cp_ls_cat_mirror_rm() {
    mc_cp_ls_cat_mirror_rm_against("garage");
}

#[test]
fn mc_cp_ls_cat_mirror_rm_against_minio() {
    mc_cp_ls_cat_mirror_rm_against("minio");
}

#[test]
fn mc_cp_ls_cat_mirror_rm_against_minio_service_account() {
    mc_cp_ls_cat_mirror_rm_against("minio-svcacct");
}

#[test]
fn mc_cp_ls_cat_mirror_rm_against_radosgw() {
    mc_cp_ls_cat_mirror_rm_against("radosgw");
}

/// MinIO's own client, `mc`, with session credentials (`MC_HOST_<alias>` carries the token).
fn mc_cp_ls_cat_mirror_rm_against(kind: &str) {
    let Some(mc) = support::go_program("mc") else {
        support::unavailable("mc", "not installed (scripts/backend.sh install mc)");
        return;
    };
    let Some((backend, gw, c)) = setup(kind) else {
        return;
    };
    // mc takes the credentials in MC_HOST_<alias> as written (no percent-decoding); ours never
    // contain ':' or '@' (base64 secrets, URL-safe base64 tokens).
    let host = format!(
        "http://{}:{}:{}@{}",
        c.akid,
        c.secret,
        c.token,
        gw.endpoint.trim_start_matches("http://")
    );
    let config = backend.dir().join("mc-config");
    let run = |args: &[&str]| {
        let out = Command::new(&mc)
            .arg("--config-dir")
            .arg(&config)
            .args(["--no-color", "--quiet"])
            .args(args)
            .env("MC_HOST_gw", &host)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mc {}: {}{}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            gw.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let bucket = &backend.bucket;
    let file = backend.dir().join("mc.bin");
    write_test_file(&file, 6 * 1024 * 1024 + 3, 9);
    run(&[
        "cp",
        file.to_str().unwrap(),
        &format!("gw/{bucket}/mc/one.bin"),
    ]);
    let listing = run(&["ls", &format!("gw/{bucket}/mc/")]);
    assert!(listing.contains("one.bin"), "{listing}");
    let back = backend.dir().join("mc-back.bin");
    run(&[
        "cp",
        &format!("gw/{bucket}/mc/one.bin"),
        back.to_str().unwrap(),
    ]);
    assert_eq!(sha256_file(&back), sha256_file(&file));
    let dir = backend.dir().join("mirror");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("a.txt"), b"alpha").unwrap();
    std::fs::write(dir.join("sub/b.txt"), b"beta").unwrap();
    run(&[
        "mirror",
        dir.to_str().unwrap(),
        &format!("gw/{bucket}/mirrored"),
    ]);
    assert_eq!(
        run(&["cat", &format!("gw/{bucket}/mirrored/sub/b.txt")]),
        "beta"
    );
    run(&["rm", "--recursive", "--force", &format!("gw/{bucket}/mc/")]);
    run(&[
        "rm",
        "--recursive",
        "--force",
        &format!("gw/{bucket}/mirrored/"),
    ]);
    assert!(!backend_has(&backend, "mc/one.bin"));
    assert!(!backend_has(&backend, "mirrored/a.txt"));
}

#[test]
fn go_clients_minio_go_and_aws_sdk_go_v2() {
    go_clients_against("garage");
}

#[test]
fn go_clients_minio_go_and_aws_sdk_go_v2_against_minio() {
    go_clients_against("minio");
}

#[test]
fn go_clients_minio_go_and_aws_sdk_go_v2_against_minio_service_account() {
    go_clients_against("minio-svcacct");
}

#[test]
fn go_clients_minio_go_and_aws_sdk_go_v2_against_radosgw() {
    go_clients_against("radosgw");
}

/// `tests/interop/go`: minio-go v7 (put, stat, get, list, remove) and aws-sdk-go-v2 (put, get,
/// multipart upload manager, presigned GET, delete) with session credentials.
fn go_clients_against(kind: &str) {
    if support::which("go").is_none() {
        support::unavailable("go", "no Go toolchain for tests/interop/go");
        return;
    }
    let Some((backend, gw, c)) = setup(kind) else {
        return;
    };
    let program = support::interop_go(backend.dir());
    for client in ["minio-go", "aws-sdk-go-v2"] {
        let out = Command::new(&program)
            .arg(client)
            .env(
                "STSGATE_ENDPOINT",
                gw.endpoint.trim_start_matches("http://"),
            )
            .env("STSGATE_BUCKET", &backend.bucket)
            .env("AWS_ACCESS_KEY_ID", &c.akid)
            .env("AWS_SECRET_ACCESS_KEY", &c.secret)
            .env("AWS_SESSION_TOKEN", &c.token)
            .output()
            .unwrap();
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
            "{client} against {kind}: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            gw.log()
        );
    }
    assert!(!backend_has(&backend, "go/multipart.bin"), "cleaned up");
}
