//! Each test breaks the shipped demo config in one way and checks that the problem is reported
//! with the right message at the right line.

use std::path::{Path, PathBuf};

use super::*;

fn demo_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/stsgate.toml")
}

fn demo() -> String {
    std::fs::read_to_string(demo_path()).unwrap()
}

/// Replaces exactly one occurrence of `from` in the demo config.
fn demo_with(from: &str, to: &str) -> String {
    let text = demo();
    assert_eq!(
        text.matches(from).count(),
        1,
        "the demo config should contain {from:?} once"
    );
    text.replacen(from, to, 1)
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{needle:?} not in text"))
}

fn errors(text: &str) -> Vec<Problem> {
    match load_str(&demo_path(), text) {
        Ok(_) => panic!("the broken config was accepted"),
        Err(problems) => problems
            .into_iter()
            .filter(|p| p.severity == Severity::Error)
            .collect(),
    }
}

/// Asserts that one error contains `message` and sits on `line`.
fn assert_error(text: &str, message: &str, line: usize) {
    let errs = errors(text);
    let found = errs.iter().find(|p| p.message.contains(message));
    let Some(found) = found else {
        panic!("no error containing {message:?} in {errs:#?}")
    };
    assert_eq!(
        found.position.map(|p| p.0),
        Some(line),
        "wrong line for {found}"
    );
}

#[test]
fn demo_config_is_valid_and_complete() {
    let loaded = load(&demo_path()).unwrap_or_else(|p| panic!("{p:#?}"));
    let c = &loaded.config;
    assert!(
        loaded
            .warnings
            .iter()
            .all(|w| w.severity == Severity::Warning)
    );
    let account = c.account("111122223333").unwrap();
    let names: Vec<_> = account.users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["develop", "no_skill", "auditor"]);
    let role = &account.roles[0];
    assert_eq!(role.arn, "arn:aws:iam::111122223333:role/s3_role");
    assert!(role.unique_id.starts_with("AROA") && role.unique_id.len() == 21);
    assert_eq!(
        account.policies[role.managed_policies[0]].name,
        "S3ReadOnly"
    );
    assert_eq!(
        account.users[1].mfa_devices[0].serial,
        "arn:aws:iam::111122223333:mfa/no_skill"
    );
    assert_eq!(c.backends[0].kind, BackendKind::S3);
    assert!(!c.keyring.ephemeral);
    // The demo is escalation-free: its only warning is dev mode itself.
    assert_eq!(loaded.warnings.len(), 1, "{:#?}", loaded.warnings);
    assert!(loaded.warnings[0].message.contains("dev_mode is on"));
}

#[test]
fn toml_syntax_error_is_located() {
    let text = demo_with("listen = \"127.0.0.1:7480\"", "listen = \"127.0.0.1:7480");
    assert_error(&text, "", line_of(&text, "listen = \"127.0.0.1:7480"));
}

#[test]
fn unknown_field_is_a_typo_error() {
    let text = demo_with("max_session_duration = 3600", "max_sesion_duration = 3600");
    let errs = errors(&text);
    assert!(
        errs[0]
            .message
            .contains("unknown field `max_sesion_duration`"),
        "{errs:#?}"
    );
    assert_eq!(
        errs[0].position.map(|p| p.0),
        Some(line_of(&text, "max_sesion_duration"))
    );
}

#[test]
fn account_id_must_have_12_digits() {
    let text = demo_with("id = \"111122223333\"", "id = \"11112222333\"");
    assert_error(
        &text,
        "account id \"11112222333\" must be exactly 12 digits",
        line_of(&text, "id = \"11112222333\""),
    );
}

#[test]
fn access_key_must_encode_its_account() {
    // A valid AKIA id, but for account 123456789012.
    let text = demo_with(
        "id = \"AKIARTX3GSDSSMDOBCNR\"",
        "id = \"AKIARZPUZDIKGB2VALC4\"",
    );
    assert_error(
        &text,
        "encodes account 123456789012, not 111122223333",
        line_of(&text, "AKIARZPUZDIKGB2VALC4"),
    );
    let text = demo_with("id = \"AKIARTX3GSDSSMDOBCNR\"", "id = \"develop-key\"");
    assert_error(
        &text,
        "is not a long-term AWS-format id",
        line_of(&text, "develop-key"),
    );
}

#[test]
fn duplicate_access_key_is_refused() {
    let text = demo_with(
        "id = \"AKIARTX3GSDSQ7NFB6A5\"",
        "id = \"AKIARTX3GSDSSMDOBCNR\"",
    );
    let second = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("AKIARTX3GSDSSMDOBCNR"))
        .nth(1)
        .unwrap()
        .0
        + 1;
    assert_error(&text, "is already used by 111122223333/develop", second);
}

#[test]
fn missing_env_secret_is_reported() {
    let text = demo_with(
        "secret = \"ciClNmvAIfJUv16yJRnLmT4T5yyXKCsZHNJb89vL\"",
        "secret = \"env:STSGATE_TEST_DEFINITELY_UNSET\"",
    );
    assert_error(
        &text,
        "environment variable STSGATE_TEST_DEFINITELY_UNSET is not set",
        line_of(&text, "STSGATE_TEST_DEFINITELY_UNSET"),
    );
}

#[test]
fn missing_policy_file_is_reported() {
    let text = demo_with("file:policies/s3-read-only.json", "file:policies/nope.json");
    assert_error(
        &text,
        "cannot read policy file",
        line_of(&text, "nope.json"),
    );
}

#[test]
fn invalid_policy_json_points_into_the_embedded_document() {
    // Drop the comma after the first statement of DevelopBase.
    let text = demo_with(
        "\"Resource\": \"*\"},\n    {\"Sid\": \"AssumeS3Role\"",
        "\"Resource\": \"*\"}\n    {\"Sid\": \"AssumeS3Role\"",
    );
    assert_error(
        &text,
        "MalformedPolicyDocument: This policy contains invalid Json: expected `,` or `]`",
        line_of(&text, "{\"Sid\": \"AssumeS3Role\""),
    );
}

#[test]
fn policy_grammar_errors_name_the_statement() {
    let text = demo_with(
        "{\"Sid\": \"DescribeInstances\", \"Effect\": \"Allow\"",
        "{\"Sid\": \"DescribeInstances\", \"Effect\": \"Permit\"",
    );
    let errs = errors(&text);
    assert!(
        errs.iter().any(|e| e.message.contains("Statement 1 (Sid \"DescribeInstances\"): Effect must be \"Allow\" or \"Deny\", not \"Permit\"")),
        "{errs:#?}"
    );
}

#[test]
fn condition_values_are_checked_too() {
    let text = demo_with(
        "\"Condition\": {\"Bool\": {\"aws:MultiFactorAuthPresent\": \"true\"}}",
        "\"Condition\": {\"Bool\": {\"aws:MultiFactorAuthPresent\": \"yes\"}}",
    );
    let errs = errors(&text);
    assert!(
        errs.iter().any(|e| e.message.contains("Statement 2 (Sid \"NoSkillWithMfa\"): Condition Bool aws:MultiFactorAuthPresent: \"yes\" is not true or false")),
        "{errs:#?}"
    );
}

#[test]
fn unknown_managed_policy_reference() {
    let text = demo_with(
        "managed_policies = [\"DevelopBase\"]",
        "managed_policies = [\"DevelopBas\"]",
    );
    assert_error(
        &text,
        "managed policy \"DevelopBas\" is not defined in account 111122223333",
        line_of(&text, "DevelopBas\"]"),
    );
}

#[test]
fn role_session_duration_range() {
    let text = demo_with(
        "max_session_duration = 3600",
        "max_session_duration = 86400",
    );
    assert_error(
        &text,
        "max_session_duration must be between 3600 and 43200 seconds, not 86400",
        line_of(&text, "86400"),
    );
}

#[test]
fn keyring_problems() {
    let text = demo_with("active = \"demo-2026-11\"", "active = \"demo-2026-12\"");
    assert_error(
        &text,
        "active key \"demo-2026-12\" is not one of the keyring's keys",
        line_of(&text, "demo-2026-12"),
    );
    let text = demo_with("PZbwhKH7hbyS/l/1zamdV6QA3fJtWN4HQPCE4HMUWpo=", "c2hvcnQ=");
    assert_error(
        &text,
        "keyring key must be 32 bytes (base64), this one has 5",
        line_of(&text, "c2hvcnQ="),
    );
}

#[test]
fn missing_keyring_outside_dev_mode_is_an_error() {
    let text = demo().replace("dev_mode = true", "dev_mode = false");
    let start = text.find("[keyring]").unwrap();
    let end = text.find("[[accounts]]").unwrap();
    let text = format!("{}{}", &text[..start], &text[end..]);
    let errs = errors(&text);
    assert!(
        errs.iter()
            .any(|e| e.message.contains("no [keyring] section")),
        "{errs:#?}"
    );
}

#[test]
fn mfa_seed_must_be_base32() {
    let text = demo_with("CIJYCW5LZJLZYII233IF6F5N7IIJRE6D", "not-base32-at-all!");
    assert_error(
        &text,
        "MFA seed must be base32",
        line_of(&text, "not-base32-at-all!"),
    );
}

#[test]
fn backend_problems() {
    let text = demo_with(
        "url = \"http://127.0.0.1:3900\"",
        "url = \"127.0.0.1:3900\"",
    );
    assert_error(
        &text,
        "must be an absolute http:// or https:// URL",
        line_of(&text, "url = \"127.0.0.1:3900\""),
    );
    let text = demo_with(
        "kind = \"s3\"\nurl = \"http://127.0.0.1:3900\"",
        "kind = \"s4\"\nurl = \"http://127.0.0.1:3900\"",
    );
    assert_error(
        &text,
        "kind must be \"s3\" or \"http\", not \"s4\"",
        line_of(&text, "kind = \"s4\""),
    );
    let text = demo_with("timeout_seconds = 60", "timeout_seconds = 0");
    assert_error(
        &text,
        "timeout_seconds must be between 1 and 3600, not 0",
        line_of(&text, "timeout_seconds = 0"),
    );
}

#[test]
fn listen_address_must_parse() {
    let text = demo_with("listen = \"127.0.0.1:7480\"", "listen = \"localhost\"");
    assert_error(
        &text,
        "\"localhost\" is not an address",
        line_of(&text, "listen = \"localhost\""),
    );
}

#[test]
fn trust_policy_naming_a_missing_user_is_invalid() {
    let text = demo_with("user/develop\"},", "user/develope\"},");
    let errs = errors(&text);
    assert!(
        errs.iter().any(|e| e.message.contains(
            "Invalid principal in policy: \"AWS\":\"arn:aws:iam::111122223333:user/develope\""
        )),
        "{errs:#?}"
    );
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let text = demo_with("max_session_duration = 3600", "max_session_duration = 60")
        .replace("id = \"111122223333\"", "id = \"1111\"")
        .replace("kind = \"s3\"", "kind = \"ftp\"");
    let errs = errors(&text);
    for needle in [
        "must be exactly 12 digits",
        "max_session_duration must be between",
        "kind must be",
    ] {
        assert!(
            errs.iter().any(|e| e.message.contains(needle)),
            "missing {needle:?} in {errs:#?}"
        );
    }
}

#[test]
fn escalation_pattern_is_warned_about() {
    let admin_role = r#"
[[accounts.policies]]
name = "Admin"
document = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}'

[[accounts.roles]]
name = "AdminRole"
managed_policies = ["Admin"]
trust_policy = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}}'
"#;
    let text = demo().replace(
        "\n# The S3 store behind the gateway.",
        &format!("{admin_role}\n# The S3 store behind the gateway."),
    );
    let loaded = load_str(&demo_path(), &text).unwrap_or_else(|p| panic!("{p:#?}"));
    let w = loaded
        .warnings
        .iter()
        .find(|w| w.message.contains("classic AssumeRole escalation"))
        .expect("no escalation warning");
    assert!(
        w.message.contains(
            "role \"AdminRole\" is trusted by the account root (\"arn:aws:iam::111122223333:root\")"
        ),
        "{w}"
    );
    assert_eq!(
        w.position.map(|p| p.0),
        Some(line_of(
            &text,
            "trust_policy = '{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::111122223333:root\""
        ))
    );
}

#[test]
fn wildcard_trust_and_inline_secrets_are_warned_about_outside_dev_mode() {
    let text = demo()
        .replace("dev_mode = true", "dev_mode = false")
        .replace(
            "\"Principal\": {\"AWS\": \"arn:aws:iam::111122223333:user/develop\"}",
            "\"Principal\": \"*\"",
        );
    let loaded = load_str(&demo_path(), &text).unwrap_or_else(|p| panic!("{p:#?}"));
    assert!(loaded.warnings.iter().any(|w| {
        w.message
            .contains("lets anyone (Principal \"*\") assume it")
    }));
    let inline = loaded
        .warnings
        .iter()
        .filter(|w| w.message.contains("written inline outside dev mode"))
        .count();
    // 3 user secrets, 1 MFA seed, 1 keyring key, 2 backend credentials.
    assert_eq!(inline, 7, "{:#?}", loaded.warnings);
}

#[test]
fn problems_print_as_file_line_column() {
    let text = demo_with("id = \"111122223333\"", "id = \"x\"");
    let e = errors(&text).into_iter().next().unwrap();
    let printed = e.to_string();
    assert!(
        printed.contains("stsgate.toml:")
            && printed.contains(": error in accounts[0]: account id \"x\""),
        "{printed}"
    );
}

#[test]
fn limits_have_defaults_ranges_and_located_errors() {
    let loaded = load(&demo_path()).unwrap_or_else(|p| panic!("{p:#?}"));
    assert_eq!(
        loaded.config.limits,
        Limits::default(),
        "no [limits]: the defaults"
    );
    let text = format!(
        "{}\n[limits]\nmax_connections = 64\nmfa_max_failures = 3\nmfa_lockout_seconds = 60\n",
        demo()
    );
    let limits = load_str(&demo_path(), &text).unwrap().config.limits;
    assert_eq!(
        (
            limits.max_connections,
            limits.mfa.max_failures,
            limits.mfa.lockout.as_secs()
        ),
        (64, 3, 60)
    );
    assert_eq!(limits.idle_timeout, Limits::default().idle_timeout);
    let text = format!(
        "{}\n[limits]\nmfa_max_failures = 0\nidle_timeout_seconds = 99999\n",
        demo()
    );
    assert_error(
        &text,
        "mfa_max_failures must be between 1 and 100, not 0",
        line_of(&text, "mfa_max_failures = 0"),
    );
    assert_error(
        &text,
        "idle_timeout_seconds must be between 1 and 3600",
        line_of(&text, "idle_timeout_seconds = 99999"),
    );
    let text = format!("{}\n[limits]\nmfa_max_failure = 3\n", demo());
    assert!(
        errors(&text)
            .iter()
            .any(|p| p.message.contains("unknown field")),
        "typos are caught"
    );
}

#[test]
fn demo_http_api_backend_has_its_defaults() {
    let loaded = load(&demo_path()).unwrap_or_else(|p| panic!("{p:#?}"));
    let api = loaded.config.backends[1]
        .api
        .as_ref()
        .expect("an http backend");
    assert_eq!(api.service, "execute-api");
    assert_eq!(
        (api.api_id.as_str(), api.stage.as_str()),
        ("demo", "$default")
    );
    assert_eq!(api.account, "111122223333", "the first account by default");
    assert_eq!(api.max_body_bytes, DEFAULT_API_MAX_BODY);
    assert_eq!(
        api.identity_headers
            .principal_arn
            .as_ref()
            .map(|h| h.as_str()),
        Some("x-stsgate-principal-arn")
    );
    assert!(loaded.config.backends[0].api.is_none());
}

#[test]
fn http_backend_settings_are_checked() {
    let text = demo_with(
        "path_prefix = \"/_api/demo\"",
        "path_prefix = \"/_api/../demo\"",
    );
    assert_error(
        &text,
        "path_prefix must start with '/' and be canonical",
        line_of(&text, "/_api/../demo"),
    );
    let text = demo_with("api_id = \"demo\"", "api_id = \"demo\"\nservice = \"s3\"");
    assert_error(
        &text,
        "service \"s3\" must be",
        line_of(&text, "service = \"s3\""),
    );
    let text = demo_with(
        "api_id = \"demo\"",
        "api_id = \"demo\"\nidentity_headers = { principal_arn = \"authorization\" }",
    );
    assert_error(
        &text,
        "is a header the gateway owns",
        line_of(&text, "identity_headers"),
    );
    let text = demo_with(
        "api_id = \"demo\"",
        "api_id = \"demo\"\nforward_headers = [\"x-amz-date\"]",
    );
    assert_error(
        &text,
        "is a header the gateway owns",
        line_of(&text, "forward_headers"),
    );
    let text = demo_with("api_id = \"demo\"", "api_id = \"demo/x\"");
    assert_error(&text, "api_id \"demo/x\" must be", line_of(&text, "api_id"));
}

#[test]
fn s3_backends_refuse_http_only_settings_and_paths() {
    let text = demo_with(
        "timeout_seconds = 60",
        "timeout_seconds = 60\npath_prefix = \"/x\"",
    );
    assert_error(
        &text,
        "path_prefix is a setting of http backends",
        line_of(&text, "name = \"local-garage\"") - 1,
    );
    let text = demo_with(
        "url = \"http://127.0.0.1:3900\"",
        "url = \"http://127.0.0.1:3900/base\"",
    );
    assert_error(
        &text,
        "an s3 backend's url has no path",
        line_of(&text, "3900/base"),
    );
}

#[test]
fn https_backend_files_are_checked_like_serve_uses_them() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("not-a-ca.pem");
    std::fs::write(&bad, "not a certificate\n").unwrap();
    let text = demo_with(
        "url = \"http://127.0.0.1:7490\"",
        &format!(
            "url = \"https://127.0.0.1:7490\"\nca_file = \"{}\"",
            bad.display()
        ),
    );
    assert_error(
        &text,
        "holds no certificate",
        line_of(&text, "ca_file = \""),
    );
    let text = demo_with(
        "url = \"http://127.0.0.1:7490\"",
        &format!(
            "url = \"http://127.0.0.1:7490\"\nca_file = \"{}\"",
            bad.display()
        ),
    );
    assert_error(
        &text,
        "apply to https:// backends only",
        line_of(&text, "url = \"http://127.0.0.1:7490\""),
    );
    let text = demo_with(
        "url = \"http://127.0.0.1:7490\"",
        &format!(
            "url = \"https://127.0.0.1:7490\"\nclient_cert = \"{}\"",
            bad.display()
        ),
    );
    assert!(
        errors(&text)
            .iter()
            .any(|p| p.message.contains("client_cert and client_key go together"))
    );
}

#[test]
fn a_backend_no_request_can_reach_is_a_warning() {
    let text = format!(
        "{}\n[[backends]]\nname = \"shadowed\"\nkind = \"http\"\nurl = \"http://127.0.0.1:7491\"\npath_prefix = \"/_api/demo\"\n",
        demo()
    );
    let loaded = load_str(&demo_path(), &text).unwrap_or_else(|p| panic!("{p:#?}"));
    let w = loaded
        .warnings
        .iter()
        .find(|w| w.message.contains("no request can reach this backend"))
        .expect("a warning");
    assert!(w.message.contains("\"demo-api\" comes first"), "{w}");
    assert_eq!(
        w.position.map(|p| p.0),
        Some(line_of(&text, "name = \"shadowed\"") - 1)
    );
}

#[test]
fn shared_state_takes_a_redis_url_and_keeps_its_password_out_of_it() {
    let loaded = load(&demo_path()).unwrap_or_else(|p| panic!("{p:#?}"));
    assert_eq!(loaded.config.redis, None, "no [shared_state]: in-process");
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("redis-password");
    std::fs::write(&secret, "hunter2\n").unwrap();
    let text = format!(
        "{}\n[shared_state]\nredis = \"redis://10.0.0.5:6380/2\"\npassword = \"file:{}\"\nkey_prefix = \"prod:\"\n",
        demo(),
        secret.display()
    );
    let redis = load_str(&demo_path(), &text).unwrap().config.redis.unwrap();
    assert_eq!(redis.url, "redis://10.0.0.5:6380/2");
    assert_eq!(redis.password.as_ref().map(|p| p.expose()), Some("hunter2"));
    assert_eq!(redis.key_prefix, "prod:");
    assert_eq!(redis.timeout, Duration::from_millis(500));
    assert!(!format!("{redis:?}").contains("hunter2"));

    let text = format!(
        "{}\n[shared_state]\nredis = \"redis://:hunter2@10.0.0.5:6379/0\"\n",
        demo()
    );
    assert_error(
        &text,
        "put the Redis password in `password",
        line_of(&text, "redis = \"redis://:hunter2"),
    );
    let text = format!(
        "{}\n[shared_state]\nredis = \"unix:///run/redis.sock\"\n",
        demo()
    );
    assert_error(
        &text,
        "only redis:// and rediss:// (TCP, TLS) are supported",
        line_of(&text, "redis = \"unix:"),
    );
    // TLS: a CA bundle only with rediss://, and one that holds a certificate.
    let text = format!(
        "{}\n[shared_state]\nredis = \"redis://10.0.0.5:6379\"\nca_file = \"policies/s3-read-only.json\"\n",
        demo()
    );
    assert_error(
        &text,
        "ca_file is for TLS: write the URL as rediss://",
        line_of(&text, "ca_file ="),
    );
    let text = format!(
        "{}\n[shared_state]\nredis = \"rediss://10.0.0.5:6379\"\nca_file = \"policies/s3-read-only.json\"\n",
        demo()
    );
    assert_error(
        &text,
        "holds no PEM certificate",
        line_of(&text, "ca_file ="),
    );
    let text = format!(
        "{}\n[shared_state]\nredis = \"rediss://10.0.0.5:6379/0\"\n",
        demo()
    );
    let loaded = load_str(&demo_path(), &text).unwrap_or_else(|p| panic!("{p:#?}"));
    assert!(loaded.config.redis.unwrap().url.starts_with("rediss://"));
    let text = format!("{}\n[shared_state]\nredis = \"10.0.0.5:6379\"\n", demo());
    assert_error(
        &text,
        "is not a Redis URL",
        line_of(&text, "redis = \"10.0"),
    );
    let text = format!("{}\n[shared_state]\nkey_prefix = \"x\"\n", demo());
    assert_error(
        &text,
        "[shared_state] needs `redis",
        text.lines().position(|l| l == "[shared_state]").unwrap() + 1,
    );
    let text = format!(
        "{}\n[shared_state]\nredis = \"redis://127.0.0.1:6379\"\ntimeout_ms = 5\n",
        demo()
    );
    assert_error(
        &text,
        "timeout_ms must be between 10 and 60000, not 5",
        line_of(&text, "timeout_ms = 5"),
    );
}

#[test]
fn bucket_owners_and_policies_are_checked_where_they_are_written() {
    let backend = "timeout_seconds = 60\n";
    let with = |buckets: &str| demo_with(backend, &format!("{backend}{buckets}"));
    let ok = with(
        "[[backends.buckets]]\nname = \"logs-*\"\npolicy = '{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::logs-*/*\"}}'\n",
    );
    let loaded = load_str(&demo_path(), &ok).unwrap_or_else(|p| panic!("{p:#?}"));
    let buckets = &loaded.config.backends[0].buckets;
    assert_eq!(buckets.default_account, "111122223333");
    let facts = buckets.lookup("logs-2026");
    assert!(facts.entry.is_some_and(|e| e.public && e.policy.is_some()));
    assert!(buckets.lookup("other").entry.is_none());
    assert!(
        loaded
            .warnings
            .iter()
            .any(|p| p.message.contains("bucket logs-* is public")),
        "{:#?}",
        loaded.warnings
    );

    let text = with("[[backends.buckets]]\nname = \"b\"\naccount = \"999999999999\"\n");
    assert_error(
        &text,
        "account 999999999999 is not one of the configured [[accounts]]",
        line_of(&text, "account = \"999999999999\""),
    );
    let text = with("[[backends.buckets]]\nname = \"Bad_Name\"\n");
    assert_error(
        &text,
        "a bucket name (or pattern) is 1 to 63 of a-z",
        line_of(&text, "Bad_Name"),
    );
    // manage_policy writes a file: an inline policy or a pattern cannot be managed, and the
    // file may be missing (no policy yet).
    let text = with("[[backends.buckets]]\nname = \"b\"\npolicy = '{}'\nmanage_policy = true\n");
    assert_error(
        &text,
        "manage_policy needs policy = \"file:PATH\"",
        line_of(&text, "policy = '{}'"),
    );
    let text = with(
        "[[backends.buckets]]\nname = \"b-*\"\npolicy = \"file:policies/none.json\"\nmanage_policy = true\n",
    );
    assert_error(
        &text,
        "manage_policy applies to one bucket, not a pattern",
        line_of(&text, "name = \"b-*\""),
    );
    let text = with(
        "[[backends.buckets]]\nname = \"bucket\"\npolicy = \"file:policies/not-yet.json\"\nmanage_policy = true\n",
    );
    let loaded = load_str(&demo_path(), &text).unwrap_or_else(|p| panic!("{p:#?}"));
    let entry = loaded.config.backends[0]
        .buckets
        .lookup("bucket")
        .entry
        .unwrap();
    assert!(entry.policy.is_none() && entry.managed_file.is_some());
    // A bucket policy needs a Principal (it is a resource-based policy).
    let text = with(
        "[[backends.buckets]]\nname = \"b\"\npolicy = '{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\"}}'\n",
    );
    let errs = errors(&text);
    assert!(
        errs.iter()
            .any(|p| p.message.to_lowercase().contains("principal")),
        "{errs:#?}"
    );
}

#[test]
fn cors_rules_are_checked_where_they_are_written() {
    let backend = "timeout_seconds = 60\n";
    let with = |buckets: &str| demo_with(backend, &format!("{backend}{buckets}"));
    let ok = with(
        "[[backends.buckets]]\nname = \"site\"\ncors = '{\"CORSRules\":[{\"AllowedOrigins\":[\"https://*.example.com\"],\"AllowedMethods\":[\"GET\"]}]}'\n",
    );
    let loaded = load_str(&demo_path(), &ok).unwrap_or_else(|p| panic!("{p:#?}"));
    let entry = loaded.config.backends[0]
        .buckets
        .lookup("site")
        .entry
        .unwrap();
    assert_eq!(entry.cors.as_ref().unwrap().rules.len(), 1);
    // A method S3 refuses, at the line of the rules.
    let text = with(
        "[[backends.buckets]]\nname = \"site\"\ncors = '<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>'\n",
    );
    assert_error(
        &text,
        "Unsupported method is PATCH",
        line_of(&text, "cors = '<CORSConfiguration>"),
    );
    // manage_cors writes a file: inline rules or a pattern cannot be managed; the file may be
    // missing (no rules yet).
    let text = with("[[backends.buckets]]\nname = \"b\"\ncors = '{}'\nmanage_cors = true\n");
    assert_error(
        &text,
        "manage_cors needs cors = \"file:PATH\"",
        line_of(&text, "cors = '{}'"),
    );
    let text = with(
        "[[backends.buckets]]\nname = \"b-*\"\ncors = \"file:cors/none.xml\"\nmanage_cors = true\n",
    );
    assert_error(
        &text,
        "manage_cors applies to one bucket, not a pattern",
        line_of(&text, "name = \"b-*\""),
    );
    let text = with(
        "[[backends.buckets]]\nname = \"b\"\ncors = \"file:cors/not-yet.xml\"\nmanage_cors = true\n",
    );
    let loaded = load_str(&demo_path(), &text).unwrap_or_else(|p| panic!("{p:#?}"));
    let entry = loaded.config.backends[0].buckets.lookup("b").entry.unwrap();
    assert!(entry.cors.is_none() && entry.managed_cors_file.is_some());
    // An unmanaged file that is missing is an error, like a policy file.
    let text = with("[[backends.buckets]]\nname = \"b\"\ncors = \"file:cors/missing.xml\"\n");
    assert_error(
        &text,
        "cannot read CORS file",
        line_of(&text, "cors = \"file:"),
    );
    // An s3 backend's rules are per bucket.
    let text = demo_with(backend, &format!("{backend}cors = '{{}}'\n"));
    assert!(
        errors(&text).iter().any(|p| p
            .message
            .contains("cors (buckets take theirs in [[backends.buckets]])")),
        "{:#?}",
        errors(&text)
    );
}

#[test]
fn rate_limits_are_checked_where_they_are_written() {
    let text = format!(
        "{}\n[[rate_limits]]\nby = \"principal\"\nrequests = [\"s3\"]\nrate = 5\n[[rate_limits]]\nname = \"uploads\"\nby = \"bucket\"\nmatch = \"up-*\"\nrate = 0.5\nburst = 10\nmax_keys = 50\n",
        demo()
    );
    let loaded = load_str(&demo_path(), &text).unwrap_or_else(|p| panic!("{p:#?}"));
    let rules = &loaded.config.rate_limits;
    assert_eq!(rules.len(), 2);
    assert_eq!(
        (rules[0].name.as_str(), rules[0].rate, rules[0].burst),
        ("principal-0", 5.0, 5.0)
    );
    assert_eq!(rules[0].requests, vec![RequestKind::S3]);
    assert_eq!((rules[1].burst, rules[1].max_keys), (10.0, 50));
    for (bad, message) in [
        (
            "by = \"user\"\nrate = 1",
            "by = \"user\": one of access_key",
        ),
        (
            "by = \"principal\"\nrequests = [\"iam\"]\nrate = 1",
            "requests: \"iam\" is not one of",
        ),
        ("by = \"principal\"\nrate = 0", "rate is tokens a second"),
        (
            "by = \"principal\"\nrate = 1\nburst = 0.5",
            "burst is the bucket's size",
        ),
        (
            "by = \"principal\"\nmatch = \"x\"\nrate = 1",
            "match names buckets or routes",
        ),
        (
            "by = \"principal\"\nrate = 1\nmax_keys = 0",
            "max_keys is from 1",
        ),
    ] {
        let text = format!("{}\n[[rate_limits]]\n{bad}\n", demo());
        let errs = errors(&text);
        assert!(
            errs.iter().any(|p| p.message.contains(message)),
            "{message}: {errs:#?}"
        );
    }
    let twice = format!(
        "{}\n[[rate_limits]]\nname = \"a\"\nby = \"principal\"\nrate = 1\n[[rate_limits]]\nname = \"a\"\nby = \"source_ip\"\nrate = 1\n",
        demo()
    );
    assert!(
        errors(&twice)
            .iter()
            .any(|p| p.message.contains("two rate limits are named a"))
    );
}

#[test]
fn workers_default_to_the_shared_runtime_and_are_bounded() {
    assert_eq!(load(&demo_path()).unwrap().config.server.workers, 0);
    for (value, want) in [("0", 0), ("3", 3)] {
        let text = demo_with(
            "dev_mode = true",
            &format!("dev_mode = true\nworkers = {value}"),
        );
        let loaded = load_str(&demo_path(), &text).unwrap_or_else(|p| panic!("{p:#?}"));
        assert_eq!(loaded.config.server.workers, want);
    }
    let text = demo_with("dev_mode = true", "dev_mode = true\nworkers = 5000");
    assert_error(
        &text,
        "workers must be between 0 and 1024, not 5000",
        line_of(&text, "workers = 5000"),
    );
}

/// The demo config with an OIDC provider block (its lines as given) added to its account.
fn with_provider(lines: &str) -> String {
    demo_with(
        "[[backends]]\nname = \"local-garage\"",
        &format!("[[accounts.oidc_providers]]\n{lines}\n\n[[backends]]\nname = \"local-garage\""),
    )
}

#[test]
fn oidc_providers_are_checked_as_iam_checks_them() {
    let good = "url = \"https://issuer.example/realms/prod\"\naudiences = [\"stsgate\"]";
    let loaded = load_str(&demo_path(), &with_provider(good)).expect("a valid provider");
    let p = &loaded.config.accounts[0].oidc_providers[0];
    assert_eq!(
        p.arn,
        "arn:aws:iam::111122223333:oidc-provider/issuer.example/realms/prod"
    );
    assert_eq!(p.key, "issuer.example/realms/prod");
    assert_eq!(p.algorithms, WEB_IDENTITY_ALGORITHMS.map(String::from));

    for (lines, message, on) in [
        (
            "url = \"http://issuer.example\"\naudiences = [\"a\"]",
            "must be the issuer exactly as tokens carry it",
            "url = \"http://issuer.example\"",
        ),
        (
            "url = \"https://issuer.example/\"\naudiences = [\"a\"]",
            "without a trailing slash",
            "url = \"https://issuer.example/\"",
        ),
        (
            "url = \"https://issuer.example\"\naudiences = []",
            "audiences must list 1 to 100 client ids",
            "audiences = []",
        ),
        (
            "url = \"https://issuer.example\"\naudiences = [\"a\"]\nalgorithms = [\"RS256\", \"HS256\"]",
            "never none, HS*, PS* or EdDSA",
            "algorithms = [",
        ),
        (
            "url = \"https://issuer.example\"\naudiences = [\"a\"]\nthumbprints = [\"abc\"]",
            "40 hexadecimal characters",
            "thumbprints = [",
        ),
        (
            "url = \"https://issuer.example\"\naudiences = [\"a\"]\njwks_file = \"policies/s3-read-only.json\"",
            "the JWKS has no \"keys\" array",
            "jwks_file = ",
        ),
        (
            "url = \"https://issuer.example\"\naudiences = [\"a\"]\nclock_skew_seconds = 3600",
            "clock_skew_seconds must be between 0 and 600",
            "clock_skew_seconds = 3600",
        ),
    ] {
        let text = with_provider(lines);
        assert_error(&text, message, line_of(&text, on));
    }
    let twice = with_provider(&format!("{good}\n\n[[accounts.oidc_providers]]\n{good}"));
    let errs = errors(&twice);
    assert!(
        errs.iter().any(|p| p.message.contains("is defined twice")),
        "{errs:#?}"
    );
}

#[test]
fn a_jwks_file_must_hold_a_signing_key_the_gateway_can_use() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/policies/s3-read-only.json"),
        policies.join("s3-read-only.json"),
    )
    .unwrap();
    // A symmetric key only: HS256 must never find a key.
    std::fs::write(
        dir.path().join("oct.json"),
        r#"{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h","alg":"HS256"}]}"#,
    )
    .unwrap();
    let text = with_provider(
        "url = \"https://k8s.example\"\naudiences = [\"sts.amazonaws.com\"]\njwks_file = \"oct.json\"",
    );
    let path = dir.path().join("stsgate.toml");
    match load_str(&path, &text) {
        Ok(_) => panic!("a JWKS of one HMAC key was accepted"),
        Err(problems) => assert!(
            problems
                .iter()
                .any(|p| p.message.contains("none of the JWKS's 1 keys")),
            "{problems:#?}"
        ),
    }
}

#[test]
fn pod_identity_associations_must_name_a_role_its_provider_and_audience() {
    let provider =
        "url = \"https://oidc.cluster.example\"\naudiences = [\"pods.eks.amazonaws.com\"]";
    let with = |association: &str| {
        format!(
            "{}\n[pod_identity]\ncluster_name = \"prod\"\n\n[[pod_identity.associations]]\n{association}\n",
            with_provider(provider)
        )
    };
    let good = "provider = \"https://oidc.cluster.example\"\nsubject = \"system:serviceaccount:team-*:app\"\nrole_arn = \"arn:aws:iam::111122223333:role/s3_role\"";
    let loaded = load_str(&demo_path(), &with(good)).expect("a valid association");
    let pod = loaded.config.pod_identity.unwrap();
    assert_eq!(
        pod.cluster_arn,
        "arn:aws:eks:us-east-1:111122223333:cluster/prod"
    );
    assert_eq!(pod.associations[0].audience, "pods.eks.amazonaws.com");
    assert!(
        pod.associations[0]
            .subject_pattern
            .matches("system:serviceaccount:team-a:app")
    );
    for (association, message) in [
        (
            good.replace("role/s3_role", "role/nope"),
            "is not a role of account 111122223333",
        ),
        (
            good.replace("https://oidc.cluster.example", "https://other.example"),
            "is not an OIDC provider of account 111122223333",
        ),
        (
            format!("{good}\naudience = \"sts.amazonaws.com\""),
            "is not among the audiences of provider",
        ),
        (
            format!("{good}\nduration_seconds = 7200"),
            "between 900 and the role's max_session_duration (3600)",
        ),
    ] {
        let errs = errors(&with(&association));
        assert!(
            errs.iter().any(|p| p.message.contains(message)),
            "{message}: {errs:#?}"
        );
    }
}

#[test]
fn a_trust_policy_can_only_federate_with_a_configured_provider() {
    let trust = |principal: &str| {
        demo_with(
            "[[backends]]\nname = \"local-garage\"",
            &format!(
                "[[accounts.roles]]\nname = \"web\"\ntrust_policy = '{{\"Version\":\"2012-10-17\",\"Statement\":{{\"Effect\":\"Allow\",\"Principal\":{{\"Federated\":\"{principal}\"}},\"Action\":\"sts:AssumeRoleWithWebIdentity\"}}}}'\n\n[[accounts.oidc_providers]]\nurl = \"https://issuer.example\"\naudiences = [\"a\"]\n\n[[backends]]\nname = \"local-garage\""
            ),
        )
    };
    load_str(
        &demo_path(),
        &trust("arn:aws:iam::111122223333:oidc-provider/issuer.example"),
    )
    .expect("the configured provider");
    for principal in [
        "arn:aws:iam::111122223333:oidc-provider/other.example",
        "accounts.google.com",
        "arn:aws:iam::111122223333:saml-provider/corp",
    ] {
        let errs = errors(&trust(principal));
        assert!(
            errs.iter().any(|p| p
                .message
                .contains("Invalid principal in policy: \"Federated\"")),
            "{principal}: {errs:#?}"
        );
    }
}
