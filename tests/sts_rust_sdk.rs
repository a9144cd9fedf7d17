//! The STS endpoint through aws-sdk-rust (`aws-sdk-sts`), the strictest parser of the three
//! clients: it requires the `…Result` element first, `Z` timestamps and well-formed ARNs.

mod support;

use aws_sdk_sts::config::{Credentials, Region};
use support::{AUDITOR, DEVELOP, Gateway, NO_SKILL, NO_SKILL_MFA, S3_ROLE};

async fn client(
    gw: &Gateway,
    key: &str,
    secret: &str,
    token: Option<String>,
) -> aws_sdk_sts::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&gw.endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(key, secret, token, None, "test"))
        .load()
        .await;
    aws_sdk_sts::Client::new(&config)
}

#[tokio::test]
async fn rust_sdk_assume_role_session_and_errors() {
    let gw = Gateway::demo();
    let develop = client(&gw, DEVELOP.0, DEVELOP.1, None).await;
    let me = develop.get_caller_identity().send().await.unwrap();
    assert_eq!(me.arn(), Some("arn:aws:iam::111122223333:user/develop"));

    let assumed = develop
        .assume_role()
        .role_arn(S3_ROLE)
        .role_session_name("rust-sdk")
        .duration_seconds(900)
        .send()
        .await
        .unwrap();
    let creds = assumed.credentials().unwrap();
    assert!(creds.access_key_id().starts_with("ASIA"));
    let user = assumed.assumed_role_user().unwrap();
    assert_eq!(
        user.arn(),
        "arn:aws:sts::111122223333:assumed-role/s3_role/rust-sdk"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let expires = creds.expiration().secs();
    assert!(
        (now + 880..=now + 920).contains(&expires),
        "expiration {expires} vs now {now}"
    );

    let session = client(
        &gw,
        creds.access_key_id(),
        creds.secret_access_key(),
        Some(creds.session_token().to_string()),
    )
    .await;
    let who = session.get_caller_identity().send().await.unwrap();
    assert_eq!(
        who.arn(),
        Some("arn:aws:sts::111122223333:assumed-role/s3_role/rust-sdk")
    );
    let info = session
        .get_access_key_info()
        .access_key_id(creds.access_key_id())
        .send()
        .await
        .unwrap();
    assert_eq!(info.account(), Some("111122223333"));
    let err = session
        .get_session_token()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        aws_sdk_sts::error::ProvideErrorMetadata::code(&err),
        Some("AccessDenied")
    );

    // Untrusted user: the exact AccessDenied message.
    let auditor = client(&gw, AUDITOR.0, AUDITOR.1, None).await;
    let err = auditor
        .assume_role()
        .role_arn(S3_ROLE)
        .role_session_name("nope")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        aws_sdk_sts::error::ProvideErrorMetadata::message(&err),
        Some(
            "User: arn:aws:iam::111122223333:user/auditor is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111122223333:role/s3_role"
        )
    );
    // Too long for the role.
    let err = develop
        .assume_role()
        .role_arn(S3_ROLE)
        .role_session_name("long")
        .duration_seconds(7200)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        aws_sdk_sts::error::ProvideErrorMetadata::code(&err),
        Some("ValidationError")
    );
}

#[tokio::test]
async fn rust_sdk_mfa_flows() {
    let gw = Gateway::demo();
    let no_skill = client(&gw, NO_SKILL.0, NO_SKILL.1, None).await;
    let code = support::mfa_code(&gw);
    let tokens = no_skill
        .get_session_token()
        .serial_number(NO_SKILL_MFA)
        .token_code(&code)
        .duration_seconds(900)
        .send()
        .await
        .unwrap();
    assert!(
        tokens
            .credentials()
            .unwrap()
            .access_key_id()
            .starts_with("ASIA")
    );
    // The same code again is refused.
    let err = no_skill
        .get_session_token()
        .serial_number(NO_SKILL_MFA)
        .token_code(&code)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        aws_sdk_sts::error::ProvideErrorMetadata::code(&err),
        Some("AccessDenied")
    );
}
