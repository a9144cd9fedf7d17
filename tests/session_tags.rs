//! Session tags (AssumeRole `Tags`, `TransitiveTagKeys`) through aws-cli and boto3: the trust
//! policy must allow `sts:TagSession` (with conditions on `aws:RequestTag` / `aws:TagKeys`), the
//! tags become `aws:PrincipalTag/*` of the session (over the role's own tags) and decide S3
//! access through a policy variable, transitive tags survive role chaining and cannot be set
//! again, and the AWS validation errors come back as AWS words them.

mod support;

use std::process::Command;

use serde_json::Value;
use support::recorder::Recorder;
use support::{AwsCli, Creds, DEVELOP, Gateway, config_with_backend, fails};

const TAG_ROLE: &str = "arn:aws:iam::111122223333:role/tag_role";
const PLAIN_ROLE: &str = "arn:aws:iam::111122223333:role/plain_role";
const CHAIN_ROLE: &str = "arn:aws:iam::111122223333:role/chain_role";

/// `tag_role`: develop may assume it and tag the session with `team` and `project` only; its
/// sessions may write `tagged/<their team>/*`; the role's own tag says team=default.
/// `plain_role`: no `sts:TagSession`. `chain_role`: assumable (and taggable) by tag_role
/// sessions, same S3 rule.
const ROLES: &str = r#"
[[accounts.roles]]
name = "tag_role"
tags = { team = "default" }
trust_policy = '''
{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/develop"},"Action":"sts:AssumeRole"},
 {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/develop"},"Action":"sts:TagSession",
  "Condition":{"ForAllValues:StringEqualsIgnoreCase":{"aws:TagKeys":["team","project"]},"StringLike":{"aws:RequestTag/team":"*"}}}
]}'''
inline_policies = [{ name = "TeamPrefix", document = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:PutObject","s3:GetObject"],"Resource":"arn:aws:s3:::tagged/${aws:PrincipalTag/team}/*"}}' }]

[[accounts.roles]]
name = "plain_role"
trust_policy = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/develop"},"Action":"sts:AssumeRole"}}'

[[accounts.roles]]
name = "chain_role"
trust_policy = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/tag_role"},"Action":["sts:AssumeRole","sts:TagSession"]}}'
inline_policies = [{ name = "TeamPrefix", document = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:PutObject","s3:GetObject"],"Resource":"arn:aws:s3:::tagged/${aws:PrincipalTag/team}/*"}}' }]
"#;

fn creds_of(out: &str) -> Creds {
    let v: Value = serde_json::from_str(out).unwrap();
    let c = &v["Credentials"];
    Creds {
        key_id: c["AccessKeyId"].as_str().unwrap().into(),
        secret: c["SecretAccessKey"].as_str().unwrap().into(),
        token: Some(c["SessionToken"].as_str().unwrap().into()),
    }
}

fn assume(cli: &AwsCli, role: &str, extra: &[&str]) -> Result<Creds, String> {
    let mut args = vec![
        "sts",
        "assume-role",
        "--role-arn",
        role,
        "--role-session-name",
        "tags",
    ];
    args.extend_from_slice(extra);
    let out = cli.run(&args);
    if out.status.success() {
        Ok(creds_of(&String::from_utf8_lossy(&out.stdout)))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The error of an AssumeRole that must be refused.
fn refused(cli: &AwsCli, role: &str, extra: &[&str]) -> String {
    match assume(cli, role, extra) {
        Ok(_) => panic!("AssumeRole {role} {extra:?} was allowed"),
        Err(e) => e,
    }
}

fn put(gw: &Gateway, creds: &Creds, key: &str) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, b"tagged").unwrap();
    creds
        .aws(gw)
        .run(&[
            "s3",
            "cp",
            file.to_str().unwrap(),
            &format!("s3://tagged/{key}"),
        ])
        .status
        .success()
}

#[test]
fn session_tags_follow_aws_rules_with_aws_cli() {
    let recorder = Recorder::start();
    let gw = Gateway::start(&config_with_backend(&recorder.backend_toml(), ROLES));
    let develop = gw.aws(DEVELOP.0, DEVELOP.1, None);

    // Without tags, the role's own tag decides: team=default.
    let plain = assume(&develop, TAG_ROLE, &[]).unwrap();
    assert!(put(&gw, &plain, "default/a"));
    assert!(!put(&gw, &plain, "billing/a"));

    // A session tag overrides the role tag of the same key (ignoring case).
    let billing = assume(
        &develop,
        TAG_ROLE,
        &["--tags", "Key=TEAM,Value=billing", "Key=project,Value=q3"],
    )
    .unwrap();
    assert!(put(&gw, &billing, "billing/a"));
    assert!(
        !put(&gw, &billing, "default/a"),
        "the role's team tag was replaced"
    );

    // The trust policy's conditions on aws:TagKeys and aws:RequestTag apply to sts:TagSession.
    let err = refused(
        &develop,
        TAG_ROLE,
        &["--tags", "Key=team,Value=x", "Key=admin,Value=1"],
    );
    assert!(
        err.contains("AccessDenied") && err.contains("sts:TagSession"),
        "{err}"
    );
    let err = refused(&develop, PLAIN_ROLE, &["--tags", "Key=team,Value=x"]);
    assert!(err.contains("AccessDenied") && err.contains("is not authorized to perform: sts:TagSession on resource: arn:aws:iam::111122223333:role/plain_role"), "{err}");
    assert!(
        assume(&develop, PLAIN_ROLE, &[]).is_ok(),
        "without tags TagSession is not needed"
    );

    // AWS's validation errors.
    let err = refused(
        &develop,
        TAG_ROLE,
        &["--tags", "Key=team,Value=a", "Key=Team,Value=b"],
    );
    assert!(
        err.contains("InvalidParameterValue")
            && err.contains(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive."
            ),
        "{err}"
    );
    let err = refused(
        &develop,
        TAG_ROLE,
        &[
            "--tags",
            "Key=team,Value=a",
            "--transitive-tag-keys",
            "project",
        ],
    );
    assert!(
        err.contains("InvalidParameterValue")
            && err.contains(
                "The specified transitive tag key must be included in the requested tags."
            ),
        "{err}"
    );
    let err = refused(&develop, TAG_ROLE, &["--tags", "Key=aws:team,Value=a"]);
    assert!(err.contains("InvalidParameterValue"), "{err}");
    let many: Vec<String> = (0..51).map(|i| format!("Key=k{i},Value=v")).collect();
    let mut args = vec!["--tags"];
    args.extend(many.iter().map(String::as_str));
    let err = refused(&develop, TAG_ROLE, &args);
    assert!(err.contains("ValidationError"), "{err}");

    // Transitive tags survive role chaining and cannot be set again.
    let first = assume(
        &develop,
        TAG_ROLE,
        &[
            "--tags",
            "Key=team,Value=payments",
            "--transitive-tag-keys",
            "team",
        ],
    )
    .unwrap();
    let chained = assume(&first.aws(&gw), CHAIN_ROLE, &[]).unwrap();
    assert!(
        put(&gw, &chained, "payments/b"),
        "the chained session carries team=payments"
    );
    assert!(!put(&gw, &chained, "billing/b"));
    let err = refused(
        &first.aws(&gw),
        CHAIN_ROLE,
        &["--tags", "Key=Team,Value=billing"],
    );
    assert!(
        err.contains("InvalidParameterValue")
            && err.contains("conflicts with a transitive tag key from the calling session"),
        "{err}"
    );
    // A non-transitive tag does not pass on: the chained session has no team at all.
    let untransitive = assume(&develop, TAG_ROLE, &["--tags", "Key=team,Value=payments"]).unwrap();
    let chained = assume(&untransitive.aws(&gw), CHAIN_ROLE, &[]).unwrap();
    assert!(!put(&gw, &chained, "payments/c"));
    assert!(fails(&chained.aws(&gw), &["s3", "ls", "s3://tagged/"]).contains("AccessDenied"));
}

#[test]
fn boto3_passes_tags_and_transitive_keys() {
    if Command::new("python3")
        .args(["-c", "import boto3"])
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        support::unavailable("boto3", "python3 with boto3 is not installed");
        return;
    }
    let recorder = Recorder::start();
    let gw = Gateway::start(&config_with_backend(&recorder.backend_toml(), ROLES));
    let script = format!(
        r#"
import boto3, botocore
sts = boto3.client("sts", endpoint_url="{endpoint}", region_name="us-east-1",
                   aws_access_key_id="{akid}", aws_secret_access_key="{secret}")
r = sts.assume_role(RoleArn="{role}", RoleSessionName="boto",
                    Tags=[{{"Key": "team", "Value": "billing"}}], TransitiveTagKeys=["team"])
c = r["Credentials"]
s3 = boto3.client("s3", endpoint_url="{endpoint}", region_name="us-east-1",
                  aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                  aws_session_token=c["SessionToken"])
s3.put_object(Bucket="tagged", Key="billing/boto", Body=b"x")
try:
    s3.put_object(Bucket="tagged", Key="default/boto", Body=b"x")
    print("UNEXPECTED")
except botocore.exceptions.ClientError as e:
    print(e.response["Error"]["Code"])
try:
    sts.assume_role(RoleArn="{role}", RoleSessionName="boto",
                    Tags=[{{"Key": "team", "Value": "a"}}, {{"Key": "TEAM", "Value": "b"}}])
    print("UNEXPECTED")
except botocore.exceptions.ClientError as e:
    print(e.response["Error"]["Code"])
"#,
        endpoint = gw.endpoint,
        akid = DEVELOP.0,
        secret = DEVELOP.1,
        role = TAG_ROLE
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        ["AccessDenied", "InvalidParameterValue"]
    );
}
