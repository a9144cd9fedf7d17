//! The STS endpoint through real clients (aws-cli, boto3) against the running gateway with the
//! demo config: the seed stories, MFA, durations, every credential type, key info, decoding
//! authorization messages, expiry and tampering.

mod support;

use std::process::Command;
use std::sync::Arc;

use serde_json::Value;
use support::{AUDITOR, DEVELOP, Gateway, NO_SKILL, NO_SKILL_MFA, S3_ROLE};

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// Runs aws and expects failure; returns stderr.
fn fails(aws: &support::AwsCli, args: &[&str]) -> String {
    let out = aws.run(args);
    assert!(
        !out.status.success(),
        "aws {} unexpectedly succeeded: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn credentials(v: &Value) -> (String, String, String) {
    let c = &v["Credentials"];
    (
        c["AccessKeyId"].as_str().unwrap().into(),
        c["SecretAccessKey"].as_str().unwrap().into(),
        c["SessionToken"].as_str().unwrap().into(),
    )
}

#[test]
fn assume_role_as_develop_and_use_the_session() {
    let gw = Gateway::demo();
    let develop = gw.aws(DEVELOP.0, DEVELOP.1, None);
    let who = json(&develop.ok(&["sts", "get-caller-identity"]));
    assert_eq!(who["Arn"], "arn:aws:iam::111122223333:user/develop");
    assert_eq!(who["Account"], "111122223333");
    assert!(who["UserId"].as_str().unwrap().starts_with("AIDA"));

    let assumed = json(&develop.ok(&[
        "sts",
        "assume-role",
        "--role-arn",
        S3_ROLE,
        "--role-session-name",
        "seed-story",
        "--duration-seconds",
        "900",
    ]));
    let (akid, secret, token) = credentials(&assumed);
    assert!(akid.starts_with("ASIA") && akid.len() == 20, "{akid}");
    assert_eq!(secret.len(), 40);
    assert_eq!(
        assumed["AssumedRoleUser"]["Arn"],
        "arn:aws:sts::111122223333:assumed-role/s3_role/seed-story"
    );
    assert!(
        assumed["AssumedRoleUser"]["AssumedRoleId"]
            .as_str()
            .unwrap()
            .starts_with("AROA")
    );
    assert!(
        assumed["Credentials"]["Expiration"]
            .as_str()
            .unwrap()
            .ends_with('Z')
            || assumed["Credentials"]["Expiration"]
                .as_str()
                .unwrap()
                .contains("+00:00")
    );

    let session = gw.aws(&akid, &secret, Some(&token));
    let who = json(&session.ok(&["sts", "get-caller-identity"]));
    assert_eq!(
        who["Arn"],
        "arn:aws:sts::111122223333:assumed-role/s3_role/seed-story"
    );
    assert!(who["UserId"].as_str().unwrap().ends_with(":seed-story"));
    let info = json(&session.ok(&["sts", "get-access-key-info", "--access-key-id", &akid]));
    assert_eq!(info["Account"], "111122223333");

    // The session cannot call GetSessionToken.
    let err = fails(&session, &["sts", "get-session-token"]);
    assert!(
        err.contains("AccessDenied")
            && err.contains("Cannot call GetSessionToken with session credentials"),
        "{err}"
    );
    // Role chaining caps the duration at one hour (s3_role trusts users only, so use a valid
    // duration check first: the trust refuses the role session itself).
    let err = fails(
        &session,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            S3_ROLE,
            "--role-session-name",
            "chain",
        ],
    );
    assert!(err.contains("is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111122223333:role/s3_role"), "{err}");
}

#[test]
fn the_role_is_trusted_by_one_user_only() {
    let gw = Gateway::demo();
    let auditor = gw.aws(AUDITOR.0, AUDITOR.1, None);
    let err = fails(
        &auditor,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            S3_ROLE,
            "--role-session-name",
            "nope",
        ],
    );
    assert!(
        err.contains("An error occurred (AccessDenied) when calling the AssumeRole operation: User: arn:aws:iam::111122223333:user/auditor is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111122223333:role/s3_role"),
        "{err}"
    );
    // A role that does not exist gets the same answer: existence is not revealed.
    let err = fails(
        &auditor,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            "arn:aws:iam::111122223333:role/missing",
            "--role-session-name",
            "nope",
        ],
    );
    assert!(err.contains("is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111122223333:role/missing"), "{err}");
}

#[test]
fn identity_policy_must_allow_when_the_trust_names_the_account() {
    // Add a role trusted by the account root: develop's policy only allows s3_role.
    let extra = r#"
[[accounts.roles]]
name = "root_trusted"
managed_policies = ["S3ReadOnly"]
trust_policy = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}}'
"#;
    let text = std::fs::read_to_string(support::repo_root().join("config/stsgate.toml"))
        .unwrap()
        .replace(
            "\n# The S3 store behind the gateway.",
            &format!("{extra}\n# The S3 store behind the gateway."),
        );
    let gw = Gateway::start(&text);
    let develop = gw.aws(DEVELOP.0, DEVELOP.1, None);
    let err = fails(
        &develop,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            "arn:aws:iam::111122223333:role/root_trusted",
            "--role-session-name",
            "xx",
        ],
    );
    assert!(err.contains("User: arn:aws:iam::111122223333:user/develop is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111122223333:role/root_trusted"), "{err}");
}

#[test]
fn durations_are_validated() {
    let gw = Gateway::demo();
    let develop = gw.aws(DEVELOP.0, DEVELOP.1, None);
    let err = fails(
        &develop,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            S3_ROLE,
            "--role-session-name",
            "long",
            "--duration-seconds",
            "7200",
        ],
    );
    assert!(
        err.contains("ValidationError")
            && err.contains(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            ),
        "{err}"
    );
    let err = fails(
        &develop,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            S3_ROLE,
            "--role-session-name",
            "long",
            "--duration-seconds",
            "50000",
        ],
    );
    assert!(
        err.contains("Member must have value less than or equal to 43200"),
        "{err}"
    );
    let err = fails(
        &develop,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            S3_ROLE,
            "--role-session-name",
            "bad name!",
        ],
    );
    assert!(
        err.contains("ValidationError") && err.contains("roleSessionName"),
        "{err}"
    );
}

#[test]
fn session_policy_narrows_and_malformed_ones_are_refused() {
    let gw = Gateway::demo();
    let develop = gw.aws(DEVELOP.0, DEVELOP.1, None);
    let policy = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}}"#;
    let assumed = json(&develop.ok(&[
        "sts",
        "assume-role",
        "--role-arn",
        S3_ROLE,
        "--role-session-name",
        "narrow",
        "--policy",
        policy,
    ]));
    assert!(assumed["PackedPolicySize"].as_i64().unwrap() > 0);
    let err = fails(
        &develop,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            S3_ROLE,
            "--role-session-name",
            "bad",
            "--policy",
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*"}}"#,
        ],
    );
    assert!(
        err.contains("MalformedPolicyDocument")
            && err.contains("Resource or NotResource is missing"),
        "{err}"
    );
}

#[test]
fn mfa_is_required_by_the_trust_and_codes_are_single_use() {
    let gw = Gateway::demo();
    let no_skill = gw.aws(NO_SKILL.0, NO_SKILL.1, None);
    let err = fails(
        &no_skill,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            S3_ROLE,
            "--role-session-name",
            "nomfa",
        ],
    );
    assert!(err.contains("AccessDenied"), "{err}");
    let code = support::mfa_code(&gw);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let err = fails(
        &no_skill,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            S3_ROLE,
            "--role-session-name",
            "mm",
            "--serial-number",
            NO_SKILL_MFA,
            "--token-code",
            wrong,
        ],
    );
    assert!(
        err.contains("MultiFactorAuthentication failed with invalid MFA one time pass code."),
        "{err}"
    );
    let ok = json(&no_skill.ok(&[
        "sts",
        "assume-role",
        "--role-arn",
        S3_ROLE,
        "--role-session-name",
        "withmfa",
        "--serial-number",
        NO_SKILL_MFA,
        "--token-code",
        &code,
    ]));
    assert_eq!(
        ok["AssumedRoleUser"]["Arn"],
        "arn:aws:sts::111122223333:assumed-role/s3_role/withmfa"
    );
    let err = fails(
        &no_skill,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            S3_ROLE,
            "--role-session-name",
            "again",
            "--serial-number",
            NO_SKILL_MFA,
            "--token-code",
            &code,
        ],
    );
    assert!(
        err.contains("MultiFactorAuthentication failed"),
        "a reused code must fail: {err}"
    );
    // Someone else's device.
    let develop = gw.aws(DEVELOP.0, DEVELOP.1, None);
    let err = fails(
        &develop,
        &[
            "sts",
            "get-session-token",
            "--serial-number",
            NO_SKILL_MFA,
            "--token-code",
            &code,
        ],
    );
    assert!(
        err.contains(
            "Please verify your MFA serial number is valid and associated with this user."
        ),
        "{err}"
    );
}

#[test]
fn get_session_token_with_and_without_mfa() {
    let gw = Gateway::demo();
    let no_skill = gw.aws(NO_SKILL.0, NO_SKILL.1, None);
    let plain = json(&no_skill.ok(&["sts", "get-session-token", "--duration-seconds", "900"]));
    let (akid, secret, token) = credentials(&plain);
    let who = json(
        &gw.aws(&akid, &secret, Some(&token))
            .ok(&["sts", "get-caller-identity"]),
    );
    assert_eq!(
        who["Arn"], "arn:aws:iam::111122223333:user/no_skill",
        "GetSessionToken sessions keep the user ARN"
    );
    // Without MFA the session cannot assume the MFA-protected role.
    let err = fails(
        &gw.aws(&akid, &secret, Some(&token)),
        &[
            "sts",
            "assume-role",
            "--role-arn",
            S3_ROLE,
            "--role-session-name",
            "xx",
        ],
    );
    assert!(err.contains("AccessDenied"), "{err}");

    let code = support::mfa_code(&gw);
    let with_mfa = json(&no_skill.ok(&[
        "sts",
        "get-session-token",
        "--serial-number",
        NO_SKILL_MFA,
        "--token-code",
        &code,
    ]));
    let (akid, secret, token) = credentials(&with_mfa);
    let session = gw.aws(&akid, &secret, Some(&token));
    // MFA carries into the role session: the trust's MFA condition is met without a new code.
    let chained = json(&session.ok(&[
        "sts",
        "assume-role",
        "--role-arn",
        S3_ROLE,
        "--role-session-name",
        "mfa-chain",
    ]));
    assert_eq!(
        chained["AssumedRoleUser"]["Arn"],
        "arn:aws:sts::111122223333:assumed-role/s3_role/mfa-chain"
    );
    // Chained sessions are capped at one hour.
    let err = fails(
        &session,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            S3_ROLE,
            "--role-session-name",
            "long",
            "--duration-seconds",
            "3601",
        ],
    );
    assert!(err.contains("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."), "{err}");
    let err = fails(
        &no_skill,
        &["sts", "get-session-token", "--duration-seconds", "200000"],
    );
    assert!(err.contains("ValidationError"), "{err}");
}

fn state_for(gw: &Gateway) -> Arc<stsgate::server::State> {
    let loaded = stsgate::config::load(&gw.config_path).unwrap();
    Arc::new(stsgate::server::State::new(Arc::new(loaded.config)).unwrap())
}

#[test]
fn decode_authorization_message_round_trip() {
    let gw = Gateway::demo();
    let state = state_for(&gw);
    let message = serde_json::json!({"allowed": false, "explicitDeny": false, "matchedStatements": {"items": []}, "failures": {"items": []},
        "context": {"principal": {"id": "AROAEXAMPLE:s", "arn": "arn:aws:sts::111122223333:assumed-role/s3_role/s"}, "action": "s3:PutObject", "resource": "arn:aws:s3:::demo-bucket/k",
        "conditions": {"items": [{"key": "aws:SourceIp", "values": {"items": [{"value": "127.0.0.1"}]}}]}}});
    let blob = state
        .sts
        .seal_authorization_message("111122223333", message.clone());
    assert!(blob.len() <= 10_240);
    let auditor = gw.aws(AUDITOR.0, AUDITOR.1, None);
    let decoded = json(&auditor.ok(&[
        "sts",
        "decode-authorization-message",
        "--encoded-message",
        &blob,
    ]));
    let inner: Value = serde_json::from_str(decoded["DecodedMessage"].as_str().unwrap()).unwrap();
    assert_eq!(inner, message);
    // develop lacks sts:DecodeAuthorizationMessage.
    let err = fails(
        &gw.aws(DEVELOP.0, DEVELOP.1, None),
        &[
            "sts",
            "decode-authorization-message",
            "--encoded-message",
            &blob,
        ],
    );
    assert!(
        err.contains("AccessDenied") && err.contains("sts:DecodeAuthorizationMessage"),
        "{err}"
    );
    // Tampered, and another account's message.
    let mut tampered = blob.clone().into_bytes();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let err = fails(
        &auditor,
        &[
            "sts",
            "decode-authorization-message",
            "--encoded-message",
            &String::from_utf8(tampered).unwrap(),
        ],
    );
    assert!(
        err.contains("InvalidAuthorizationMessageException"),
        "{err}"
    );
    let foreign = state
        .sts
        .seal_authorization_message("444455556666", message);
    let err = fails(
        &auditor,
        &[
            "sts",
            "decode-authorization-message",
            "--encoded-message",
            &foreign,
        ],
    );
    assert!(
        err.contains("InvalidAuthorizationMessageException"),
        "{err}"
    );
}

#[test]
fn expired_and_tampered_tokens() {
    let gw = Gateway::demo();
    let state = state_for(&gw);
    let develop = gw.aws(DEVELOP.0, DEVELOP.1, None);
    let (akid, secret, token) = credentials(&json(&develop.ok(&[
        "sts",
        "assume-role",
        "--role-arn",
        S3_ROLE,
        "--role-session-name",
        "tt",
    ])));
    // Tampered token.
    let mut bad = token.clone().into_bytes();
    let i = bad.len() / 2;
    bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
    let err = fails(
        &gw.aws(&akid, &secret, Some(&String::from_utf8(bad).unwrap())),
        &["sts", "get-caller-identity"],
    );
    assert!(err.contains("InvalidClientTokenId"), "{err}");
    // A token for another key id.
    let err = fails(
        &gw.aws("ASIARTX3GSDS2UF5ZTTN", &secret, Some(&token)),
        &["sts", "get-caller-identity"],
    );
    assert!(err.contains("InvalidClientTokenId"), "{err}");
    // Missing token for a temporary key.
    let err = fails(
        &gw.aws(&akid, &secret, None),
        &["sts", "get-caller-identity"],
    );
    assert!(err.contains("InvalidClientTokenId"), "{err}");
    // Wrong secret.
    let err = fails(
        &gw.aws(&akid, "x".repeat(40).as_str(), Some(&token)),
        &["sts", "get-caller-identity"],
    );
    assert!(err.contains("SignatureDoesNotMatch"), "{err}");
    // Expired: a session sealed by the same keyring whose expiry has passed.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut claims: stsgate::sts::SessionClaims = serde_json::from_slice(
        &state
            .keyring
            .open(stsgate::sts::Purpose::SessionToken, &token)
            .unwrap(),
    )
    .unwrap();
    claims.issued_at = now - 1000;
    claims.expires_at = now - 10;
    let expired = state.keyring.seal(
        stsgate::sts::Purpose::SessionToken,
        &serde_json::to_vec(&claims).unwrap(),
    );
    let err = fails(
        &gw.aws(&akid, &secret, Some(&expired)),
        &["sts", "get-caller-identity"],
    );
    assert!(
        err.contains("ExpiredToken")
            && err.contains("The security token included in the request is expired"),
        "{err}"
    );
    // Unknown long-term key.
    let err = fails(
        &gw.aws("AKIARTX3GSDSAAAAAAAA", DEVELOP.1, None),
        &["sts", "get-caller-identity"],
    );
    assert!(err.contains("InvalidClientTokenId"), "{err}");
}

#[test]
fn boto3_assume_role_and_refresh_shapes() {
    if support::which("python3").is_none()
        || !Command::new("python3")
            .args(["-c", "import boto3"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    {
        support::unavailable("boto3", "python3 with boto3 is not installed");
        return;
    }
    let gw = Gateway::demo();
    let script = r#"
import json, sys, datetime, boto3, botocore
endpoint, akid, secret, role = sys.argv[1:5]
sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=akid, aws_secret_access_key=secret)
r = sts.assume_role(RoleArn=role, RoleSessionName="boto3-session", DurationSeconds=900)
c = r["Credentials"]
assert isinstance(c["Expiration"], datetime.datetime) and c["Expiration"].tzinfo is not None
s2 = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])
who = s2.get_caller_identity()
try:
    s2.get_session_token()
    code = None
except botocore.exceptions.ClientError as e:
    code = e.response["Error"]["Code"]
print(json.dumps({"arn": who["Arn"], "role_user": r["AssumedRoleUser"]["Arn"], "gst_error": code}))
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args([&gw.endpoint, DEVELOP.0, DEVELOP.1, S3_ROLE])
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        gw.log()
    );
    let v = json(String::from_utf8_lossy(&out.stdout).trim());
    assert_eq!(
        v["arn"],
        "arn:aws:sts::111122223333:assumed-role/s3_role/boto3-session"
    );
    assert_eq!(v["role_user"], v["arn"]);
    assert_eq!(v["gst_error"], "AccessDenied");
}
