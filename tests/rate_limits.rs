//! Rate limits through the running gateway in front of s3s-fs and an in-process HTTP API: each
//! protocol's throttling error with its shape (S3 `503 SlowDown`, STS `400 Throttling` "Rate
//! exceeded", API Gateway `429 TooManyRequestsException`, each with `Retry-After` and
//! `x-amz-retry-after`), other principals unaffected in the same run, and boto3's and aws-cli's
//! retryers getting through once the bucket refills.

mod support;

use support::api_backend::ApiBackend;
use support::{
    Backend, Creds, DEVELOP, Gateway, WRITER_ROLE, assume, config_with_backend, raw_request,
    signed_s3_request,
};

const WRITER: &str = "arn:aws:iam::111122223333:role/s3_writer";
const READER: &str = "arn:aws:iam::111122223333:role/s3_role";

/// S3 per principal (1 a second, bursts of 4), credential-taking STS calls per source address (one
/// every 5 seconds, bursts of 4), the API route (1 a second, bursts of 2).
const RULES: &str = r#"
[[rate_limits]]
name = "s3-per-principal"
by = "principal"
requests = ["s3"]
rate = 1
burst = 4

[[rate_limits]]
name = "sts-credentials-per-address"
by = "source_ip"
requests = ["sts_credentials"]
rate = 0.2
burst = 4

[[rate_limits]]
name = "billing-route"
by = "route"
requests = ["execute-api"]
match = "billing-*"
rate = 1
burst = 2
"#;

const API_ROLE: &str = r#"
[[accounts.roles]]
name = "api_caller"
trust_policy = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/develop"},"Action":"sts:AssumeRole"}}'
inline_policies = [{ name = "Invoke", document = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"*"}}' }]
"#;

struct Setup {
    backend: Backend,
    api: ApiBackend,
    gw: Gateway,
}

fn setup() -> Option<Setup> {
    let backend = Backend::start("s3s-fs")?;
    let api = ApiBackend::start();
    let backends = format!(
        "{}\n\n[[backends]]\nname = \"billing-api\"\nkind = \"http\"\nurl = \"{}\"\npath_prefix = \"/billing\"\napi_id = \"billing\"\nstage = \"prod\"\n",
        backend.toml(),
        api.url
    );
    // The rules go last: [[rate_limits]] is a top-level table.
    let config = format!(
        "{}\n{RULES}",
        config_with_backend(&backends, &format!("{WRITER_ROLE}\n{API_ROLE}"))
    );
    let gw = Gateway::start(&config);
    Some(Setup { backend, api, gw })
}

fn head_bucket(s: &Setup, creds: &Creds) -> support::RawReply {
    signed_s3_request(
        &s.gw.endpoint,
        creds,
        "HEAD",
        &format!("/{}", s.backend.bucket),
        "",
        b"",
    )
}

#[test]
fn each_protocol_throttles_in_its_own_shape_and_other_principals_go_on() {
    let Some(s) = setup() else { return };
    // Three of the four credential-taking calls the address may burst.
    let writer = assume(&s.gw, WRITER, "busy", None);
    let reader = assume(&s.gw, READER, "quiet", None);
    let caller = assume(
        &s.gw,
        "arn:aws:iam::111122223333:role/api_caller",
        "api",
        None,
    );

    // S3: the writer's role bursts 4, the fifth is SlowDown; the reader's role is not affected.
    for i in 0..4 {
        assert_eq!(head_bucket(&s, &writer).status, 200, "request {i}");
    }
    let slow = signed_s3_request(
        &s.gw.endpoint,
        &writer,
        "GET",
        &format!("/{}", s.backend.bucket),
        "list-type=2",
        b"",
    );
    assert_eq!(slow.status, 503, "{}", slow.body);
    assert!(slow.body.contains("<Code>SlowDown</Code>"), "{}", slow.body);
    assert!(
        slow.body.contains("Please reduce your request rate."),
        "{}",
        slow.body
    );
    assert_eq!(slow.header("retry-after"), Some("1"));
    let ms: u64 = slow.header("x-amz-retry-after").unwrap().parse().unwrap();
    assert!(
        (1..=1000).contains(&ms),
        "{ms} ms to the next token at 1 a second"
    );
    assert_eq!(head_bucket(&s, &reader).status, 200, "another principal");
    // Another session of the same role shares the role's bucket.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let sibling = assume(&s.gw, WRITER, "sibling", None);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(head_bucket(&s, &sibling).status);
    }
    assert!(statuses.contains(&503), "{statuses:?}");

    // STS: the address has spent its burst (and refills one call in 5 s): AssumeRole is
    // Throttling; GetCallerIdentity is another kind of request and goes on.
    let develop =
        s.gw.aws(DEVELOP.0, DEVELOP.1, None)
            .with_env("AWS_MAX_ATTEMPTS", "1");
    let mut refused = None;
    for i in 0..6 {
        let out = develop.run(&[
            "sts",
            "assume-role",
            "--role-arn",
            READER,
            "--role-session-name",
            &format!("s{i}"),
        ]);
        if !out.status.success() {
            refused = Some(String::from_utf8_lossy(&out.stderr).into_owned());
            break;
        }
    }
    let refused = refused.expect("a burst of AssumeRole calls was never throttled");
    assert!(
        refused.contains("(Throttling)") && refused.contains("Rate exceeded"),
        "{refused}"
    );
    develop.ok(&["sts", "get-caller-identity"]);
    let raw = sts_assume_raw(&s.gw);
    assert_eq!(raw.status, 400, "{}", raw.body);
    assert!(raw.body.contains("<Code>Throttling</Code>"), "{}", raw.body);
    assert!(raw.body.contains("<Type>Sender</Type>"), "{}", raw.body);
    assert!(raw.header("retry-after").is_some());

    // The HTTP API route: bursts of 2, then API Gateway's 429; throttled calls never reach it.
    let mut api_statuses = Vec::new();
    for _ in 0..4 {
        api_statuses.push(api_get(&s.gw, &caller));
    }
    let throttled: Vec<_> = api_statuses.iter().filter(|r| r.status == 429).collect();
    assert!(!throttled.is_empty(), "{api_statuses:?}");
    let t = throttled[0];
    assert_eq!(
        t.header("x-amzn-ErrorType"),
        Some("TooManyRequestsException")
    );
    assert_eq!(t.body, r#"{"message":"Too Many Requests"}"#);
    assert!(t.header("retry-after").is_some());
    assert_eq!(
        s.api.seen().len(),
        api_statuses.iter().filter(|r| r.status == 200).count()
    );

    // Counted per rule.
    let metrics = support::metrics(&s.gw);
    for rule in [
        "s3-per-principal",
        "sts-credentials-per-address",
        "billing-route",
    ] {
        let line = metrics
            .lines()
            .find(|l| l.starts_with(&format!("stsgate_throttled_total{{rule=\"{rule}\"}}")))
            .unwrap_or_else(|| panic!("no counter for {rule}:\n{metrics}"));
        let n: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(n >= 1, "{line}");
    }
}

/// A signed AssumeRole as raw bytes (to read the status and headers aws-cli hides).
fn sts_assume_raw(gw: &Gateway) -> support::RawReply {
    let develop = Creds {
        key_id: DEVELOP.0.into(),
        secret: DEVELOP.1.into(),
        token: None,
    };
    let body = format!(
        "Action=AssumeRole&Version=2011-06-15&RoleArn={}&RoleSessionName=raw",
        READER.replace(':', "%3A").replace('/', "%2F")
    );
    let mut last = None;
    for _ in 0..6 {
        let host = gw.endpoint.trim_start_matches("http://");
        let mut headers = http::HeaderMap::new();
        headers.insert("host", host.parse().unwrap());
        headers.insert(
            "content-type",
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        use sha2::Digest as _;
        develop
            .signer("sts")
            .sign(
                "POST",
                "/",
                "",
                &mut headers,
                &hex::encode(sha2::Sha256::digest(body.as_bytes())),
                stsgate::sigv4::AmzDate::now(),
            )
            .unwrap();
        let r = raw_request(
            &gw.endpoint,
            "POST",
            "/",
            &support::header_pairs(&headers),
            body.as_bytes(),
        );
        if r.status != 200 {
            return r;
        }
        last = Some(r);
    }
    last.unwrap()
}

fn api_get(gw: &Gateway, creds: &Creds) -> support::RawReply {
    let host = gw.endpoint.trim_start_matches("http://");
    let mut headers = http::HeaderMap::new();
    headers.insert("host", host.parse().unwrap());
    creds
        .signer("execute-api")
        .sign(
            "GET",
            "/billing/invoices/1",
            "",
            &mut headers,
            stsgate::sigv4::EMPTY_SHA256,
            stsgate::sigv4::AmzDate::now(),
        )
        .unwrap();
    raw_request(
        &gw.endpoint,
        "GET",
        "/billing/invoices/1",
        &support::header_pairs(&headers),
        b"",
    )
}

/// boto3 with retries off sees `SlowDown` as S3 sends it; with its standard retryer the same
/// burst gets through (SlowDown is a throttling error to it), only later. aws-cli likewise.
#[test]
fn boto3_and_aws_cli_retry_through_a_slowdown() {
    let Some(s) = setup() else { return };
    let writer = assume(&s.gw, WRITER, "sdk", None);
    let bucket = &s.backend.bucket;
    let script = format!(
        r#"{prelude}
import botocore
from botocore.config import Config
def client(attempts):
    return boto3.client("s3", endpoint_url=s3.meta.endpoint_url, region_name="us-east-1",
        aws_access_key_id="{ak}", aws_secret_access_key="{sk}", aws_session_token="{tok}",
        config=Config(signature_version="s3v4", retries={{"mode": "standard", "max_attempts": attempts}}))
once = client(1)
def call(_):
    try:
        once.list_objects_v2(Bucket="{bucket}")
        return "ok"
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"] + ":" + str(e.response["ResponseMetadata"]["HTTPStatusCode"])
# Eight at once: the burst of 4 is spent whatever each call costs on a loaded machine.
from concurrent.futures import ThreadPoolExecutor
with ThreadPoolExecutor(8) as pool:
    codes = list(pool.map(call, range(8)))
patient = client(10)
done = 0
for _ in range(12):
    patient.list_objects_v2(Bucket="{bucket}")
    done += 1
print(json.dumps({{"once": codes, "patient": done}}))
"#,
        prelude = writer.boto3_s3(&s.gw),
        ak = writer.key_id,
        sk = writer.secret,
        tok = writer.token.as_deref().unwrap(),
    );
    let v: serde_json::Value = serde_json::from_str(&support::python(&script, &[])).unwrap();
    let once: Vec<&str> = v["once"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(once.contains(&"SlowDown:503"), "{once:?}");
    assert_eq!(
        v["patient"], 12,
        "the standard retryer got every call through"
    );
    // aws-cli: 10 calls with its standard retryer all succeed.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let cli = writer
        .aws(&s.gw)
        .with_env("AWS_RETRY_MODE", "standard")
        .with_env("AWS_MAX_ATTEMPTS", "10");
    for _ in 0..10 {
        cli.ok(&["s3api", "list-objects-v2", "--bucket", bucket]);
    }
    let throttled = support::metrics(&s.gw)
        .lines()
        .find(|l| l.starts_with("stsgate_throttled_total{rule=\"s3-per-principal\"}"))
        .and_then(|l| l.rsplit(' ').next().and_then(|n| n.parse::<u64>().ok()))
        .unwrap();
    assert!(
        throttled >= 4,
        "the clients were throttled along the way ({throttled})"
    );
}

/// A `shared = true` rule counts in `[shared_state]` Redis: two replicas draw from one bucket
/// (a burst of 4 is 4 requests across both, not 4 at each); with Redis stopped, each replica
/// falls back to its own bucket (limited per replica, never unlimited).
#[test]
fn a_shared_rule_counts_every_replica_together() {
    let Some(backend) = Backend::start("s3s-fs") else {
        return;
    };
    let Some(redis) = support::Redis::start(None) else {
        return;
    };
    let shared = format!(
        "{WRITER_ROLE}\n[shared_state]\nredis = \"{}\"\ntimeout_ms = 300\n",
        redis.url
    );
    let config = format!(
        "{}\n[[rate_limits]]\nname = \"shared-principal\"\nby = \"principal\"\nrequests = [\"s3\"]\nrate = 0.2\nburst = 4\nshared = true\n",
        config_with_backend(&backend.toml(), &shared)
    );
    let (a, b) = (Gateway::start(&config), Gateway::start(&config));
    let writer = assume(&a, WRITER, "shared", None);
    let head = |gw: &Gateway| {
        signed_s3_request(
            &gw.endpoint,
            &writer,
            "HEAD",
            &format!("/{}", backend.bucket),
            "",
            b"",
        )
        .status
    };
    let statuses = [head(&a), head(&b), head(&a), head(&b), head(&b)];
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 503],
        "one bucket for both replicas"
    );
    assert_eq!(head(&a), 503);
    // Redis stopped: replica a counts alone, from its own full bucket.
    redis.stop();
    let alone: Vec<u16> = (0..5).map(|_| head(&a)).collect();
    assert_eq!(alone, [200, 200, 200, 200, 503], "{alone:?}");
}
