//! Buckets have owners: bucket policies, cross-account and anonymous access through the running
//! gateway in front of s3s-fs, with aws-cli and curl. Account A (111122223333, the demo's) owns
//! the backend's buckets unless the config says otherwise; account B (444455556666) has a user
//! allowed `s3:*` on `*` and a role the same.

mod support;

use std::process::Command;

use support::{Backend, DEVELOP, Gateway, NO_SKILL, WRITER_ROLE, config_with_backend};

const BOB: (&str, &str) = (
    "AKIAWO645SY5GSKV3DYF",
    "iyANI3RTmFnspIjLXY+DjFijb4JXQGjdLJN+RbXt",
);
const B_READER: &str = "arn:aws:iam::444455556666:role/b_reader";

/// Account B: bob (s3:* on *, may assume b_reader) and b_reader (s3:* on *).
const ACCOUNT_B: &str = r#"
[[accounts]]
id = "444455556666"
[[accounts.users]]
name = "bob"
inline_policies = [{ name = "AllS3", document = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}' }]
[[accounts.users.access_keys]]
id = "AKIAWO645SY5GSKV3DYF"
secret = "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"
[[accounts.roles]]
name = "b_reader"
trust_policy = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:user/bob"},"Action":"sts:AssumeRole"}}'
inline_policies = [{ name = "AllS3", document = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}' }]
"#;

/// shared-a: B's role may read reports/, A's no_skill (no permissions of its own) may read
/// everything, nobody may delete.
const SHARED_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"BReadsReports","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:role/b_reader"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::shared-a/reports/*"},
 {"Sid":"NoSkillReads","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/no_skill"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::shared-a/*"},
 {"Sid":"NoDeletes","Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::shared-a/*"}]}"#;

const PUBLIC_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::public-a","arn:aws:s3:::public-a/*"]}]}"#;

struct Setup {
    backend: Backend,
    gw: Gateway,
    policies: tempfile::TempDir,
}

fn setup() -> Option<Setup> {
    let backend = Backend::start("s3s-fs")?;
    let admin = backend.aws();
    for bucket in ["shared-a", "public-a", "b-data", "managed-a"] {
        admin.ok(&["s3", "mb", &format!("s3://{bucket}")]);
    }
    let policies = tempfile::tempdir().unwrap();
    let shared = policies.path().join("shared-a.json");
    std::fs::write(&shared, SHARED_POLICY).unwrap();
    let public = policies.path().join("public-a.json");
    std::fs::write(&public, PUBLIC_POLICY).unwrap();
    let backend_toml = format!(
        "{}\n[[backends.buckets]]\nname = \"shared-a\"\npolicy = \"file:{}\"\n[[backends.buckets]]\nname = \"public-a\"\npolicy = \"file:{}\"\n[[backends.buckets]]\nname = \"b-*\"\naccount = \"444455556666\"\n[[backends.buckets]]\nname = \"managed-a\"\npolicy = \"file:{}\"\nmanage_policy = true\n",
        backend.toml(),
        shared.display(),
        public.display(),
        policies.path().join("managed-a.json").display()
    );
    let gw = Gateway::start(&config_with_backend(
        &backend_toml,
        &format!("{WRITER_ROLE}\n{ACCOUNT_B}"),
    ));
    Some(Setup {
        backend,
        gw,
        policies,
    })
}

fn put_as_backend(s: &Setup, bucket: &str, key: &str, body: &str) {
    let file = s.policies.path().join("upload");
    std::fs::write(&file, body).unwrap();
    s.backend.aws().ok(&[
        "s3",
        "cp",
        file.to_str().unwrap(),
        &format!("s3://{bucket}/{key}"),
    ]);
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// curl with no credentials: (status, body).
fn curl(method: &str, url: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-X", method, "-w", "\n%{http_code}", url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap();
    (status.parse().unwrap(), body.to_string())
}

#[test]
fn account_b_cannot_touch_account_a_buckets_without_a_bucket_policy() {
    let Some(s) = setup() else { return };
    put_as_backend(&s, &s.backend.bucket, "a-secret.txt", "account A only");
    let bob = s.gw.aws(BOB.0, BOB.1, None);
    let target = format!("s3://{}/a-secret.txt", s.backend.bucket);
    for args in [
        vec!["s3", "cp", target.as_str(), "-"],
        vec!["s3", "ls", &format!("s3://{}/", s.backend.bucket)],
        vec!["s3", "rm", target.as_str()],
    ] {
        let out = bob.run(&args);
        assert!(!out.status.success(), "bob ran {args:?} on A's bucket");
        assert!(
            stderr(&out).contains("AccessDenied") || stderr(&out).contains("403"),
            "{}",
            stderr(&out)
        );
    }
    // The refusal names the missing policy type, and decodes.
    let out = bob.run(&[
        "s3api",
        "put-object",
        "--bucket",
        &s.backend.bucket,
        "--key",
        "from-b.txt",
    ]);
    let err = stderr(&out);
    assert!(
        err.contains("because no resource-based policy allows the s3:PutObject action"),
        "{err}"
    );
    assert!(!support::backend_has(&s.backend, "from-b.txt"));
    assert!(
        support::backend_has(&s.backend, "a-secret.txt"),
        "bob's rm reached the backend"
    );
    // B may create and use buckets declared as its own (b-*), and not others.
    let out = bob.run(&["s3", "mb", "s3://a-new-bucket"]);
    assert!(
        !out.status.success(),
        "bob created a bucket owned by account A"
    );
    let file = s.policies.path().join("b.txt");
    std::fs::write(&file, "b's own").unwrap();
    bob.ok(&["s3", "cp", file.to_str().unwrap(), "s3://b-data/b.txt"]);
    assert_eq!(bob.ok(&["s3", "cp", "s3://b-data/b.txt", "-"]), "b's own");
    // And account A's writer (s3:* on *) cannot reach B's bucket either.
    let writer = support::assume(
        &s.gw,
        "arn:aws:iam::111122223333:role/s3_writer",
        "writer",
        None,
    );
    let out = writer
        .aws(&s.gw)
        .run(&["s3", "cp", "s3://b-data/b.txt", "-"]);
    assert!(!out.status.success(), "A's writer read B's bucket");
    // ListBuckets lists each account's own buckets, as on S3 (the backend lists all four).
    let names = |aws: &support::AwsCli| -> Vec<String> {
        let v: serde_json::Value =
            serde_json::from_str(&aws.ok(&["s3api", "list-buckets"])).unwrap();
        let mut n: Vec<String> = v["Buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["Name"].as_str().unwrap().to_string())
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(&bob), ["b-data"]);
    let mut a_buckets = vec![
        "managed-a",
        "public-a",
        "shared-a",
        s.backend.bucket.as_str(),
    ];
    a_buckets.sort();
    assert_eq!(names(&writer.aws(&s.gw)), a_buckets);
}

#[test]
fn a_cross_account_role_reads_only_what_the_bucket_policy_grants() {
    let Some(s) = setup() else { return };
    put_as_backend(&s, "shared-a", "reports/q3.csv", "q3 figures");
    put_as_backend(&s, "shared-a", "private/salaries.csv", "secret");
    let bob = s.gw.aws(BOB.0, BOB.1, None);
    let creds: serde_json::Value = serde_json::from_str(&bob.ok(&[
        "sts",
        "assume-role",
        "--role-arn",
        B_READER,
        "--role-session-name",
        "reader",
    ]))
    .unwrap();
    let c = &creds["Credentials"];
    let reader = s.gw.aws(
        c["AccessKeyId"].as_str().unwrap(),
        c["SecretAccessKey"].as_str().unwrap(),
        c["SessionToken"].as_str(),
    );
    assert_eq!(
        reader.ok(&["s3", "cp", "s3://shared-a/reports/q3.csv", "-"]),
        "q3 figures"
    );
    // Outside the grant: the identity policy allows s3:* on *, the bucket policy does not.
    let out = reader.run(&["s3", "cp", "s3://shared-a/private/salaries.csv", "-"]);
    assert!(!out.status.success(), "B's role read outside its grant");
    let err = fails_api(
        &reader,
        &[
            "s3api",
            "put-object",
            "--bucket",
            "shared-a",
            "--key",
            "reports/new.csv",
        ],
    );
    assert!(
        err.contains("because no resource-based policy allows the s3:PutObject action"),
        "{err}"
    );
    // bob himself is not the role the policy names.
    let out = bob.run(&["s3", "cp", "s3://shared-a/reports/q3.csv", "-"]);
    assert!(
        !out.status.success(),
        "bob read with a grant made to a role"
    );

    // Same account: a grant naming A's no_skill user directly needs no identity policy.
    let no_skill = s.gw.aws(NO_SKILL.0, NO_SKILL.1, None);
    assert_eq!(
        no_skill.ok(&["s3", "cp", "s3://shared-a/private/salaries.csv", "-"]),
        "secret"
    );
    // develop has no S3 permissions and the policy does not name it.
    let out = s.gw.aws(DEVELOP.0, DEVELOP.1, None).run(&[
        "s3",
        "cp",
        "s3://shared-a/reports/q3.csv",
        "-",
    ]);
    assert!(!out.status.success());
    // An explicit deny in the bucket policy beats A's writer's s3:* on *.
    let writer = support::assume(
        &s.gw,
        "arn:aws:iam::111122223333:role/s3_writer",
        "writer",
        None,
    );
    let err = fails_api(
        &writer.aws(&s.gw),
        &[
            "s3api",
            "delete-object",
            "--bucket",
            "shared-a",
            "--key",
            "reports/q3.csv",
        ],
    );
    assert!(
        err.contains("with an explicit deny in a resource-based policy"),
        "{err}"
    );
    assert!(backend_object(&s, "shared-a", "reports/q3.csv"));
    // ... and a session policy still narrows a same-account role the bucket policy does not name.
    let narrowed = support::assume(
        &s.gw,
        "arn:aws:iam::111122223333:role/s3_writer",
        "narrow",
        Some(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}}"#,
        ),
    );
    let err = fails_api(
        &narrowed.aws(&s.gw),
        &[
            "s3api",
            "get-object",
            "--bucket",
            "shared-a",
            "--key",
            "reports/q3.csv",
            "/dev/null",
        ],
    );
    assert!(
        err.contains("because no session policy allows the s3:GetObject action"),
        "{err}"
    );
}

#[test]
fn a_public_bucket_is_served_to_anonymous_readers_and_nothing_else_is() {
    let Some(s) = setup() else { return };
    put_as_backend(&s, "public-a", "index.html", "<h1>public</h1>");
    put_as_backend(&s, &s.backend.bucket, "private.txt", "not public");
    let (status, body) = curl("GET", &format!("{}/public-a/index.html", s.gw.endpoint));
    assert_eq!((status, body.as_str()), (200, "<h1>public</h1>"));
    let (status, body) = curl("GET", &format!("{}/public-a?list-type=2", s.gw.endpoint));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<Key>index.html</Key>"), "{body}");
    let (status, _) = curl("HEAD", &format!("{}/public-a/index.html", s.gw.endpoint));
    assert_eq!(status, 200);
    // aws-cli without credentials reads it too.
    let out = Command::new("aws")
        .args([
            "--endpoint-url",
            &s.gw.endpoint,
            "--no-sign-request",
            "--region",
            "us-east-1",
        ])
        .args(["s3", "cp", "s3://public-a/index.html", "-"])
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "<h1>public</h1>",
        "{}",
        stderr(&out)
    );

    // The uploaded page cannot be served as HTML from the gateway's origin: S3 refuses
    // response-* overrides on anonymous requests (s3s-fs honours them once re-signed).
    let (status, body) = curl(
        "GET",
        &format!(
            "{}/public-a/index.html?response-content-type=text%2Fhtml&response-content-disposition=inline",
            s.gw.endpoint
        ),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("<Code>InvalidRequest</Code>")
            && body.contains(
                "Request specific response headers cannot be used for anonymous GET requests."
            ),
        "{body}"
    );

    // Writes stay refused, and so does everything in a bucket without a public grant.
    let (status, body) = curl("PUT", &format!("{}/public-a/defaced.html", s.gw.endpoint));
    assert_eq!(status, 403, "{body}");
    assert!(!backend_object(&s, "public-a", "defaced.html"));
    let (status, body) = curl("DELETE", &format!("{}/public-a/index.html", s.gw.endpoint));
    assert_eq!(status, 403, "{body}");
    let (status, body) = curl(
        "GET",
        &format!("{}/{}/private.txt", s.gw.endpoint, s.backend.bucket),
    );
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("<Code>AccessDenied</Code>") && !body.contains("not public"),
        "{body}"
    );
    let (status, _) = curl("GET", &format!("{}/shared-a/reports/x", s.gw.endpoint));
    assert_eq!(status, 403);
    // Anonymous readers of the public bucket cannot walk out of it: two spellings of a path,
    // another bucket in the Host, an absolute-form target. None returns the private object.
    let private_host = format!("{}.localhost", s.backend.bucket);
    let attacks: Vec<(String, Vec<(String, String)>)> = vec![
        (
            format!("/public-a/../{}/private.txt", s.backend.bucket),
            vec![],
        ),
        (
            format!("/public-a/%2e%2e/{}/private.txt", s.backend.bucket),
            vec![],
        ),
        (
            format!("/public-a/..%2F{}%2Fprivate.txt", s.backend.bucket),
            vec![],
        ),
        (format!("//{}/private.txt", s.backend.bucket), vec![]),
        (
            "/private.txt".to_string(),
            vec![("host".to_string(), private_host.clone())],
        ),
        (
            format!("http://127.0.0.1/{}/private.txt", s.backend.bucket),
            vec![],
        ),
    ];
    for (target, headers) in &attacks {
        let reply = support::raw_request(&s.gw.endpoint, "GET", target, headers, b"");
        assert!(
            !reply.body.contains("not public") && reply.status != 200,
            "{target} {headers:?}: {reply:?}"
        );
    }
    // An anonymous read that carries a body is refused, not forwarded with it.
    let reply = support::raw_request(
        &s.gw.endpoint,
        "GET",
        "/public-a/index.html",
        &[],
        b"smuggled",
    );
    assert_eq!(reply.status, 400, "{reply:?}");
    assert!(reply.body.contains("carries no body"), "{reply:?}");
    // A public grant of reads is not a grant of the bucket's policy.
    let (status, _) = curl("GET", &format!("{}/public-a?policy", s.gw.endpoint));
    assert_eq!(status, 403);

    // The gateway answers for bucket policies: it holds them.
    let writer = support::assume(
        &s.gw,
        "arn:aws:iam::111122223333:role/s3_writer",
        "writer",
        None,
    );
    let aws = writer.aws(&s.gw);
    let policy: serde_json::Value =
        serde_json::from_str(&aws.ok(&["s3api", "get-bucket-policy", "--bucket", "public-a"]))
            .unwrap();
    assert!(policy["Policy"].as_str().unwrap().contains("PublicRead"));
    let status: serde_json::Value = serde_json::from_str(&aws.ok(&[
        "s3api",
        "get-bucket-policy-status",
        "--bucket",
        "public-a",
    ]))
    .unwrap();
    assert_eq!(status["PolicyStatus"]["IsPublic"], true);
    let status: serde_json::Value = serde_json::from_str(&aws.ok(&[
        "s3api",
        "get-bucket-policy-status",
        "--bucket",
        "shared-a",
    ]))
    .unwrap();
    assert_eq!(status["PolicyStatus"]["IsPublic"], false);
    let err = fails_api(
        &aws,
        &["s3api", "get-bucket-policy", "--bucket", &s.backend.bucket],
    );
    assert!(err.contains("NoSuchBucketPolicy"), "{err}");
    let err = fails_api(
        &aws,
        &[
            "s3api",
            "put-bucket-policy",
            "--bucket",
            "shared-a",
            "--policy",
            PUBLIC_POLICY,
        ],
    );
    assert!(
        err.contains("NotImplemented") && err.contains("stsgate config"),
        "{err}"
    );
    let err = fails_api(
        &aws,
        &["s3api", "delete-bucket-policy", "--bucket", "public-a"],
    );
    assert!(err.contains("NotImplemented"), "{err}");

    // `stsgate check` warns about the public bucket, and only that one.
    let out = Command::new(env!("CARGO_BIN_EXE_stsgate"))
        .args(["check", "--config"])
        .arg(&s.gw.config_path)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(text.contains("bucket public-a is public"), "{text}");
    assert!(!text.contains("bucket shared-a is public"), "{text}");
}

/// `stsgate simulate --resource-policy` gives the gateway's decisions for the same cases.
#[test]
fn simulate_agrees_with_the_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let shared = write("shared.json", SHARED_POLICY);
    let all = write(
        "all.json",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
    );
    let simulate = |caller: &str, identity: Option<&str>, action: &str, resource: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stsgate"));
        cmd.args(["simulate", "--caller", caller, "--resource-policy", &shared])
            .args(["--action", action, "--resource", resource])
            .args(["--context", "aws:ResourceAccount=string:111122223333"]);
        if let Some(p) = identity {
            cmd.args(["--policy", p]);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let v: serde_json::Value =
            serde_json::from_slice(out.stdout.split(|b| *b == b'\n').next().unwrap()).unwrap();
        (
            v["decision"].as_str().unwrap().to_string(),
            v["reason"].as_str().unwrap_or("").to_string(),
        )
    };
    let reader = "arn:aws:sts::444455556666:assumed-role/b_reader/reader";
    assert_eq!(
        simulate(
            reader,
            Some(&all),
            "s3:GetObject",
            "arn:aws:s3:::shared-a/reports/q3.csv"
        )
        .0,
        "allowed"
    );
    assert_eq!(
        simulate(
            reader,
            Some(&all),
            "s3:GetObject",
            "arn:aws:s3:::shared-a/private/salaries.csv"
        ),
        (
            "implicitDeny".to_string(),
            "because no resource-based policy allows the s3:GetObject action".to_string()
        )
    );
    assert_eq!(
        simulate(
            "arn:aws:iam::444455556666:user/bob",
            Some(&all),
            "s3:GetObject",
            "arn:aws:s3:::shared-a/reports/q3.csv"
        )
        .0,
        "implicitDeny"
    );
    assert_eq!(
        simulate(
            "arn:aws:iam::111122223333:user/no_skill",
            None,
            "s3:GetObject",
            "arn:aws:s3:::shared-a/private/salaries.csv"
        )
        .0,
        "allowed"
    );
    assert_eq!(
        simulate(
            "arn:aws:sts::111122223333:assumed-role/s3_writer/w",
            Some(&all),
            "s3:DeleteObject",
            "arn:aws:s3:::shared-a/reports/q3.csv"
        ),
        (
            "explicitDeny".to_string(),
            "with an explicit deny in a resource-based policy".to_string()
        )
    );
    assert_eq!(
        simulate(
            "anonymous",
            None,
            "s3:GetObject",
            "arn:aws:s3:::shared-a/reports/q3.csv"
        )
        .0,
        "implicitDeny"
    );
}

fn fails_api(aws: &support::AwsCli, args: &[&str]) -> String {
    let out = aws.run(args);
    assert!(!out.status.success(), "aws {args:?} succeeded");
    stderr(&out)
}

fn backend_object(s: &Setup, bucket: &str, key: &str) -> bool {
    s.backend
        .aws()
        .run(&["s3api", "head-object", "--bucket", bucket, "--key", key])
        .status
        .success()
}

#[test]
fn put_and_delete_bucket_policy_manage_a_bucket_the_config_lets_them() {
    let Some(s) = setup() else { return };
    put_as_backend(&s, "managed-a", "page.html", "managed page");
    let file = s.policies.path().join("managed-a.json");
    let url = format!("{}/managed-a/page.html", s.gw.endpoint);
    let writer = support::assume(
        &s.gw,
        "arn:aws:iam::111122223333:role/s3_writer",
        "writer",
        None,
    );
    let aws = writer.aws(&s.gw);
    let err = fails_api(
        &aws,
        &["s3api", "get-bucket-policy", "--bucket", "managed-a"],
    );
    assert!(err.contains("NoSuchBucketPolicy"), "{err}");
    assert_eq!(curl("GET", &url).0, 403);

    // A policy naming another bucket is refused and nothing is written.
    let foreign = PUBLIC_POLICY;
    let err = fails_api(
        &aws,
        &[
            "s3api",
            "put-bucket-policy",
            "--bucket",
            "managed-a",
            "--policy",
            foreign,
        ],
    );
    assert!(
        err.contains("MalformedPolicy") && err.contains("invalid resource"),
        "{err}"
    );
    assert!(!file.exists());
    // Account B cannot set it, whatever its own policies allow.
    let public = PUBLIC_POLICY.replace("public-a", "managed-a");
    let out = s.gw.aws(BOB.0, BOB.1, None).run(&[
        "s3api",
        "put-bucket-policy",
        "--bucket",
        "managed-a",
        "--policy",
        &public,
    ]);
    assert!(!out.status.success() && !file.exists(), "{}", stderr(&out));

    aws.ok(&[
        "s3api",
        "put-bucket-policy",
        "--bucket",
        "managed-a",
        "--policy",
        &public,
    ]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), public);
    // The gateway reloads at once; the page turns public.
    let served = wait_for(|| curl("GET", &url) == (200, "managed page".to_string()));
    assert!(served, "the put policy never applied");
    let got: serde_json::Value =
        serde_json::from_str(&aws.ok(&["s3api", "get-bucket-policy", "--bucket", "managed-a"]))
            .unwrap();
    assert_eq!(got["Policy"].as_str().unwrap(), public);

    aws.ok(&["s3api", "delete-bucket-policy", "--bucket", "managed-a"]);
    assert!(!file.exists());
    assert!(
        wait_for(|| curl("GET", &url).0 == 403),
        "the deleted policy kept serving"
    );
    let err = fails_api(
        &aws,
        &["s3api", "get-bucket-policy", "--bucket", "managed-a"],
    );
    assert!(err.contains("NoSuchBucketPolicy"), "{err}");
}

/// Polls `check` for up to 10 s.
fn wait_for(check: impl Fn() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    false
}
