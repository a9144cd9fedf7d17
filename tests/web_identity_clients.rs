//! Stock SDK web identity providers, unchanged, pointed at the gateway only by their STS
//! endpoint setting (`AWS_ENDPOINT_URL_STS`): each reads `AWS_WEB_IDENTITY_TOKEN_FILE` and
//! `AWS_ROLE_ARN`, gets credentials from the gateway's AssumeRoleWithWebIdentity, uses them
//! through the gateway (STS and S3), and refreshes them before they expire.
//!
//! Refresh, per SDK: botocore refreshes when less than 15 minutes remain, and the gateway's
//! sessions last at least 15 minutes, so the boto3 test moves botocore's own clock
//! (`botocore.credentials._local_now`, and the credentials' time fetcher) 50 minutes ahead; aws-sdk-rust and aws-sdk-go-v2 are
//! given their stock knobs (the identity cache's buffer time, the credentials cache's expiry
//! window) so that credentials count as expiring soon after (or, for Rust, as soon as) they are
//! fetched.

mod support;

use std::process::Command;

use support::Gateway;
use support::oidc_issuer::{Issuer, ROLE, gateway};

/// The gateway and a token file holding a fresh token for `system:serviceaccount:data:reader`
/// (as a Kubernetes projected token would be).
fn setup() -> (Issuer, Gateway, std::path::PathBuf) {
    let issuer = Issuer::start("/clients");
    let gw = gateway(&issuer, "", "");
    let token_file = issuer.dir().join("token");
    write_token(&issuer, &token_file);
    (issuer, gw, token_file)
}

fn write_token(issuer: &Issuer, path: &std::path::Path) {
    let mut claims = issuer.claims("system:serviceaccount:data:reader", "stsgate");
    claims["kubernetes.io"] =
        serde_json::json!({"namespace": "data", "serviceaccount": {"name": "reader"}});
    std::fs::write(path, issuer.sign("rsa-1", &claims)).unwrap();
}

/// The environment every SDK reads: no keys at all, a token file, a role, the gateway as STS.
fn web_identity_env(
    cmd: &mut Command,
    gw: &Gateway,
    token_file: &std::path::Path,
    home: &std::path::Path,
) {
    for k in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
    ] {
        cmd.env_remove(k);
    }
    cmd.env("AWS_WEB_IDENTITY_TOKEN_FILE", token_file)
        .env("AWS_ROLE_ARN", ROLE)
        .env("AWS_ROLE_SESSION_NAME", "sdk-provider")
        .env("AWS_ENDPOINT_URL_STS", &gw.endpoint)
        .env("AWS_ENDPOINT_URL_S3", &gw.endpoint)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("no-credentials"));
}

const SESSION_ARN: &str = "arn:aws:sts::111122223333:assumed-role/web_reader/sdk-provider";

#[test]
fn boto3_and_aws_cli_get_use_and_refresh_web_identity_credentials() {
    let (issuer, gw, token_file) = setup();
    let home = tempfile::tempdir().unwrap();
    // The token the refresh must read (the file is rewritten before the refresh).
    let second = issuer.dir().join("token-2");
    write_token(&issuer, &second);
    let script = r#"
import json, os, datetime, shutil
import boto3, botocore.credentials as bc
session = boto3.Session()
sts = session.client("sts")
first = sts.get_caller_identity()["Arn"]
creds = session.get_credentials()
key1 = creds.get_frozen_credentials().access_key
method = creds.method
shutil.copyfile(os.environ["SECOND_TOKEN"], os.environ["AWS_WEB_IDENTITY_TOKEN_FILE"])
# botocore's clock, 50 minutes on: less than 15 minutes remain (the credentials read it through
# their time fetcher, the fetcher's cache through the module's _local_now).
real_now = bc._local_now
later = lambda: real_now() + datetime.timedelta(minutes=50)
bc._local_now = later
creds._time_fetcher = later
key2 = creds.get_frozen_credentials().access_key
second = sts.get_caller_identity()["Arn"]
try:
    session.client("s3").put_object(Bucket="data-bucket", Key="k", Body=b"x")
    s3 = "allowed"
except Exception as e:
    s3 = e.response["Error"]["Code"]
print(json.dumps({"first": first, "second": second, "method": method, "refreshed": key1 != key2, "s3": s3}))
"#;
    let mut cmd = Command::new("python3");
    cmd.args(["-c", script]).env("SECOND_TOKEN", &second);
    web_identity_env(&mut cmd, &gw, &token_file, home.path());
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "boto3: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["method"], "assume-role-with-web-identity", "{v}");
    assert_eq!(v["first"], SESSION_ARN);
    assert_eq!(v["second"], SESSION_ARN);
    assert_eq!(
        v["refreshed"], true,
        "botocore refreshed the credentials: {v}"
    );
    // Once before the clock moved; after it, every use finds them expiring and refreshes.
    assert!(web_identity_calls(&gw) >= 2, "{}", gw.log());
    // The role is read-only: S3 refuses the write with the session's own policy.
    assert_eq!(v["s3"], "AccessDenied");

    // aws-cli, the same way.
    let mut cmd = Command::new("aws");
    cmd.args([
        "sts",
        "get-caller-identity",
        "--query",
        "Arn",
        "--output",
        "text",
    ]);
    web_identity_env(&mut cmd, &gw, &token_file, home.path());
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "aws-cli: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), SESSION_ARN);
    let mut cmd = Command::new("aws");
    cmd.args(["s3api", "list-objects-v2", "--bucket", "data-bucket"]);
    web_identity_env(&mut cmd, &gw, &token_file, home.path());
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // Authorized (S3ReadOnly allows listing): the request reached the backend side of the
    // gateway, which in this config is not running; what matters is that it was not refused.
    assert!(
        !err.contains("AccessDenied") && !err.contains("InvalidAccessKeyId"),
        "aws-cli list with web identity credentials: {err}"
    );
}

#[test]
fn aws_sdk_go_v2_stscreds_gets_uses_and_refreshes_web_identity_credentials() {
    if support::which("go").is_none() {
        support::unavailable("go", "no Go toolchain for tests/interop/go");
        return;
    }
    let (_issuer, gw, token_file) = setup();
    let home = tempfile::tempdir().unwrap();
    let program = support::interop_go(home.path());
    let mut cmd = Command::new(&program);
    cmd.arg("web-identity")
        // Sessions last an hour: a window of 3598 s makes them count as expired 2 s after.
        .env("STSGATE_EXPIRY_WINDOW_SECONDS", "3598");
    web_identity_env(&mut cmd, &gw, &token_file, home.path());
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "go: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().filter(|l| *l != "ok").collect();
    assert_eq!(
        lines,
        [SESSION_ARN, SESSION_ARN, "refreshed=true"],
        "{stdout}"
    );
    // The first fetch and at least one refresh.
    assert!(web_identity_calls(&gw) >= 2, "{}", gw.log());
}

/// aws-sdk-rust's default credentials chain, in a child process of this test binary so that
/// it reads a real environment (the chain reads nothing else).
#[test]
fn aws_sdk_rust_default_chain_gets_uses_and_refreshes_web_identity_credentials() {
    if std::env::var_os("STSGATE_RUST_SDK_CHILD").is_some() {
        return rust_sdk_child();
    }
    let (_issuer, gw, token_file) = setup();
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "aws_sdk_rust_default_chain_gets_uses_and_refreshes_web_identity_credentials",
        "--nocapture",
    ])
    .env("STSGATE_RUST_SDK_CHILD", "1");
    web_identity_env(&mut cmd, &gw, &token_file, home.path());
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("first={SESSION_ARN}"))
            && stdout.contains(&format!("again={SESSION_ARN}"))
            && stdout.contains(&format!("second={SESSION_ARN}")),
        "{stdout}"
    );
    // Three uses, each with credentials the cache counted as expiring: three fetches.
    assert_eq!(web_identity_calls(&gw), 3, "{}", gw.log());
}

/// AssumeRoleWithWebIdentity calls the gateway answered (from its log, which is written
/// asynchronously: read again for up to 3 s until it stops growing).
fn web_identity_calls(gw: &Gateway) -> usize {
    let count = || {
        gw.log()
            .lines()
            .filter(|l| {
                l.contains("sts request allowed") && l.contains("AssumeRoleWithWebIdentity")
            })
            .count()
    };
    let mut last = count();
    for _ in 0..6 {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let now = count();
        if now == last {
            break;
        }
        last = now;
    }
    last
}

fn rust_sdk_child() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        // The lazy identity cache's buffer time (a stock option; the cache takes up to half of
        // it off at random): at 7200 s, one-hour credentials always count as expiring, so
        // every use refreshes them.
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .identity_cache(
                aws_config::identity::IdentityCache::lazy()
                    .buffer_time(std::time::Duration::from_secs(7200))
                    .build(),
            )
            .load()
            .await;
        let sts = aws_sdk_sts::Client::new(&config);
        let first = sts.get_caller_identity().send().await.unwrap();
        let again = sts.get_caller_identity().send().await.unwrap();
        let second = sts.get_caller_identity().send().await.unwrap();
        println!("first={}", first.arn().unwrap_or_default());
        println!("again={}", again.arn().unwrap_or_default());
        println!("second={}", second.arn().unwrap_or_default());
    });
}
