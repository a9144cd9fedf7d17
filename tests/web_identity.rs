//! AssumeRoleWithWebIdentity against a test issuer the tests control (discovery and JWKS over
//! https with a test CA, RSA and EC keys), called with aws-sdk-rust's STS client (an unsigned
//! call, as every SDK makes it). Every attack on the token gets AWS's code and reaches no
//! session; keys are fetched once, refetched at most once per interval, and kept when the
//! issuer goes down.

mod support;

use aws_sdk_sts::config::Region;
use serde_json::json;
use support::Gateway;
use support::oidc_issuer::{Issuer, now};

use support::oidc_issuer::{ACCOUNT, CI_ROLE, ROLE, TAG_ROLE, gateway};

async fn sts(gw: &Gateway) -> aws_sdk_sts::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&gw.endpoint)
        .region(Region::new("us-east-1"))
        .no_credentials()
        .load()
        .await;
    aws_sdk_sts::Client::new(&config)
}

/// The error code and message of a refused AssumeRoleWithWebIdentity, which must not be the
/// attempt limits' (a lockout would hide the check a test means).
async fn refused(client: &aws_sdk_sts::Client, role: &str, token: &str) -> (String, String) {
    let (code, message) = refused_any(client, role, token).await;
    assert!(
        !message.starts_with("Too many"),
        "locked out instead of checked: {message}"
    );
    (code, message)
}

async fn refused_any(client: &aws_sdk_sts::Client, role: &str, token: &str) -> (String, String) {
    let e = client
        .assume_role_with_web_identity()
        .role_arn(role)
        .role_session_name("attempt")
        .web_identity_token(token)
        .send()
        .await
        .expect_err("the token must be refused")
        .into_service_error();
    use aws_sdk_sts::error::ProvideErrorMetadata;
    (
        e.code().unwrap_or_default().to_string(),
        e.message().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn a_service_account_token_becomes_a_role_session_that_is_an_ordinary_session() {
    let issuer = Issuer::start("/realms/cluster");
    let gw = gateway(&issuer, "", "");
    let client = sts(&gw).await;
    let key = issuer.url.trim_start_matches("https://").to_string();
    let mut claims = issuer.claims("system:serviceaccount:data:reader", "stsgate");
    claims["kubernetes.io"] = json!({"namespace": "data", "serviceaccount": {"name": "reader"}});
    for kid in ["rsa-1", "ec-1"] {
        let out = client
            .assume_role_with_web_identity()
            .role_arn(ROLE)
            .role_session_name(format!("pod-{kid}"))
            .web_identity_token(issuer.sign(kid, &claims))
            .duration_seconds(7200)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{kid}: {:?}", e.into_service_error()));
        assert_eq!(
            out.subject_from_web_identity_token(),
            Some("system:serviceaccount:data:reader")
        );
        assert_eq!(out.audience(), Some("stsgate"));
        assert_eq!(
            out.provider(),
            Some(format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{key}").as_str())
        );
        let user = out.assumed_role_user().unwrap();
        assert_eq!(
            user.arn(),
            format!("arn:aws:sts::{ACCOUNT}:assumed-role/web_reader/pod-{kid}")
        );
        let creds = out.credentials().unwrap();
        assert!(creds.access_key_id().starts_with("ASIA"));
        let lifetime = creds.expiration().secs() - now();
        assert!((7100..=7210).contains(&lifetime), "lifetime {lifetime}");

        // The session is an ordinary one: it signs STS calls, and role chaining caps it at 1 h.
        let session = support::Creds {
            key_id: creds.access_key_id().to_string(),
            secret: creds.secret_access_key().to_string(),
            token: Some(creds.session_token().to_string()),
        };
        let who = session.aws(&gw).ok(&[
            "sts",
            "get-caller-identity",
            "--query",
            "Arn",
            "--output",
            "text",
        ]);
        assert_eq!(
            who.trim(),
            format!("arn:aws:sts::{ACCOUNT}:assumed-role/web_reader/pod-{kid}")
        );
        // S3ReadOnly: a write is refused by the role's own policy, with the session's ARN.
        let put = support::fails(
            &session.aws(&gw),
            &[
                "s3api",
                "put-object",
                "--bucket",
                "data-bucket",
                "--key",
                "k",
            ],
        );
        assert!(
            put.contains("AccessDenied") && put.contains("assumed-role/web_reader"),
            "{put}"
        );
    }

    // A GitHub-Actions-shaped token (audience sts.amazonaws.com) gets the CI role, and only
    // from its repository's main branch.
    let ci = issuer.claims("repo:acme/data:ref:refs/heads/main", "sts.amazonaws.com");
    client
        .assume_role_with_web_identity()
        .role_arn(CI_ROLE)
        .role_session_name("gha")
        .web_identity_token(issuer.sign("rsa-1", &ci))
        .send()
        .await
        .expect("the main branch of acme/data may deploy");
    let branch = issuer.claims("repo:acme/data:ref:refs/heads/feature", "sts.amazonaws.com");
    assert_eq!(
        refused(&client, CI_ROLE, &issuer.sign("rsa-1", &branch)).await,
        (
            "AccessDenied".into(),
            "Not authorized to perform sts:AssumeRoleWithWebIdentity".into()
        )
    );
    // The audit trail names the web identity caller and its provider.
    let log = gw.log();
    assert!(
        log.contains("AssumeRoleWithWebIdentity"),
        "the gateway logs the action: {log}"
    );
}

#[tokio::test]
async fn every_attack_on_the_token_gets_awss_code_and_no_session() {
    let issuer = Issuer::start("/issuer");
    let gw = gateway(
        &issuer,
        "clock_skew_seconds = 30",
        "web_identity_max_failures_per_address = 1000",
    );
    let client = sts(&gw).await;
    let good = issuer.claims("system:serviceaccount:data:reader", "stsgate");
    let b64 =
        |v: &serde_json::Value| data_encoding::BASE64URL_NOPAD.encode(v.to_string().as_bytes());
    let invalid = "InvalidIdentityToken".to_string();

    // alg none, with no signature.
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "kid": "rsa-1"})),
        b64(&good)
    );
    let (code, message) = refused(&client, ROLE, &none).await;
    assert_eq!(code, invalid, "{message}");
    assert!(message.contains("none"), "{message}");

    // HS256 keyed with the RSA public key (the classic confusion).
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("rsa-1".into());
    let hs = jsonwebtoken::encode(
        &header,
        &good,
        &jsonwebtoken::EncodingKey::from_secret(&issuer.key("rsa-1").public_pem).unwrap(),
    )
    .unwrap();
    let (code, message) = refused(&client, ROLE, &hs).await;
    assert_eq!(code, invalid);
    assert!(message.contains("HS256"), "{message}");

    // A key the JWKS does not publish; and a published kid over another key's signature.
    let (code, message) = refused(&client, ROLE, &issuer.sign("rsa-2", &good)).await;
    assert_eq!(code, invalid);
    assert!(message.contains("verification key"), "{message}");
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("rsa-1".into());
    let forged = jsonwebtoken::encode(&header, &good, &issuer.key("rsa-2").encoding).unwrap();
    let (code, message) = refused(&client, ROLE, &forged).await;
    assert_eq!(code, invalid);
    assert!(message.contains("signature"), "{message}");
    // The token's kid names an EC key but its header says RS256.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("ec-1".into());
    let mixed = jsonwebtoken::encode(&header, &good, &issuer.key("rsa-1").encoding).unwrap();
    assert_eq!(refused(&client, ROLE, &mixed).await.0, invalid);

    // Issuers that are not the provider's: another host, a prefix, a trailing slash.
    for iss in [
        "https://evil.example/issuer".to_string(),
        issuer.url.trim_end_matches("/issuer").to_string(),
        format!("{}/", issuer.url),
        issuer.url.replace("https://", "http://"),
    ] {
        let mut c = good.clone();
        c["iss"] = json!(iss);
        let (code, message) = refused(&client, ROLE, &issuer.sign("rsa-1", &c)).await;
        assert_eq!(code, invalid, "{iss}");
        assert_eq!(
            message,
            format!("No OpenIDConnect provider found in your account for {iss}")
        );
    }

    // Audiences: wrong, missing, not a string.
    let mut c = good.clone();
    c["aud"] = json!("someone-else");
    assert_eq!(
        refused(&client, ROLE, &issuer.sign("rsa-1", &c)).await,
        (invalid.clone(), "Incorrect token audience".into())
    );
    let mut c = good.clone();
    c.as_object_mut().unwrap().remove("aud");
    assert_eq!(
        refused(&client, ROLE, &issuer.sign("rsa-1", &c)).await,
        (invalid.clone(), "Missing a required claim: aud".into())
    );
    let mut c = good.clone();
    c["aud"] = json!(["other", "stsgate"]);
    client
        .assume_role_with_web_identity()
        .role_arn(ROLE)
        .role_session_name("list-aud")
        .web_identity_token(issuer.sign("rsa-1", &c))
        .send()
        .await
        .expect("an aud list that holds a client id is accepted");

    // Time: expired beyond the skew, nbf and iat in the future, float and string timestamps,
    // no exp at all.
    let t = now();
    let mut c = good.clone();
    c["exp"] = json!(t - 120);
    let (code, message) = refused(&client, ROLE, &issuer.sign("rsa-1", &c)).await;
    assert_eq!(code, "ExpiredTokenException");
    assert!(
        message.starts_with("Token expired: current date/time"),
        "{message}"
    );
    let mut c = good.clone();
    c["exp"] = json!(t - 10);
    client
        .assume_role_with_web_identity()
        .role_arn(ROLE)
        .role_session_name("within-skew")
        .web_identity_token(issuer.sign("rsa-1", &c))
        .send()
        .await
        .expect("an exp 10 s ago is within the 30 s skew");
    for (claim, value) in [
        ("nbf", json!(t + 300)),
        ("iat", json!(t + 300)),
        ("exp", json!(t as f64 + 600.5)),
        ("iat", json!(format!("{t}"))),
    ] {
        let mut c = good.clone();
        c[claim] = value.clone();
        let (code, message) = refused(&client, ROLE, &issuer.sign("rsa-1", &c)).await;
        assert_eq!(code, invalid, "{claim} = {value}: {message}");
    }
    let mut c = good.clone();
    c.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        refused(&client, ROLE, &issuer.sign("rsa-1", &c)).await,
        (invalid.clone(), "Missing a required claim: exp".into())
    );

    // Length: 20,001 characters is a validation error (the token is not even parsed).
    let mut c = good.clone();
    c["pad"] = json!("x".repeat(20_000));
    let long = issuer.sign("rsa-1", &c);
    assert!(long.len() > 20_000);
    assert_eq!(refused(&client, ROLE, &long).await.0, "ValidationError");
    assert_eq!(refused(&client, ROLE, "abc").await.0, "ValidationError");

    // The trust policy's :sub condition; a role that does not exist answers the same.
    let other = issuer.claims("system:serviceaccount:web:frontend", "stsgate");
    let denied = (
        "AccessDenied".to_string(),
        "Not authorized to perform sts:AssumeRoleWithWebIdentity".to_string(),
    );
    assert_eq!(
        refused(&client, ROLE, &issuer.sign("rsa-1", &other)).await,
        denied
    );
    assert_eq!(
        refused(
            &client,
            "arn:aws:iam::111122223333:role/nope",
            &issuer.sign("rsa-1", &good)
        )
        .await,
        denied
    );
    // A role in an account without the provider: no provider found, as on AWS.
    let (code, message) = refused(
        &client,
        "arn:aws:iam::999999999999:role/web_reader",
        &issuer.sign("rsa-1", &good),
    )
    .await;
    assert_eq!(code, invalid);
    assert!(
        message.starts_with("No OpenIDConnect provider found"),
        "{message}"
    );

    // DurationSeconds beyond the role's maximum fails (it is not capped).
    let e = client
        .assume_role_with_web_identity()
        .role_arn(ROLE)
        .role_session_name("long")
        .web_identity_token(issuer.sign("rsa-1", &good))
        .duration_seconds(7201)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    use aws_sdk_sts::error::ProvideErrorMetadata;
    assert_eq!(e.code(), Some("ValidationError"));
}

#[tokio::test]
async fn a_kid_flood_makes_at_most_one_fetch_per_interval() {
    let issuer = Issuer::start("/flood");
    let gw = gateway(
        &issuer,
        "refetch_interval_seconds = 3600",
        "web_identity_max_failures_per_address = 1000",
    );
    let client = sts(&gw).await;
    let good = issuer.claims("system:serviceaccount:data:reader", "stsgate");
    client
        .assume_role_with_web_identity()
        .role_arn(ROLE)
        .role_session_name("first")
        .web_identity_token(issuer.sign("rsa-1", &good))
        .send()
        .await
        .expect("the first token fetches the keys");
    let fetched = issuer.jwks_fetches();
    assert!(fetched >= 1, "the keys were fetched");
    for i in 0..40 {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(format!("unknown-{i}"));
        let t = jsonwebtoken::encode(&header, &good, &issuer.key("rsa-2").encoding).unwrap();
        assert_eq!(refused(&client, ROLE, &t).await.0, "InvalidIdentityToken");
    }
    assert_eq!(
        issuer.jwks_fetches(),
        fetched,
        "unknown kids within the refetch interval make no fetch"
    );
}

#[tokio::test]
async fn rotated_keys_are_picked_up_and_a_down_issuer_keeps_the_last_good_ones() {
    let issuer = Issuer::start("/rotating");
    let gw = gateway(&issuer, "refetch_interval_seconds = 1", "");
    let client = sts(&gw).await;
    let good = issuer.claims("system:serviceaccount:data:reader", "stsgate");
    let assume = |token: String| {
        let client = client.clone();
        async move {
            client
                .assume_role_with_web_identity()
                .role_arn(ROLE)
                .role_session_name("rotation")
                .web_identity_token(token)
                .send()
                .await
        }
    };
    assume(issuer.sign("rsa-1", &good)).await.expect("rsa-1");
    // The issuer rotates in a new key: a token signed with it triggers one refetch.
    issuer.publish(&["rsa-1", "rsa-2"]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assume(issuer.sign("rsa-2", &good))
        .await
        .expect("the rotated-in key is fetched without a restart");
    // The issuer goes down: cached keys still verify, and an unknown key is refused.
    issuer.set_up(false);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assume(issuer.sign("rsa-1", &good))
        .await
        .expect("the last good keys are kept while the issuer is down");
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("rsa-3".into());
    let unknown = jsonwebtoken::encode(&header, &good, &issuer.key("rsa-2").encoding).unwrap();
    assert_eq!(
        refused(&client, ROLE, &unknown).await.0,
        "InvalidIdentityToken"
    );
    let metrics = reqwest_like_get(&format!("{}/metrics", gw.admin));
    assert!(
        metrics.contains("stsgate_oidc_key_fetches_total{provider=")
            && metrics.contains("outcome=\"failed\""),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_issuer_that_never_answered_fails_closed() {
    let issuer = Issuer::start("/down");
    issuer.set_up(false);
    let gw = gateway(&issuer, "", "");
    let client = sts(&gw).await;
    let good = issuer.claims("system:serviceaccount:data:reader", "stsgate");
    let (code, message) = refused(&client, ROLE, &issuer.sign("rsa-1", &good)).await;
    assert_eq!(code, "IDPCommunicationError", "{message}");
}

#[tokio::test]
async fn session_tags_and_source_identity_come_from_the_token_and_need_the_trust() {
    let issuer = Issuer::start("/tags");
    let gw = gateway(&issuer, "", "");
    let client = sts(&gw).await;
    let mut c = issuer.claims("alice", "stsgate");
    c["https://aws.amazon.com/tags"] = json!({
        "principal_tags": {"team": ["data"], "cost": ["42"]},
        "transitive_tag_keys": ["team"]
    });
    c["https://aws.amazon.com/source_identity"] = json!("alice");
    let out = client
        .assume_role_with_web_identity()
        .role_arn(TAG_ROLE)
        .role_session_name("tagged")
        .web_identity_token(issuer.sign("ec-1", &c))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{:?}", e.into_service_error()));
    assert_eq!(out.source_identity(), Some("alice"));
    // The trust policy requires aws:RequestTag/team = data: other tags are refused.
    c["https://aws.amazon.com/tags"]["principal_tags"]["team"] = json!(["web"]);
    assert_eq!(
        refused(&client, TAG_ROLE, &issuer.sign("ec-1", &c)).await.0,
        "AccessDenied"
    );
    // A role whose trust does not allow sts:TagSession refuses a token with tags.
    let mut k = issuer.claims("system:serviceaccount:data:reader", "stsgate");
    k["https://aws.amazon.com/tags"] = json!({"principal_tags": {"team": ["data"]}});
    assert_eq!(
        refused(&client, ROLE, &issuer.sign("rsa-1", &k)).await,
        (
            "AccessDenied".into(),
            "Not authorized to perform sts:TagSession".into()
        )
    );
    // Tags that break AWS's rules are refused before any trust is read.
    k["https://aws.amazon.com/tags"] = json!({"principal_tags": {"aws:team": ["x"]}});
    assert_eq!(
        refused(&client, TAG_ROLE, &issuer.sign("rsa-1", &k))
            .await
            .0,
        "InvalidParameterValue"
    );
}

#[tokio::test]
async fn an_address_that_keeps_failing_is_locked_out_whatever_its_token() {
    let issuer = Issuer::start("/limits");
    let gw = gateway(
        &issuer,
        "",
        "web_identity_max_failures_per_address = 3\nweb_identity_lockout_seconds = 60",
    );
    let client = sts(&gw).await;
    let good = issuer.claims("system:serviceaccount:data:reader", "stsgate");
    let mut bad = good.clone();
    bad["aud"] = json!("nobody");
    for _ in 0..3 {
        assert_eq!(
            refused(&client, ROLE, &issuer.sign("rsa-1", &bad)).await.1,
            "Incorrect token audience"
        );
    }
    let (code, message) = refused_any(&client, ROLE, &issuer.sign("rsa-1", &good)).await;
    assert_eq!(code, "InvalidIdentityToken");
    assert!(
        message.starts_with("Too many invalid web identity tokens"),
        "{message}"
    );
    let metrics = reqwest_like_get(&format!("{}/metrics", gw.admin));
    assert!(
        metrics.contains("stsgate_web_identity_lockouts_total{scope=\"address\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_query_form_and_the_form_body_both_work_unsigned() {
    let issuer = Issuer::start("/get");
    let gw = gateway(&issuer, "", "");
    let token = issuer.sign(
        "rsa-1",
        &issuer.claims("system:serviceaccount:data:reader", "stsgate"),
    );
    let query = format!(
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={}&RoleSessionName=get&WebIdentityToken={token}",
        ROLE.replace(':', "%3A").replace('/', "%2F")
    );
    let body = reqwest_like_get(&format!("{}/?{query}", gw.endpoint));
    assert!(
        body.contains("<AssumeRoleWithWebIdentityResult>") && body.contains("<AccessKeyId>ASIA"),
        "{body}"
    );
    // Any other unsigned STS action is still refused.
    let body = reqwest_like_get(&format!(
        "{}/?Action=GetCallerIdentity&Version=2011-06-15",
        gw.endpoint
    ));
    assert!(!body.contains("GetCallerIdentityResult"), "{body}");
}

/// A plain GET with curl (the body, whatever the status).
fn reqwest_like_get(url: &str) -> String {
    let out = std::process::Command::new("curl")
        .args(["-s", url])
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn a_web_identity_session_chains_for_an_hour_at_most_and_is_audited() {
    let issuer = Issuer::start("/audited");
    let trail_dir = tempfile::tempdir().unwrap();
    let trail = trail_dir.path().join("audit.jsonl");
    let chained = r#"
[[accounts.roles]]
name = "chained"
max_session_duration = 43200
managed_policies = ["S3ReadOnly"]
trust_policy = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/web_reader"},"Action":"sts:AssumeRole"}}'
"#;
    let gw = gateway(
        &issuer,
        chained,
        &format!(
            "web_identity_max_failures_per_address = 20\n\n[audit]\nfile = \"{}\"",
            trail.display()
        ),
    );
    let client = sts(&gw).await;
    let out = client
        .assume_role_with_web_identity()
        .role_arn(ROLE)
        .role_session_name("chain")
        .web_identity_token(issuer.sign(
            "rsa-1",
            &issuer.claims("system:serviceaccount:data:reader", "stsgate"),
        ))
        .send()
        .await
        .unwrap();
    let c = out.credentials().unwrap();
    let session = support::Creds {
        key_id: c.access_key_id().to_string(),
        secret: c.secret_access_key().to_string(),
        token: Some(c.session_token().to_string()),
    };
    let aws = session.aws(&gw);
    let long = support::fails(
        &aws,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            "arn:aws:iam::111122223333:role/chained",
            "--role-session-name",
            "next",
            "--duration-seconds",
            "7200",
        ],
    );
    assert!(
        long.contains("ValidationError") && long.contains("role chaining"),
        "{long}"
    );
    aws.ok(&[
        "sts",
        "assume-role",
        "--role-arn",
        "arn:aws:iam::111122223333:role/chained",
        "--role-session-name",
        "next",
        "--duration-seconds",
        "3600",
    ]);

    // The audit trail: the call by a WebIdentityUser, then the session's own requests.
    let provider = format!(
        "arn:aws:iam::111122223333:oidc-provider/{}",
        issuer.url.trim_start_matches("https://")
    );
    let mut records = Vec::new();
    for _ in 0..50 {
        records = std::fs::read_to_string(&trail)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect();
        if records.len() >= 3 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let call = records
        .iter()
        .find(|r| r["eventName"] == "AssumeRoleWithWebIdentity")
        .unwrap_or_else(|| panic!("{records:#?}"));
    assert_eq!(call["userIdentity"]["type"], "WebIdentityUser");
    assert_eq!(call["userIdentity"]["identityProvider"], provider.as_str());
    assert_eq!(
        call["userIdentity"]["userName"],
        "system:serviceaccount:data:reader"
    );
    let chained_call = records
        .iter()
        .find(|r| r["eventName"] == "AssumeRole" && r["errorCode"].is_null())
        .unwrap_or_else(|| panic!("{records:#?}"));
    assert_eq!(chained_call["userIdentity"]["type"], "AssumedRole");
    assert_eq!(
        chained_call["userIdentity"]["sessionContext"]["webIdFederationData"]["federatedProvider"],
        provider.as_str()
    );
    // No token in the trail.
    let text = std::fs::read_to_string(&trail).unwrap();
    assert!(
        !text.contains(c.session_token()) && !text.contains("eyJ"),
        "{text}"
    );
}

#[tokio::test]
async fn thumbprints_pin_the_certificate_the_jwks_host_presents() {
    let issuer = Issuer::start("/pinned");
    let good = issuer.claims("system:serviceaccount:data:reader", "stsgate");
    // Pinned to another certificate: the keys are never accepted, the token fails closed.
    let gw = gateway(
        &issuer,
        "thumbprints = [\"0000000000000000000000000000000000000000\"]",
        "",
    );
    let (code, message) = refused(&sts(&gw).await, ROLE, &issuer.sign("rsa-1", &good)).await;
    assert_eq!(code, "IDPCommunicationError", "{message}");
    assert!(
        gw.log()
            .contains("matches none of the provider's thumbprints"),
        "{}",
        gw.log()
    );
    drop(gw);
    // Pinned to the issuer's own: the keys are fetched.
    let gw = gateway(
        &issuer,
        &format!("thumbprints = [\"{}\"]", issuer.thumbprint().to_uppercase()),
        "",
    );
    sts(&gw)
        .await
        .assume_role_with_web_identity()
        .role_arn(ROLE)
        .role_session_name("pinned")
        .web_identity_token(issuer.sign("rsa-1", &good))
        .send()
        .await
        .expect("the pinned certificate is the one presented");
}

#[tokio::test]
async fn a_static_jwks_file_serves_a_cluster_whose_issuer_is_unreachable() {
    let issuer = Issuer::start("/static");
    let jwks = issuer.dir().join("cluster-jwks.json");
    std::fs::write(&jwks, issuer.jwks()).unwrap();
    issuer.set_up(false);
    let gw = gateway(&issuer, &format!("jwks_file = \"{}\"", jwks.display()), "");
    let client = sts(&gw).await;
    let good = issuer.claims("system:serviceaccount:data:reader", "stsgate");
    client
        .assume_role_with_web_identity()
        .role_arn(ROLE)
        .role_session_name("static")
        .web_identity_token(issuer.sign("ec-1", &good))
        .send()
        .await
        .expect("static keys verify without the issuer");
    // A key the file does not hold is refused, and nothing is fetched for it.
    assert_eq!(
        refused(&client, ROLE, &issuer.sign("rsa-2", &good)).await.0,
        "InvalidIdentityToken"
    );
    assert_eq!(
        issuer.jwks_fetches(),
        0,
        "a jwks_file provider never fetches"
    );
}

/// With providers configured the gateway must read unsigned STS bodies (the token is in them):
/// a body larger than an STS form is refused at once, unread, and a stalled one is cut off
/// after the short unsigned timeout, not the body-read timeout.
#[tokio::test]
async fn unsigned_bodies_are_bounded_in_size_and_time() {
    use std::io::{Read, Write};
    let issuer = Issuer::start("/bounded");
    let gw = gateway(&issuer, "", "body_read_timeout_seconds = 60");
    let addr = gw.endpoint.trim_start_matches("http://").to_string();
    let send = |head: String| {
        let addr = addr.clone();
        std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(&addr).unwrap();
            s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
                .unwrap();
            s.write_all(head.as_bytes()).unwrap();
            let started = std::time::Instant::now();
            let mut answer = Vec::new();
            let _ = s.read_to_end(&mut answer);
            (
                started.elapsed(),
                String::from_utf8_lossy(&answer).into_owned(),
            )
        })
    };
    let form = "content-type: application/x-www-form-urlencoded";
    let (took, answer) = send(format!(
        "POST / HTTP/1.1\r\nHost: x\r\n{form}\r\ncontent-length: 70000\r\nconnection: close\r\n\r\nAction=Assume"
    ))
    .join()
    .unwrap();
    assert!(
        took < std::time::Duration::from_secs(2) && answer.contains("ValidationError"),
        "{took:?} {answer}"
    );
    let (took, answer) = send(format!(
        "POST / HTTP/1.1\r\nHost: x\r\n{form}\r\ncontent-length: 1000\r\nconnection: close\r\n\r\nAction=AssumeRoleWithWebIdentity"
    ))
    .join()
    .unwrap();
    assert!(
        took >= std::time::Duration::from_secs(4)
            && took < std::time::Duration::from_secs(10)
            && answer.contains("RequestTimeout"),
        "{took:?} {answer}"
    );
}

/// A config reload keeps a provider's fetched keys (and its lockouts): no fetch, no gap.
#[tokio::test]
async fn a_reload_keeps_the_fetched_keys() {
    let issuer = Issuer::start("/reloaded");
    let gw = gateway(&issuer, "refetch_interval_seconds = 3600", "");
    let client = sts(&gw).await;
    let good = issuer.claims("system:serviceaccount:data:reader", "stsgate");
    let assume = |session: &'static str| {
        let (client, token) = (client.clone(), issuer.sign("rsa-1", &good));
        async move {
            client
                .assume_role_with_web_identity()
                .role_arn(ROLE)
                .role_session_name(session)
                .web_identity_token(token)
                .send()
                .await
        }
    };
    assume("before").await.expect("before the reload");
    let fetched = issuer.jwks_fetches();
    // The issuer goes down, then the config is reloaded (SIGHUP).
    issuer.set_up(false);
    let ok = std::process::Command::new("kill")
        .args(["-HUP", &gw.pid().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let mut reloaded = false;
    for _ in 0..50 {
        if gw.log().contains("config reloaded") {
            reloaded = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(reloaded, "{}", gw.log());
    assume("after")
        .await
        .expect("the keys fetched before the reload still verify");
    assert_eq!(issuer.jwks_fetches(), fetched, "the reload fetched nothing");
}

/// A provider's failure limit counts only tokens its own key signed: forged tokens in its name
/// (anyone can make them) cannot lock it out for everyone; replayed expired ones can.
#[tokio::test]
async fn forged_tokens_cannot_lock_a_provider_out() {
    let issuer = Issuer::start("/provider-limit");
    let gw = gateway(
        &issuer,
        "",
        "web_identity_max_failures_per_address = 1000\nweb_identity_max_failures_per_provider = 3",
    );
    let client = sts(&gw).await;
    let good = issuer.claims("system:serviceaccount:data:reader", "stsgate");
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("rsa-1".into());
    let forged = jsonwebtoken::encode(&header, &good, &issuer.key("rsa-2").encoding).unwrap();
    for _ in 0..6 {
        assert!(
            refused(&client, ROLE, &forged)
                .await
                .1
                .contains("signature")
        );
    }
    let assume = |session: &'static str| {
        let (client, token) = (client.clone(), issuer.sign("rsa-1", &good));
        async move {
            client
                .assume_role_with_web_identity()
                .role_arn(ROLE)
                .role_session_name(session)
                .web_identity_token(token)
                .send()
                .await
        }
    };
    assume("after-forgeries")
        .await
        .expect("six forged tokens did not lock the provider");
    let mut expired = good.clone();
    expired["exp"] = json!(now() - 3600);
    for _ in 0..3 {
        assert_eq!(
            refused(&client, ROLE, &issuer.sign("rsa-1", &expired))
                .await
                .0,
            "ExpiredTokenException"
        );
    }
    let (code, message) = refused_any(&client, ROLE, &issuer.sign("rsa-1", &good)).await;
    assert_eq!(code, "InvalidIdentityToken");
    assert!(
        message.starts_with("Too many invalid web identity tokens"),
        "{message}"
    );
}
