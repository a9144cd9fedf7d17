//! HTTP APIs behind the gateway (`kind = "http"`): requests signed for `execute-api` by real
//! signers (botocore's `SigV4Auth`, `awscurl`, the aws-sigv4 crate) with temporary credentials
//! are authorized as `execute-api:Invoke` on the API Gateway ARN, forwarded as the gateway builds
//! them (canonical path, identity headers, no client credentials), or refused in API Gateway's
//! JSON shape without reaching the API. Also: https backends with a test CA.

mod support;

use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use support::api_backend::{ApiBackend, test_pki};
use support::{AUDITOR, Creds, DEVELOP, Gateway, assume, config_with_backend};

const API_ROLE: &str = "arn:aws:iam::111122223333:role/api_caller";

/// A role develop may assume, allowed: GET on invoices/*, POST on invoices, GET on reports/*
/// with MFA only, GET on local/* from 127.0.0.0/8, GET on elsewhere/* from 10.0.0.0/8, GET on
/// team/* for principals tagged team=billing; and denied anything under invoices/secret*.
const API_ROLE_TOML: &str = r#"
[[accounts.roles]]
name = "api_caller"
trust_policy = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/develop"},"Action":"sts:AssumeRole"}}'
tags = { team = "billing" }
inline_policies = [{ name = "Invoke", document = '''
{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"execute-api:Invoke","Resource":["arn:aws:execute-api:*:*:billing/prod/GET/invoices/*","arn:aws:execute-api:*:*:billing/prod/POST/invoices"]},
 {"Effect":"Deny","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:*:*:billing/prod/*/invoices/secret*"},
 {"Effect":"Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:*:*:billing/prod/GET/reports/*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}},
 {"Effect":"Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:*:*:billing/prod/GET/local/*","Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}},
 {"Effect":"Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:*:*:billing/prod/GET/elsewhere/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}},
 {"Effect":"Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:*:*:billing/prod/GET/team/*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"billing"}}},
 {"Effect":"Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:*:*:billing/prod/GET/other-team/*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"payments"}}}
]}''' }]
"#;

fn api_backend_toml(url: &str, extra: &str) -> String {
    format!(
        "[[backends]]\nname = \"billing-api\"\nkind = \"http\"\nurl = \"{url}\"\npath_prefix = \"/billing\"\napi_id = \"billing\"\nstage = \"prod\"\n{extra}\n"
    )
}

fn gateway_for(api: &ApiBackend, extra_backend: &str) -> Gateway {
    Gateway::start(&config_with_backend(
        &api_backend_toml(&api.url, extra_backend),
        API_ROLE_TOML,
    ))
}

use support::RawReply as Reply;

/// API Gateway's error fields of a reply.
trait ApiReply {
    fn error_type(&self) -> &str;
    fn message(&self) -> String;
}

impl ApiReply for Reply {
    fn error_type(&self) -> &str {
        self.header("x-amzn-ErrorType").unwrap_or("")
    }
    fn message(&self) -> String {
        serde_json::from_str::<Value>(&self.body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

/// Sends exactly these bytes to the gateway at `endpoint` (see [`support::raw_request`]).
fn send_raw(
    endpoint: &str,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Reply {
    support::raw_request(endpoint, method, target, headers, body)
}

/// Signs with the aws-sigv4 crate (the AWS SDK for Rust's signer) for `service`, with its
/// default settings for non-S3 services (double encoding, normalised path, the body's SHA-256
/// signed but not sent), plus any extra headers to sign.
fn sdk_sign(
    creds: &Creds,
    service: &str,
    region: &str,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<(String, String)> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4;
    let identity = aws_credential_types::Credentials::new(
        &creds.key_id,
        &creds.secret,
        creds.token.clone(),
        None,
        "http-api-test",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let host = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let mut all: Vec<(&str, &str)> = vec![("host", host.as_str())];
    all.extend_from_slice(headers);
    let signable =
        SignableRequest::new(method, url, all.iter().copied(), SignableBody::Bytes(body)).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = http::Request::builder().method(method).uri(url);
    for (k, v) in &all {
        request = request.header(*k, *v);
    }
    let mut request = request.body(()).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    request
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
        .collect()
}

/// Signs with aws-sigv4 and sends: the common case of these tests.
fn call(gw: &Gateway, creds: &Creds, method: &str, path: &str, body: &[u8]) -> Reply {
    let url = format!("{}{path}", gw.endpoint);
    let headers = sdk_sign(creds, "execute-api", "us-east-1", method, &url, &[], body);
    send_raw(&gw.endpoint, method, path, &headers, body)
}

/// Decodes an AccessDeniedException's encoded message as the auditor (sts:DecodeAuthorizationMessage).
fn decoded(gw: &Gateway, message: &str) -> Value {
    let blob = message
        .split("Encoded authorization failure message: ")
        .nth(1)
        .expect("an encoded message")
        .split_whitespace()
        .next()
        .unwrap();
    let out: Value = serde_json::from_str(&gw.aws(AUDITOR.0, AUDITOR.1, None).ok(&[
        "sts",
        "decode-authorization-message",
        "--encoded-message",
        blob,
    ]))
    .unwrap();
    serde_json::from_str(out["DecodedMessage"].as_str().unwrap()).unwrap()
}

#[test]
fn invoke_is_authorized_per_method_path_and_conditions() {
    let api = ApiBackend::start();
    let gw = gateway_for(&api, "");
    let creds = assume(&gw, API_ROLE, "alice", None);

    // Allowed: the API sees the path without the route prefix, the caller's identity, and
    // nothing of the client's credentials.
    let ok = call(
        &gw,
        &creds,
        "GET",
        "/billing/invoices/42?expand=lines&x-amz-foo=1",
        b"",
    );
    assert_eq!(ok.status, 200, "{ok:?}");
    let seen = api.seen();
    assert_eq!(seen.len(), 1);
    let s = &seen[0];
    assert_eq!(
        (s.method.as_str(), s.path.as_str()),
        ("GET", "/invoices/42")
    );
    assert_eq!(
        s.query, "expand=lines",
        "SigV4-looking parameters are not forwarded"
    );
    assert_eq!(
        s.header("x-stsgate-principal-arn"),
        Some("arn:aws:sts::111122223333:assumed-role/api_caller/alice")
    );
    assert_eq!(s.header("x-stsgate-account"), Some("111122223333"));
    assert_eq!(s.header("x-stsgate-session-name"), Some("alice"));
    assert_eq!(s.header("x-stsgate-mfa-present"), Some("false"));
    assert!(
        s.header("x-stsgate-user-id")
            .is_some_and(|u| u.ends_with(":alice"))
    );
    for credential in [
        "authorization",
        "x-amz-security-token",
        "x-amz-date",
        "x-amz-content-sha256",
    ] {
        assert!(
            s.header(credential).is_none(),
            "{credential} reached the API"
        );
    }
    assert!(
        ok.header("server").is_none(),
        "the API's Server header is a fingerprint"
    );

    // Refused: the API sees nothing; the message decodes to the ARN API Gateway would use.
    for (method, path, body) in [
        ("GET", "/billing/payments/1", &b""[..]),
        ("DELETE", "/billing/invoices/42", b""),
        ("GET", "/billing/invoices/secret-plans", b""),
        ("POST", "/billing/invoices/42", b"{}"),
        ("GET", "/billing/reports/q3", b""),
        ("GET", "/billing/elsewhere/x", b""),
        ("GET", "/billing/other-team/x", b""),
        ("GET", "/billing", b""),
    ] {
        api.clear();
        let r = call(&gw, &creds, method, path, body);
        assert_eq!(
            (r.status, r.error_type()),
            (403, "AccessDeniedException"),
            "{method} {path}: {r:?}"
        );
        assert!(
            r.header("content-type")
                .is_some_and(|c| c.starts_with("application/json"))
        );
        let arn = format!(
            "arn:aws:execute-api:us-east-1:111122223333:billing/prod/{method}/{}",
            path.trim_start_matches("/billing").trim_start_matches('/')
        );
        let message = r.message();
        assert!(
            message.starts_with(&format!("User: arn:aws:sts::111122223333:assumed-role/api_caller/alice is not authorized to perform: execute-api:Invoke on resource: {arn}")),
            "{message}"
        );
        let d = decoded(&gw, &message);
        assert_eq!(d["context"]["action"], "execute-api:Invoke");
        assert_eq!(d["context"]["resource"], arn);
        assert!(api.seen().is_empty(), "{method} {path} reached the API");
    }

    // Conditions: source IP (127.0.0.1 is in 127.0.0.0/8), principal tag, POST with a body.
    for (method, path, body) in [
        ("GET", "/billing/local/x", &b""[..]),
        ("GET", "/billing/team/x", b""),
        ("POST", "/billing/invoices", br#"{"amount": 12}"#),
    ] {
        let r = call(&gw, &creds, method, path, body);
        assert_eq!(r.status, 200, "{method} {path}: {r:?}");
    }
    let post = api.seen().into_iter().find(|s| s.method == "POST").unwrap();
    assert_eq!(&post.body[..], br#"{"amount": 12}"#);
}

#[test]
fn mfa_sessions_meet_multi_factor_conditions() {
    let api = ApiBackend::start();
    let role = API_ROLE_TOML.replace(
        "\"Principal\":{\"AWS\":\"arn:aws:iam::111122223333:user/develop\"}",
        "\"Principal\":{\"AWS\":[\"arn:aws:iam::111122223333:user/develop\",\"arn:aws:iam::111122223333:user/no_skill\"]}",
    );
    let gw = Gateway::start(&config_with_backend(&api_backend_toml(&api.url, ""), &role));
    // GetSessionToken with MFA, then AssumeRole with that session: the role session carries
    // aws:MultiFactorAuthPresent (spec sts-iam.md §2.3).
    let no_skill = gw.aws(support::NO_SKILL.0, support::NO_SKILL.1, None);
    let creds_of = |out: &str| {
        let v: Value = serde_json::from_str(out).unwrap();
        let c = &v["Credentials"];
        Creds {
            key_id: c["AccessKeyId"].as_str().unwrap().into(),
            secret: c["SecretAccessKey"].as_str().unwrap().into(),
            token: Some(c["SessionToken"].as_str().unwrap().into()),
        }
    };
    let code = support::mfa_code(&gw);
    let mfa_session = creds_of(&no_skill.ok(&[
        "sts",
        "get-session-token",
        "--serial-number",
        support::NO_SKILL_MFA,
        "--token-code",
        &code,
    ]));
    let creds = creds_of(&mfa_session.aws(&gw).ok(&[
        "sts",
        "assume-role",
        "--role-arn",
        API_ROLE,
        "--role-session-name",
        "with-mfa",
    ]));
    let r = call(&gw, &creds, "GET", "/billing/reports/q3", b"");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(api.seen()[0].header("x-stsgate-mfa-present"), Some("true"));
    // Without MFA in the session's history: refused (and the header says so when allowed).
    let without = assume(&gw, API_ROLE, "no-mfa", None);
    assert_eq!(
        call(&gw, &without, "GET", "/billing/reports/q3", b"").status,
        403
    );
    assert_eq!(
        call(&gw, &without, "GET", "/billing/invoices/1", b"").status,
        200
    );
    assert_eq!(
        api.seen().last().unwrap().header("x-stsgate-mfa-present"),
        Some("false")
    );
}

#[test]
fn forged_identity_headers_are_replaced() {
    let api = ApiBackend::start();
    let gw = gateway_for(&api, "forward_headers = [\"x-tenant\"]");
    let creds = assume(&gw, API_ROLE, "mallory", None);
    let url = format!("{}/billing/invoices/1", gw.endpoint);
    let forged = [
        ("x-stsgate-principal-arn", "arn:aws:iam::111122223333:root"),
        ("x-stsgate-mfa-present", "true"),
        ("x-stsgate-account", "999999999999"),
        ("x-tenant", "acme"),
        ("x-internal-admin", "1"),
    ];
    let headers = sdk_sign(
        &creds,
        "execute-api",
        "us-east-1",
        "GET",
        &url,
        &forged,
        b"",
    );
    let r = send_raw(&gw.endpoint, "GET", "/billing/invoices/1", &headers, b"");
    assert_eq!(r.status, 200, "{r:?}");
    let s = &api.seen()[0];
    assert_eq!(
        s.headers
            .get_all("x-stsgate-principal-arn")
            .iter()
            .collect::<Vec<_>>(),
        ["arn:aws:sts::111122223333:assumed-role/api_caller/mallory"]
    );
    assert_eq!(s.header("x-stsgate-mfa-present"), Some("false"));
    assert_eq!(s.header("x-stsgate-account"), Some("111122223333"));
    assert_eq!(
        s.header("x-tenant"),
        Some("acme"),
        "a forward_headers entry passes"
    );
    assert!(
        s.header("x-internal-admin").is_none(),
        "headers not on the list are dropped"
    );
}

/// CWE-647: a path the policy check and the API could read differently is refused before
/// authentication, whatever the signature; none reaches the API.
#[test]
fn non_canonical_paths_are_refused_not_reinterpreted() {
    let api = ApiBackend::start();
    let gw = gateway_for(&api, "");
    let creds = assume(&gw, API_ROLE, "attacker", None);
    for path in [
        "/billing/invoices/../payments/1",
        "/billing/invoices/%2e%2e/payments/1",
        "/billing/invoices/%2E%2E/payments/1",
        "/billing/invoices/..;x=y/payments/1",
        "/billing/invoices/.;/1",
        "/billing/invoices/1;jsessionid=x",
        "/billing/invoices%2F..%2Fpayments/1",
        "/billing/invoices/..%2Fpayments",
        "/billing/invoices/..%5Cpayments",
        "/billing/invoices/..\\payments",
        "/billing//invoices/1",
        "/billing/invoices//1",
        "/billing/./invoices/1",
        "/billing/invoices/%00",
        "/billing/invoices/%zz",
    ] {
        // Signed as aws-sigv4 signs it, and sent byte for byte.
        let url = format!("{}{path}", gw.endpoint);
        let headers = std::panic::catch_unwind(|| {
            sdk_sign(&creds, "execute-api", "us-east-1", "GET", &url, &[], b"")
        })
        .unwrap_or_else(|_| {
            sdk_sign(
                &creds,
                "execute-api",
                "us-east-1",
                "GET",
                &format!("{}/billing/x", gw.endpoint),
                &[],
                b"",
            )
        });
        let r = send_raw(&gw.endpoint, "GET", path, &headers, b"");
        assert_eq!(
            (r.status, r.error_type()),
            (400, "BadRequestException"),
            "{path}: {r:?}"
        );
        assert!(
            r.message().starts_with("Invalid request path"),
            "{path}: {r:?}"
        );
    }
    // Absolute-form and a Host that disagrees with it are refused too.
    let headers = sdk_sign(
        &creds,
        "execute-api",
        "us-east-1",
        "GET",
        &format!("{}/billing/invoices/1", gw.endpoint),
        &[],
        b"",
    );
    let r = send_raw(
        &gw.endpoint,
        "GET",
        "http://evil.example/billing/payments/1",
        &headers,
        b"",
    );
    assert_eq!(r.status, 400, "{r:?}");
    assert!(
        api.seen().is_empty(),
        "a non-canonical request reached the API: {:?}",
        api.seen()
    );
    // The same request in canonical form works: the refusals above are about the path only.
    assert_eq!(
        call(&gw, &creds, "GET", "/billing/invoices/1", b"").status,
        200
    );
    // Encoded characters other than '/', '\\' and ';' are one reading: decoded for the policy,
    // re-encoded by the gateway.
    let r = call(&gw, &creds, "GET", "/billing/invoices/a%20b%2Bc", b"");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(api.seen().last().unwrap().path, "/invoices/a%20b%2Bc");
}

#[test]
fn bodies_are_verified_against_what_was_signed() {
    let api = ApiBackend::start();
    let gw = gateway_for(&api, "max_body_bytes = 4096");
    let creds = assume(&gw, API_ROLE, "bodies", None);
    let url = format!("{}/billing/invoices", gw.endpoint);
    // Signed without x-amz-content-sha256 (aws-sigv4 default): the body is hashed first.
    let headers = sdk_sign(
        &creds,
        "execute-api",
        "us-east-1",
        "POST",
        &url,
        &[],
        b"signed body",
    );
    let r = send_raw(
        &gw.endpoint,
        "POST",
        "/billing/invoices",
        &headers,
        b"tampered!!!",
    );
    assert_eq!(
        (r.status, r.error_type()),
        (403, "InvalidSignatureException"),
        "{r:?}"
    );
    // Signed with the header: streamed, and a different body never completes upstream.
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"signed body"));
    let headers = sdk_sign(
        &creds,
        "execute-api",
        "us-east-1",
        "POST",
        &url,
        &[("x-amz-content-sha256", &hash)],
        b"signed body",
    );
    let r = send_raw(
        &gw.endpoint,
        "POST",
        "/billing/invoices",
        &headers,
        b"tampered!!!",
    );
    assert_eq!(
        (r.status, r.error_type()),
        (400, "BadRequestException"),
        "{r:?}"
    );
    assert!(
        api.seen().iter().all(|s| s.body.as_ref() != b"tampered!!!"),
        "a tampered body reached the API"
    );
    let r = send_raw(
        &gw.endpoint,
        "POST",
        "/billing/invoices",
        &headers,
        b"signed body",
    );
    assert_eq!(r.status, 200, "{r:?}");
    // The aborted upload above may be recorded after this one: look at whole bodies only.
    let whole = api.completed();
    assert_eq!(whole.len(), 1, "{whole:?}");
    assert_eq!(&whole.last().unwrap().body[..], b"signed body");
    // Over the route's limit: refused before anything is read.
    let big = vec![b'x'; 5000];
    let r = call(&gw, &creds, "POST", "/billing/invoices", &big);
    assert_eq!(
        (r.status, r.error_type()),
        (413, "RequestTooLargeException"),
        "{r:?}"
    );
}

#[test]
fn botocore_sigv4auth_and_awscurl_are_served() {
    let api = ApiBackend::start();
    let gw = gateway_for(&api, "");
    let creds = assume(&gw, API_ROLE, "python", None);
    if Command::new("python3")
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
    // botocore's SigV4Auth, as boto3-based tools sign API Gateway calls.
    let spec = serde_json::json!({
        "access_key": creds.key_id, "secret_key": creds.secret, "token": creds.token, "region": "us-east-1",
        "requests": [
            {"method": "GET", "url": format!("{}/billing/invoices/7?q=a%20b", gw.endpoint)},
            {"method": "POST", "url": format!("{}/billing/invoices", gw.endpoint), "headers": {"content-type": "application/json"}, "body": "{\"n\": 1}"},
            {"method": "GET", "url": format!("{}/billing/payments/7", gw.endpoint)},
        ]
    });
    let mut child = Command::new("python3")
        .arg(support::repo_root().join("tests/interop/botocore_api.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(spec.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "botocore_api.py failed");
    let signed: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut statuses = Vec::new();
    for (i, r) in signed.iter().enumerate() {
        let url = r["url"].as_str().unwrap();
        let target = &url[gw.endpoint.len()..];
        let headers: Vec<(String, String)> = r["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h[0].as_str().unwrap().to_string(),
                    h[1].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let body = spec["requests"][i]["body"].as_str().unwrap_or("");
        statuses.push(
            send_raw(
                &gw.endpoint,
                r["method"].as_str().unwrap(),
                target,
                &headers,
                body.as_bytes(),
            )
            .status,
        );
    }
    assert_eq!(statuses, [200, 200, 403]);
    let seen = api.seen();
    assert_eq!(seen[0].query, "q=a%20b");
    assert_eq!(&seen[1].body[..], b"{\"n\": 1}");
    assert_eq!(seen[1].header("content-type"), Some("application/json"));

    // awscurl (PyPI), a curl-like client that signs for execute-api.
    let Some(awscurl) = support::which("awscurl") else {
        support::unavailable("awscurl", "awscurl is not installed (pip install awscurl)");
        return;
    };
    let run = |method: &str, path: &str, data: Option<&str>| {
        let mut c = Command::new(&awscurl);
        c.args([
            "--service",
            "execute-api",
            "--region",
            "us-east-1",
            "-X",
            method,
        ])
        .args(["--access_key", &creds.key_id, "--secret_key", &creds.secret])
        .args(["--session_token", creds.token.as_deref().unwrap()])
        .arg("-i");
        if let Some(d) = data {
            c.args(["-d", d, "-H", "content-type: application/json"]);
        }
        let out = c.arg(format!("{}{path}", gw.endpoint)).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let got = run("GET", "/billing/invoices/9", None);
    assert!(got.contains("\"path\":\"/invoices/9\""), "{got}");
    let got = run("POST", "/billing/invoices", Some("{\"from\":\"awscurl\"}"));
    assert!(got.contains("\"method\":\"POST\""), "{got}");
    assert_eq!(
        &api.seen().last().unwrap().body[..],
        b"{\"from\":\"awscurl\"}"
    );
    let got = run("GET", "/billing/payments/9", None);
    assert!(
        got.contains("AccessDeniedException")
            && got.contains("not authorized to perform: execute-api:Invoke"),
        "{got}"
    );
}

#[test]
fn backends_can_be_re_signed_or_reached_plainly() {
    // With credentials, the gateway signs for the route's service with the backend's own key.
    let api = ApiBackend::start();
    let gw = gateway_for(
        &api,
        "access_key_id = \"AKIDAPIBACKEND\"\nsecret_access_key = \"backend-secret\"\nregion = \"eu-west-1\"",
    );
    let creds = assume(&gw, API_ROLE, "resign", None);
    assert_eq!(
        call(&gw, &creds, "GET", "/billing/invoices/1", b"").status,
        200
    );
    let seen = &api.seen()[0];
    let auth = seen.header("authorization").expect("re-signed");
    assert!(
        auth.contains("Credential=AKIDAPIBACKEND/")
            && auth.contains("/eu-west-1/execute-api/aws4_request"),
        "{auth}"
    );
    assert!(!auth.contains(&creds.key_id));
    // The signature verifies with the backend's secret.
    use stsgate::sigv4::{
        AmzDate, RequestParts, SigningKeyCache, UriMode, VerifyPolicy, parse_request_auth,
        verify_signature,
    };
    let regions = ["eu-west-1".to_string()];
    let policy = VerifyPolicy {
        regions: &regions,
        services: &["execute-api"],
        max_skew: Duration::from_secs(900),
        now: AmzDate::now(),
    };
    let req = RequestParts {
        method: "GET",
        path: &seen.path,
        query: &seen.query,
        headers: &seen.headers,
        authority: None,
    };
    let parsed = parse_request_auth(&req, &policy).unwrap().expect("signed");
    let empty = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b""));
    verify_signature(
        &parsed,
        &req,
        "backend-secret",
        &empty,
        UriMode::Normalized,
        &SigningKeyCache::disabled(),
    )
    .expect("the gateway's signature verifies with the backend's key");
}

#[test]
fn https_backends_verify_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let [ca, leaf, leaf_key, rogue, rogue_key, client, client_key] = test_pki(dir.path());
    // Trusted through ca_file: HTTP API and S3 both reach it over TLS.
    let api = ApiBackend::start_tls(&leaf, &leaf_key);
    let ca_line = format!("ca_file = \"{}\"", ca.display());
    let gw = gateway_for(&api, &ca_line);
    let creds = assume(&gw, API_ROLE, "tls", None);
    let r = call(&gw, &creds, "GET", "/billing/invoices/1", b"");
    assert_eq!(r.status, 200, "{r:?} {}", gw.log());
    assert_eq!(api.seen()[0].path, "/invoices/1");

    // The same API with a certificate the CA did not sign: 502, a log line, nothing sent.
    let rogue_api = ApiBackend::start_tls(&rogue, &rogue_key);
    let gw2 = gateway_for(&rogue_api, &ca_line);
    let creds2 = assume(&gw2, API_ROLE, "tls", None);
    let r = call(&gw2, &creds2, "GET", "/billing/invoices/1", b"");
    assert_eq!(
        (r.status, r.error_type()),
        (502, "BadGatewayException"),
        "{r:?}"
    );
    assert!(rogue_api.seen().is_empty());
    assert!(
        gw2.log().contains("TLS to the backend failed"),
        "{}",
        gw2.log()
    );
    // Without ca_file the system roots apply, which do not know the test CA either.
    let gw3 = gateway_for(&api, "");
    let creds3 = assume(&gw3, API_ROLE, "tls", None);
    assert_eq!(
        call(&gw3, &creds3, "GET", "/billing/invoices/1", b"").status,
        502
    );

    // An S3 backend over https: the gateway re-signs and sends over TLS.
    let s3 = ApiBackend::start_tls(&leaf, &leaf_key);
    let s3_toml = format!(
        "[[backends]]\nname = \"tls-s3\"\nkind = \"s3\"\nurl = \"{}\"\naccess_key_id = \"AKIDS3BACKEND\"\nsecret_access_key = \"s3-secret\"\n{ca_line}\n",
        s3.url
    );
    let gw4 = Gateway::start(&config_with_backend(&s3_toml, support::WRITER_ROLE));
    let writer = assume(
        &gw4,
        "arn:aws:iam::111122223333:role/s3_writer",
        "tls",
        None,
    );
    let out = writer
        .aws(&gw4)
        .run(&["s3api", "head-bucket", "--bucket", "tls-bucket"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = s3.seen();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("HEAD", "/tls-bucket")
    );
    assert!(
        seen[0]
            .header("authorization")
            .is_some_and(|a| a.contains("Credential=AKIDS3BACKEND/"))
    );

    // A backend that requires a client certificate: served with client_cert/client_key,
    // refused (502, nothing served) without.
    let mtls = ApiBackend::start_mtls(&leaf, &leaf_key, &ca);
    let with_cert = format!(
        "{ca_line}\nclient_cert = \"{}\"\nclient_key = \"{}\"",
        client.display(),
        client_key.display()
    );
    let gw5 = gateway_for(&mtls, &with_cert);
    let creds5 = assume(&gw5, API_ROLE, "mtls", None);
    let r = call(&gw5, &creds5, "GET", "/billing/invoices/1", b"");
    assert_eq!(r.status, 200, "{r:?} {}", gw5.log());
    let gw6 = gateway_for(&mtls, &ca_line);
    let creds6 = assume(&gw6, API_ROLE, "mtls", None);
    let r = call(&gw6, &creds6, "GET", "/billing/invoices/1", b"");
    assert_eq!(r.status, 502, "{r:?}");
    assert_eq!(
        mtls.seen().len(),
        1,
        "only the request with a client certificate was served"
    );
}

#[test]
fn develop_long_term_keys_are_callers_too() {
    let api = ApiBackend::start();
    let gw = gateway_for(&api, "");
    let develop = Creds {
        key_id: DEVELOP.0.into(),
        secret: DEVELOP.1.into(),
        token: None,
    };
    // develop's own policies do not grant execute-api:Invoke: refused, with develop's ARN.
    let r = call(&gw, &develop, "GET", "/billing/invoices/1", b"");
    assert_eq!(
        (r.status, r.error_type()),
        (403, "AccessDeniedException"),
        "{r:?}"
    );
    assert!(
        r.message()
            .starts_with("User: arn:aws:iam::111122223333:user/develop is not authorized"),
        "{r:?}"
    );
}

/// The gateway reads (and hashes) a body before checking the signature only for a caller it
/// could resolve: a request naming an unknown key or a forged token is refused at once, without
/// waiting for its body.
#[test]
fn bodies_of_unresolved_callers_are_never_read() {
    let api = ApiBackend::start();
    let gw = gateway_for(&api, "");
    let creds = assume(&gw, API_ROLE, "real", None);
    let forged = Creds {
        key_id: creds.key_id.clone(),
        secret: creds.secret.clone(),
        token: Some("AQxkZW1v-forged-token".into()),
    };
    let url = format!("{}/billing/invoices", gw.endpoint);
    let headers = sdk_sign(&forged, "execute-api", "us-east-1", "POST", &url, &[], b"");
    let addr = gw.endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut wire = "POST /billing/invoices HTTP/1.1\r\n".to_string();
    for (k, v) in &headers {
        wire.push_str(&format!("{k}: {v}\r\n"));
    }
    // A 1 MiB body is announced and never sent.
    wire.push_str("content-length: 1000000\r\n\r\n");
    stream.write_all(wire.as_bytes()).unwrap();
    let mut reply = [0u8; 4096];
    let n = stream
        .read(&mut reply)
        .expect("answered without waiting for the body");
    let text = String::from_utf8_lossy(&reply[..n]);
    assert!(text.starts_with("HTTP/1.1 403"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("x-amzn-errortype: unrecognizedclientexception"),
        "{text}"
    );
    assert!(api.seen().is_empty());
}

#[test]
fn per_core_workers_serve_allowed_and_refused_requests() {
    let api = ApiBackend::start();
    let text = config_with_backend(&api_backend_toml(&api.url, ""), API_ROLE_TOML).replacen(
        "dev_mode = true",
        "dev_mode = true\nworkers = 2",
        1,
    );
    assert!(text.contains("workers = 2"));
    let gw = Gateway::start(&text);
    assert!(gw.log().contains("workers=2"), "{}", gw.log());
    let creds = assume(&gw, API_ROLE, "workers", None);
    // Each call is a new client connection: handed to the workers in turn.
    for i in 0..8 {
        let r = call(&gw, &creds, "GET", &format!("/billing/invoices/{i}"), b"");
        assert_eq!(r.status, 200, "{r:?}");
    }
    let r = call(&gw, &creds, "POST", "/billing/invoices", b"body");
    assert_eq!(r.status, 200, "{r:?}");
    let seen = api.completed();
    assert_eq!(seen.len(), 9, "{seen:?}");
    assert_eq!(&seen.last().unwrap().body[..], b"body");
    // A refusal is served by a worker too, and reaches nothing.
    let r = call(&gw, &creds, "DELETE", "/billing/invoices/1", b"");
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(api.seen().len(), 9);
}

/// Security round 2, row 5: the method in the ARN is the one the API runs. Methods must be
/// upper-case tokens, and method overrides (headers, `_method` in the query or a form body) are
/// refused, reaching nothing; a route that allows them authorizes the overridden method.
#[test]
fn methods_are_upper_case_and_overrides_are_authorized_or_refused() {
    let api = ApiBackend::start();
    let gw = gateway_for(&api, "");
    let creds = assume(&gw, API_ROLE, "methods", None);
    let signed = |method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]| {
        let url = format!("{}{path}", gw.endpoint);
        let mut all = sdk_sign(
            &creds,
            "execute-api",
            "us-east-1",
            method,
            &url,
            headers,
            body,
        );
        for (k, v) in headers {
            if !all.iter().any(|(n, _)| n.eq_ignore_ascii_case(k)) {
                all.push((k.to_string(), v.to_string()));
            }
        }
        send_raw(&gw.endpoint, method, path, &all, body)
    };
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let refused: Vec<Reply> = vec![
        signed("post", "/billing/invoices", &[], b"{}"),
        signed("Delete", "/billing/invoices/1", &[], b""),
        signed(
            "POST",
            "/billing/invoices",
            &[("x-http-method-override", "DELETE")],
            b"{}",
        ),
        signed(
            "POST",
            "/billing/invoices",
            &[("x-http-method", "DELETE")],
            b"{}",
        ),
        signed(
            "POST",
            "/billing/invoices",
            &[("x-method-override", "DELETE")],
            b"{}",
        ),
        signed("POST", "/billing/invoices?_method=DELETE", &[], b"{}"),
        signed(
            "POST",
            "/billing/invoices",
            &form,
            b"amount=1&_method=DELETE",
        ),
    ];
    for reply in &refused {
        assert_eq!(
            (reply.status, reply.error_type()),
            (400, "BadRequestException"),
            "{reply:?}"
        );
    }
    assert!(api.seen().is_empty(), "a refused method reached the API");
    // An ordinary form POST still goes through (its body read, hashed and forwarded).
    let ok = signed("POST", "/billing/invoices", &form, b"amount=1");
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(api.completed().len(), 1);

    // A route that accepts overrides authorizes the method the API will run.
    let api = ApiBackend::start();
    let gw = gateway_for(&api, "allow_method_override = true");
    let creds = assume(&gw, API_ROLE, "overrides", None);
    let signed = |method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]| {
        let url = format!("{}{path}", gw.endpoint);
        let all = sdk_sign(
            &creds,
            "execute-api",
            "us-east-1",
            method,
            &url,
            headers,
            body,
        );
        send_raw(&gw.endpoint, method, path, &all, body)
    };
    let as_delete = signed("POST", "/billing/invoices?_method=delete", &[], b"{}");
    assert_eq!(as_delete.status, 403, "{as_delete:?}");
    assert!(
        as_delete.message().contains("billing/prod/DELETE/invoices"),
        "{}",
        as_delete.message()
    );
    let as_get = signed(
        "POST",
        "/billing/invoices/7",
        &[("x-http-method-override", "GET")],
        b"",
    );
    assert_eq!(as_get.status, 200, "{as_get:?}");
    let seen = api.completed().pop().unwrap();
    assert_eq!(
        seen.header("x-http-method-override"),
        Some("GET"),
        "forwarded for the API to read"
    );
    // Overrides that disagree: which one the API reads is not known.
    let split = signed(
        "POST",
        "/billing/invoices/7?_method=PUT",
        &[("x-http-method-override", "GET")],
        b"",
    );
    assert_eq!(split.status, 400, "{split:?}");
    assert_eq!(api.completed().len(), 1);
}

/// CORS rules on a route: the gateway answers preflights (they never reach the API), an allowed
/// origin's answers carry the rule's headers (refusals too), another origin's do not.
#[test]
fn a_route_with_cors_rules_answers_preflights_and_marks_answers() {
    let api = ApiBackend::start();
    let gw = gateway_for(
        &api,
        r#"cors = '{"CORSRules":[{"AllowedOrigins":["https://console.example.com"],"AllowedMethods":["GET"],"AllowedHeaders":["authorization","x-amz-*"],"MaxAgeSeconds":300}]}'"#,
    );
    let origin = "https://console.example.com";
    let preflight = |origin: &str, method: &str, headers: &str| {
        send_raw(
            &gw.endpoint,
            "OPTIONS",
            "/billing/invoices/1",
            &[
                ("origin".to_string(), origin.to_string()),
                (
                    "access-control-request-method".to_string(),
                    method.to_string(),
                ),
                (
                    "access-control-request-headers".to_string(),
                    headers.to_string(),
                ),
            ],
            b"",
        )
    };
    let ok = preflight(
        origin,
        "GET",
        "authorization,x-amz-date,x-amz-security-token",
    );
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.header("access-control-allow-origin"), Some(origin));
    assert_eq!(ok.header("access-control-allow-methods"), Some("GET"));
    assert_eq!(ok.header("access-control-max-age"), Some("300"));
    for (o, m, h) in [
        ("https://evil.example.net", "GET", "authorization"),
        (origin, "POST", "authorization"),
        (origin, "GET", "x-custom"),
    ] {
        let no = preflight(o, m, h);
        assert_eq!(
            (no.status, no.error_type()),
            (403, "ForbiddenException"),
            "{o} {m} {h}"
        );
    }
    assert!(api.seen().is_empty(), "a preflight reached the API");
    // A signed GET from the allowed origin, and a refused unsigned one: both carry the headers.
    let creds = assume(&gw, API_ROLE, "browser", None);
    let url = format!("{}/billing/invoices/1", gw.endpoint);
    let mut headers = sdk_sign(&creds, "execute-api", "us-east-1", "GET", &url, &[], b"");
    headers.push(("origin".to_string(), origin.to_string()));
    let signed = send_raw(&gw.endpoint, "GET", "/billing/invoices/1", &headers, b"");
    assert_eq!(signed.status, 200, "{signed:?}");
    assert_eq!(signed.header("access-control-allow-origin"), Some(origin));
    assert!(
        api.seen()[0].header("origin").is_none(),
        "Origin is the gateway's business, not the API's"
    );
    let unsigned = send_raw(
        &gw.endpoint,
        "GET",
        "/billing/invoices/1",
        &[("origin".to_string(), origin.to_string())],
        b"",
    );
    assert_eq!(unsigned.error_type(), "MissingAuthenticationTokenException");
    assert_eq!(unsigned.header("access-control-allow-origin"), Some(origin));
    let other = send_raw(
        &gw.endpoint,
        "GET",
        "/billing/invoices/1",
        &[("origin".to_string(), "https://evil.example.net".to_string())],
        b"",
    );
    assert_eq!(other.header("access-control-allow-origin"), None);
}
