//! Federation with a real identity provider: Keycloak 26 (`scripts/keycloak.sh`), over https
//! with a test CA. A person's ID token and a service's access token become credentials through
//! the gateway's AssumeRoleWithWebIdentity, and those reach a real S3 backend (s3s-fs) and an
//! HTTP API with the role's policies; a new realm key is picked up without a restart.

mod support;

use std::process::Command;

use support::api_backend::ApiBackend;
use support::keycloak::{Keycloak, kid};
use support::{Backend, Creds, Gateway};

const PEOPLE_ROLE: &str = "arn:aws:iam::111122223333:role/kc_people";
const CI_ROLE: &str = "arn:aws:iam::111122223333:role/kc_ci";

fn config(kc: &Keycloak, backend: &Backend, api: &ApiBackend) -> String {
    let issuer = kc.issuer();
    let key = issuer.trim_start_matches("https://");
    let provider = format!("arn:aws:iam::111122223333:oidc-provider/{key}");
    let bucket = &backend.bucket;
    let extra = format!(
        r#"
[[accounts.oidc_providers]]
url = "{issuer}"
audiences = ["stsgate-cli", "stsgate"]
ca_file = "{ca}"
refetch_interval_seconds = 1

# People signed in through Keycloak: their own prefix, and GET on the team API.
[[accounts.roles]]
name = "kc_people"
trust_policy = '''{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"Federated":"{provider}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"{key}:aud":"stsgate-cli"}}}}}}}}'''
inline_policies = [{{ name = "People", document = '''
{{"Version":"2012-10-17","Statement":[
 {{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::{bucket}/people/*"}},
 {{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:*:*:team/$default/GET/*"}}
]}}''' }}]

# A service with a client secret in Keycloak: read-only.
[[accounts.roles]]
name = "kc_ci"
managed_policies = ["S3ReadOnly"]
trust_policy = '''{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"Federated":"{provider}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"{key}:aud":"stsgate"}}}}}}}}'''
"#,
        ca = kc.ca.display()
    );
    let backends = format!(
        "{}\n\n[[backends]]\nname = \"team-api\"\nkind = \"http\"\nurl = \"{}\"\npath_prefix = \"/team\"\napi_id = \"team\"\n",
        backend.toml(),
        api.url
    );
    support::config_with_backend(&backends, &extra)
}

/// Credentials from the gateway's AssumeRoleWithWebIdentity, asked with aws-cli (unsigned).
fn web_identity_creds(gw: &Gateway, role: &str, token: &str) -> Result<Creds, String> {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new("aws")
        .args(["sts", "assume-role-with-web-identity", "--role-arn", role])
        .args([
            "--role-session-name",
            "keycloak",
            "--web-identity-token",
            token,
        ])
        .args([
            "--endpoint-url",
            &gw.endpoint,
            "--region",
            "us-east-1",
            "--output",
            "json",
        ])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", home.path().join("none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.path().join("none"))
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &v["Credentials"];
    Ok(Creds {
        key_id: c["AccessKeyId"].as_str().unwrap().into(),
        secret: c["SecretAccessKey"].as_str().unwrap().into(),
        token: Some(c["SessionToken"].as_str().unwrap().into()),
    })
}

#[test]
fn keycloak_users_and_services_get_credentials_that_reach_s3_and_an_api() {
    let Some(kc) = Keycloak::start() else {
        return;
    };
    let Some(backend) = Backend::start("s3s-fs") else {
        return;
    };
    let api = ApiBackend::start();
    let gw = Gateway::start(&config(&kc, &backend, &api));
    let bucket = backend.bucket.clone();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alice.txt");
    std::fs::write(&file, b"written by alice through keycloak").unwrap();

    // A person: the ID token of alice (a public client, password grant).
    let alice = kc.id_token("alice", "alice-password-for-tests-only");
    let creds = web_identity_creds(&gw, PEOPLE_ROLE, &alice).expect("alice gets credentials");
    let aws = creds.aws(&gw);
    aws.ok(&[
        "s3api",
        "put-object",
        "--bucket",
        &bucket,
        "--key",
        "people/alice.txt",
        "--body",
        file.to_str().unwrap(),
    ]);
    let got = dir.path().join("got.txt");
    aws.ok(&[
        "s3api",
        "get-object",
        "--bucket",
        &bucket,
        "--key",
        "people/alice.txt",
        got.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read(&got).unwrap(),
        b"written by alice through keycloak"
    );
    assert!(support::backend_has(&backend, "people/alice.txt"));
    let outside = support::fails(
        &aws,
        &[
            "s3api",
            "put-object",
            "--bucket",
            &bucket,
            "--key",
            "other/x",
            "--body",
            file.to_str().unwrap(),
        ],
    );
    assert!(outside.contains("AccessDenied"), "{outside}");
    assert!(!support::backend_has(&backend, "other/x"));

    // The same credentials on the HTTP API: GET allowed, with the session as the caller.
    let awscurl = support::which("awscurl").expect("awscurl (scripts/test.sh installs it)");
    let call = |method: &str, path: &str| {
        let out = Command::new(&awscurl)
            .args([
                "--service",
                "execute-api",
                "--region",
                "us-east-1",
                "-X",
                method,
                "-i",
            ])
            .args(["--access_key", &creds.key_id, "--secret_key", &creds.secret])
            .args(["--session_token", creds.token.as_deref().unwrap()])
            .arg(format!("{}{path}", gw.endpoint))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let got = call("GET", "/team/roster");
    assert!(got.contains("\"path\":\"/roster\""), "{got}");
    let seen = api.seen();
    let last = seen.last().unwrap();
    assert_eq!(
        last.header("x-stsgate-principal-arn"),
        Some("arn:aws:sts::111122223333:assumed-role/kc_people/keycloak")
    );
    let post = call("POST", "/team/roster");
    assert!(post.contains("AccessDeniedException"), "{post}");

    // A service: the access token of a confidential client (client credentials grant) gets
    // the read-only role, and not the people's (its audience is another client's).
    let service = kc.service_token();
    let ci = web_identity_creds(&gw, CI_ROLE, &service).expect("the service gets credentials");
    ci.aws(&gw)
        .ok(&["s3api", "list-objects-v2", "--bucket", &bucket]);
    let write = support::fails(
        &ci.aws(&gw),
        &[
            "s3api",
            "put-object",
            "--bucket",
            &bucket,
            "--key",
            "people/ci",
            "--body",
            file.to_str().unwrap(),
        ],
    );
    assert!(write.contains("AccessDenied"), "{write}");
    let Err(refused) = web_identity_creds(&gw, PEOPLE_ROLE, &service) else {
        panic!("the service's token must not get the people's role");
    };
    assert!(
        refused.contains("AccessDenied")
            && refused.contains("Not authorized to perform sts:AssumeRoleWithWebIdentity"),
        "{refused}"
    );

    // Keycloak's key rotation: tokens signed with a new realm key verify without a restart.
    let before = kid(&alice);
    kc.rotate_key();
    let rotated = kc.id_token("alice", "alice-password-for-tests-only");
    assert_ne!(kid(&rotated), before, "Keycloak signs with the new key");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    web_identity_creds(&gw, PEOPLE_ROLE, &rotated)
        .expect("a token signed with the rotated-in key gets credentials");
}
