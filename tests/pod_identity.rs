//! The container-credentials endpoint (`[pod_identity]`, `GET /v1/credentials`) with stock SDK
//! container providers given only `AWS_CONTAINER_CREDENTIALS_FULL_URI` and
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (and the gateway as their S3/STS endpoint, to use
//! what they get): Kubernetes-shaped tokens of a test issuer, two namespaces under one role and
//! one ABAC policy on a real S3 backend (s3s-fs), and the refusals an SDK shows.

mod support;

use std::process::Command;

use serde_json::json;
use support::oidc_issuer::Issuer;
use support::{Backend, Gateway};

const APP_ROLE: &str = "arn:aws:iam::111122223333:role/pod_app";

fn config(issuer: &Issuer, backend: &Backend) -> String {
    let bucket = &backend.bucket;
    let extra = format!(
        r#"
[[accounts.oidc_providers]]
url = "{url}"
audiences = ["pods.eks.amazonaws.com", "sts.amazonaws.com"]
ca_file = "{ca}"

# One role for every team: the session's namespace tag picks the prefix.
[[accounts.roles]]
name = "pod_app"
trust_policy = '''{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"Service":"pods.eks.amazonaws.com"}},"Action":["sts:AssumeRole","sts:TagSession"]}}}}'''
inline_policies = [{{ name = "OwnPrefix", document = '''
{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],
  "Resource":"arn:aws:s3:::{bucket}/${{aws:PrincipalTag/kubernetes-namespace}}/*"}}}}''' }}]

# A role whose trust does not consent to the pod identity service.
[[accounts.roles]]
name = "no_consent"
managed_policies = ["S3ReadOnly"]
trust_policy = '{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111122223333:user/develop"}},"Action":"sts:AssumeRole"}}}}'

[pod_identity]
cluster_name = "prod"

[[pod_identity.associations]]
provider = "{url}"
subject = "system:serviceaccount:team-*:app"
role_arn = "{APP_ROLE}"

[[pod_identity.associations]]
provider = "{url}"
subject = "system:serviceaccount:legacy:app"
role_arn = "arn:aws:iam::111122223333:role/no_consent"
"#,
        url = issuer.url,
        ca = issuer.ca.display(),
    );
    support::config_with_backend(&backend.toml(), &extra)
}

/// A projected service-account token of pod `pod` in `namespace`, for `audience`.
fn pod_token(issuer: &Issuer, namespace: &str, sa: &str, audience: &str) -> String {
    let mut claims = issuer.claims(&format!("system:serviceaccount:{namespace}:{sa}"), audience);
    claims["kubernetes.io"] = json!({
        "namespace": namespace,
        "serviceaccount": {"name": sa, "uid": "3f1c0d9e-0000-4000-8000-000000000001"},
        "pod": {"name": format!("{sa}-7d9f"), "uid": "9a8b7c6d-0000-4000-8000-000000000002"}
    });
    issuer.sign("rsa-1", &claims)
}

/// The two container-provider variables (and the gateway as S3 and STS endpoint), no keys.
fn container_env(
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
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
    ] {
        cmd.env_remove(k);
    }
    cmd.env(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        format!("{}/v1/credentials", gw.endpoint),
    )
    .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file)
    .env("AWS_ENDPOINT_URL_S3", &gw.endpoint)
    .env("AWS_ENDPOINT_URL_STS", &gw.endpoint)
    .env("AWS_DEFAULT_REGION", "us-east-1")
    .env("AWS_REGION", "us-east-1")
    .env("AWS_EC2_METADATA_DISABLED", "true")
    .env("HOME", home)
    .env("AWS_CONFIG_FILE", home.join("none"))
    .env("AWS_SHARED_CREDENTIALS_FILE", home.join("none"));
}

fn aws(
    gw: &Gateway,
    token_file: &std::path::Path,
    home: &std::path::Path,
    args: &[&str],
) -> std::process::Output {
    let mut cmd = Command::new("aws");
    cmd.args(args);
    container_env(&mut cmd, gw, token_file, home);
    cmd.output().unwrap()
}

/// The endpoint's answer to `token` (status, JSON), asked with curl as a container provider
/// asks.
fn endpoint(gw: &Gateway, token: &str) -> (u16, serde_json::Value) {
    let out = Command::new("curl")
        .args([
            "-s",
            "-w",
            "\n%{http_code}",
            "-H",
            &format!("Authorization: {token}"),
        ])
        .arg(format!("{}/v1/credentials", gw.endpoint))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap();
    (
        status.parse().unwrap(),
        serde_json::from_str(body).unwrap_or(json!({"raw": body})),
    )
}

fn log_count(gw: &Gateway, needle: &str) -> usize {
    gw.log().lines().filter(|l| l.contains(needle)).count()
}

/// `log_count` once it reaches `want` (the log is written asynchronously), or after 3 s.
fn settled_count(gw: &Gateway, needle: &str, want: usize) -> usize {
    for _ in 0..30 {
        let n = log_count(gw, needle);
        if n >= want {
            return n;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    log_count(gw, needle)
}

#[test]
fn two_namespaces_under_one_role_each_reach_only_their_prefix() {
    let issuer = Issuer::start("/cluster");
    let Some(backend) = Backend::start("s3s-fs") else {
        return;
    };
    let gw = Gateway::start(&config(&issuer, &backend));
    let home = tempfile::tempdir().unwrap();
    let bucket = backend.bucket.clone();
    let body = home.path().join("body.txt");
    std::fs::write(&body, b"pod data").unwrap();
    for (team, other) in [("team-a", "team-b"), ("team-b", "team-a")] {
        let token_file = home.path().join(format!("{team}.token"));
        std::fs::write(
            &token_file,
            pod_token(&issuer, team, "app", "pods.eks.amazonaws.com"),
        )
        .unwrap();
        let who = aws(
            &gw,
            &token_file,
            home.path(),
            &["sts", "get-caller-identity", "--output", "json"],
        );
        assert!(
            who.status.success(),
            "{team}: {}",
            String::from_utf8_lossy(&who.stderr)
        );
        let who: serde_json::Value = serde_json::from_slice(&who.stdout).unwrap();
        let arn = who["Arn"].as_str().unwrap();
        assert!(
            arn.starts_with("arn:aws:sts::111122223333:assumed-role/pod_app/eks-prod-app-7d9f-"),
            "{arn}"
        );
        let own = aws(
            &gw,
            &token_file,
            home.path(),
            &[
                "s3api",
                "put-object",
                "--bucket",
                &bucket,
                "--key",
                &format!("{team}/x"),
                "--body",
                body.to_str().unwrap(),
            ],
        );
        assert!(
            own.status.success(),
            "{team}: {}",
            String::from_utf8_lossy(&own.stderr)
        );
        assert!(support::backend_has(&backend, &format!("{team}/x")));
        let theirs = aws(
            &gw,
            &token_file,
            home.path(),
            &[
                "s3api",
                "put-object",
                "--bucket",
                &bucket,
                "--key",
                &format!("{other}/from-{team}"),
                "--body",
                body.to_str().unwrap(),
            ],
        );
        let err = String::from_utf8_lossy(&theirs.stderr);
        assert!(
            !theirs.status.success() && err.contains("AccessDenied"),
            "{team}: {err}"
        );
        assert!(!support::backend_has(
            &backend,
            &format!("{other}/from-{team}")
        ));
    }
}

#[test]
fn refusals_are_clear_to_the_sdk() {
    let issuer = Issuer::start("/refusals");
    let Some(backend) = Backend::start("s3s-fs") else {
        return;
    };
    let gw = Gateway::start(&config(&issuer, &backend));
    let (status, v) = endpoint(
        &gw,
        &pod_token(&issuer, "team-a", "app", "pods.eks.amazonaws.com"),
    );
    assert_eq!(status, 200, "{v}");
    assert!(
        v["AccessKeyId"].as_str().unwrap().starts_with("ASIA"),
        "{v}"
    );
    assert_eq!(v["AccountId"], "111122223333");
    assert!(v["Expiration"].as_str().unwrap().ends_with('Z'), "{v}");
    for (token, status, code, why) in [
        (
            pod_token(&issuer, "team-a", "other", "pods.eks.amazonaws.com"),
            403,
            "AccessDenied",
            "an unassociated service account",
        ),
        (
            pod_token(&issuer, "team-a", "app", "sts.amazonaws.com"),
            403,
            "AccessDenied",
            "a token for another audience",
        ),
        (
            pod_token(&issuer, "legacy", "app", "pods.eks.amazonaws.com"),
            403,
            "AccessDenied",
            "a role whose trust does not consent",
        ),
        (
            {
                let mut c =
                    issuer.claims("system:serviceaccount:team-a:app", "pods.eks.amazonaws.com");
                c["exp"] = json!(support::oidc_issuer::now() - 600);
                issuer.sign("rsa-1", &c)
            },
            400,
            "ExpiredTokenException",
            "an expired token",
        ),
        (
            "not-a-token".to_string(),
            400,
            "InvalidIdentityToken",
            "garbage",
        ),
    ] {
        let (got, v) = endpoint(&gw, &token);
        assert_eq!(
            (got, v["code"].as_str().unwrap_or("")),
            (status, code),
            "{why}: {v}"
        );
        assert!(
            !v["message"].as_str().unwrap_or("").is_empty(),
            "{why}: {v}"
        );
    }
    // Counted by outcome on the admin listener.
    let metrics = Command::new("curl")
        .args(["-s", &format!("{}/metrics", gw.admin)])
        .output()
        .unwrap();
    let metrics = String::from_utf8_lossy(&metrics.stdout);
    for line in [
        "stsgate_pod_credentials_total{outcome=\"issued\"} 1",
        "stsgate_pod_credentials_total{outcome=\"AccessDenied\"} 3",
        "stsgate_pod_credentials_total{outcome=\"ExpiredTokenException\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    // What boto3 shows for one of them.
    let home = tempfile::tempdir().unwrap();
    let token_file = home.path().join("legacy.token");
    std::fs::write(
        &token_file,
        pod_token(&issuer, "legacy", "app", "pods.eks.amazonaws.com"),
    )
    .unwrap();
    let out = aws(
        &gw,
        &token_file,
        home.path(),
        &["sts", "get-caller-identity"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("403")
            && err.contains("does not trust pods.eks.amazonaws.com"),
        "{err}"
    );
}

#[test]
fn stock_container_providers_get_use_and_refresh_through_the_cache() {
    if std::env::var_os("STSGATE_RUST_SDK_CHILD").is_some() {
        return rust_sdk_child();
    }
    let issuer = Issuer::start("/providers");
    let Some(backend) = Backend::start("s3s-fs") else {
        return;
    };
    let gw = Gateway::start(&config(&issuer, &backend));
    let home = tempfile::tempdir().unwrap();
    let token_file = home.path().join("token");
    std::fs::write(
        &token_file,
        pod_token(&issuer, "team-a", "app", "pods.eks.amazonaws.com"),
    )
    .unwrap();

    // boto3: the clock moved 50 minutes on makes the one-hour credentials due for a refresh,
    // which asks the endpoint again; the gateway answers it from its cache (one validation).
    let script = r#"
import json, datetime
import boto3, botocore.credentials as bc
session = boto3.Session()
creds = session.get_credentials()
method = creds.method
first = session.client("sts").get_caller_identity()["Arn"]
real_now = bc._local_now
later = lambda: real_now() + datetime.timedelta(minutes=50)
bc._local_now = later
creds._time_fetcher = later
creds.get_frozen_credentials()
second = session.client("sts").get_caller_identity()["Arn"]
print(json.dumps({"method": method, "first": first, "second": second}))
"#;
    let mut cmd = Command::new("python3");
    cmd.args(["-c", script]);
    container_env(&mut cmd, &gw, &token_file, home.path());
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "boto3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["method"], "container-role", "{v}");
    assert!(
        v["first"]
            .as_str()
            .unwrap()
            .contains("assumed-role/pod_app/"),
        "{v}"
    );
    assert_eq!(log_count(&gw, "pod credentials issued"), 1, "{}", gw.log());
    assert!(
        settled_count(&gw, "pod credentials reused from the cache", 1) >= 1,
        "{}",
        gw.log()
    );

    // aws-sdk-go-v2: the credentials cache's expiry window (a stock option) makes the second
    // use fetch again.
    if support::which("go").is_some() {
        let program = support::interop_go(home.path());
        let before = log_count(&gw, "pod credentials");
        let mut cmd = Command::new(&program);
        cmd.arg("container")
            .env("STSGATE_EXPIRY_WINDOW_SECONDS", "3598");
        container_env(&mut cmd, &gw, &token_file, home.path());
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "go: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout
                .lines()
                .next()
                .unwrap_or("")
                .contains("assumed-role/pod_app/"),
            "{stdout}"
        );
        // At least the first fetch and one refresh (a third when the first use after the
        // fetch already finds the 2 s of life gone).
        assert!(
            settled_count(&gw, "pod credentials", before + 2) - before >= 2,
            "{}",
            gw.log()
        );
    } else {
        support::unavailable("go", "no Go toolchain for tests/interop/go");
    }

    // aws-sdk-rust's default chain, in a child process (a real environment).
    let before = log_count(&gw, "pod credentials");
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "stock_container_providers_get_use_and_refresh_through_the_cache",
        "--nocapture",
    ])
    .env("STSGATE_RUST_SDK_CHILD", "1");
    container_env(&mut cmd, &gw, &token_file, home.path());
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "rust: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout
            .matches("arn=arn:aws:sts::111122223333:assumed-role/pod_app/")
            .count(),
        2,
        "{stdout}"
    );
    assert_eq!(
        settled_count(&gw, "pod credentials", before + 2) - before,
        2,
        "{}",
        gw.log()
    );
    // Every answer after the first came from the cache: one token, one validation.
    assert_eq!(log_count(&gw, "pod credentials issued"), 1, "{}", gw.log());
}

/// The test above, as its own child process (STSGATE_RUST_SDK_CHILD set): aws-sdk-rust's
/// default chain reads the container variables from this process's real environment.
fn rust_sdk_child() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        // A buffer longer than the credentials live: each use asks the provider again.
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .identity_cache(
                aws_config::identity::IdentityCache::lazy()
                    .buffer_time(std::time::Duration::from_secs(7200))
                    .build(),
            )
            .load()
            .await;
        let sts = aws_sdk_sts::Client::new(&config);
        for _ in 0..2 {
            let who = sts.get_caller_identity().send().await.unwrap();
            println!("arn={}", who.arn().unwrap_or_default());
        }
    });
}

/// Remote pods reach the endpoint over https (the gateway's own TLS, a private CA). A client
/// given the CA gets credentials, and so does aws-sdk-rust with `SSL_CERT_FILE`; botocore's
/// container provider trusts only its own CA bundle (certifi's; it ignores `AWS_CA_BUNDLE`), so
/// with a private CA it refuses the endpoint, as the README says.
#[test]
fn remote_pods_reach_the_endpoint_over_https() {
    if std::env::var_os("STSGATE_RUST_SDK_CHILD").is_some() {
        return rust_sdk_child();
    }
    let issuer = Issuer::start("/tls");
    let Some(backend) = Backend::start("s3s-fs") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let [ca, leaf, leaf_key, ..] = support::api_backend::test_pki(dir.path());
    let gw = Gateway::start(&support::with_tls(
        &config(&issuer, &backend),
        &leaf,
        &leaf_key,
    ));
    let https = gw.endpoint.replace("http://127.0.0.1", "https://localhost");
    assert!(https.starts_with("https://localhost:"), "{https}");
    let token = pod_token(&issuer, "team-b", "app", "pods.eks.amazonaws.com");
    let out = Command::new("curl")
        .args(["-s", "--cacert"])
        .arg(&ca)
        .args(["-H", &format!("Authorization: {token}")])
        .arg(format!("{https}/v1/credentials"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stdout)));
    assert!(
        v["AccessKeyId"].as_str().unwrap_or("").starts_with("ASIA"),
        "{v}"
    );

    let home = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, &token).unwrap();
    // aws-sdk-rust (a child process of this test): its https client reads the system's trust
    // anchors, which `SSL_CERT_FILE` names.
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "remote_pods_reach_the_endpoint_over_https",
        "--nocapture",
    ])
    .env("STSGATE_RUST_SDK_CHILD", "1");
    container_env(&mut cmd, &gw, &token_file, home.path());
    cmd.env(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        format!("{https}/v1/credentials"),
    )
    .env("AWS_ENDPOINT_URL_STS", &https)
    .env("SSL_CERT_FILE", &ca);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success()
            && stdout
                .matches("arn=arn:aws:sts::111122223333:assumed-role/pod_app/")
                .count()
                == 2,
        "rust over https: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut cmd = Command::new("aws");
    cmd.args(["sts", "get-caller-identity"]);
    container_env(&mut cmd, &gw, &token_file, home.path());
    cmd.env(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        format!("{https}/v1/credentials"),
    )
    .env("AWS_ENDPOINT_URL_STS", &https)
    .env("AWS_CA_BUNDLE", &ca);
    let out = cmd.output().unwrap();
    assert!(
        !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("CERTIFICATE_VERIFY_FAILED"),
        "botocore's container provider ignores AWS_CA_BUNDLE: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Plain http to a host that is not loopback is what the SDKs refuse.
    let mut cmd = Command::new("aws");
    cmd.args(["sts", "get-caller-identity"]);
    container_env(&mut cmd, &gw, &token_file, home.path());
    cmd.env(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        format!(
            "{}/v1/credentials",
            https.replace("https://localhost", "http://192.0.2.1")
        ),
    );
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Unsupported host"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
