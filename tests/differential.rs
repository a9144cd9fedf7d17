//! The differential check over a generated corpus: thousands of random S3 requests (keys with
//! `/`, `.`, `%`, `+`, spaces and unicode, encoded in random ways; random sub-resources,
//! parameters and headers, some of them hostile) are signed and sent through the gateway to the
//! recording backend. For each one:
//! - stsgate's reading of the client's request (host, address, classify: the functions the
//!   gateway runs) decides whether it may be forwarded;
//! - if it may, the backend must receive exactly one request, and the `s3s` crate's own router
//!   must read that request as the same operation, bucket and key stsgate authorized;
//! - if it may not, the backend must receive nothing.
//!
//! `STSGATE_DIFFERENTIAL_CASES` sets the number of requests (default 10,000); the seed is fixed
//! so a failure replays, and printed with the counts.

mod support;

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};
use support::recorder::Recorder;
use support::s3s_reading::Reading;
use support::{Creds, Gateway, WRITER_ROLE, assume};

const WRITER: &str = "arn:aws:iam::111122223333:role/s3_writer";

/// A small deterministic generator (splitmix64), so a failing case replays from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const KEY_CHARS: &[&str] = &[
    "a", "b", "z", "0", "9", "-", "_", "~", ".", ".", "/", "/", " ", "+", "%", "?", "#", "&", "=",
    ";", ":", "@", "!", "$", "'", "(", ")", "*", ",", "\\", "\"", "<", ">", "é", "日", "ß", "€",
];

/// Encodes one character of a path segment the way some client might: unreserved characters
/// and sub-delimiters raw or encoded, everything else encoded, hex in either case.
fn encode_path_char(rng: &mut Rng, c: &str, out: &mut String) {
    let raw_ok = c.len() == 1
        && (c.as_bytes()[0].is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@/".contains(c));
    if raw_ok && !rng.chance(20) {
        out.push_str(c);
        return;
    }
    let lower = rng.chance(30);
    for b in c.as_bytes() {
        if lower {
            out.push_str(&format!("%{b:02x}"));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

fn encode_query(rng: &mut Rng, text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || "-._~".contains(c) {
            out.push(c);
        } else if c == ' ' && rng.chance(50) {
            out.push('+');
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

fn random_key(rng: &mut Rng) -> String {
    let mut key = String::new();
    for _ in 0..1 + rng.below(14) {
        let c: &&str = rng.pick(KEY_CHARS);
        key.push_str(c);
    }
    // Now and then, a form some backend reads differently.
    match rng.below(40) {
        0 => key = format!("a/../{key}"),
        1 => key = format!("/{key}"),
        2 => key = format!("a//{key}"),
        3 => key = format!("./{key}"),
        4 => key.push('\u{1}'),
        _ => {}
    }
    key.trim_start_matches('/').to_string().replace("//", "/x/")
        + if rng.chance(3) { "/" } else { "" }
}

/// One generated request, before signing.
#[derive(Debug, Clone)]
struct Generated {
    method: &'static str,
    host: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

const BUCKETS: &[&str] = &["recorded", "other-bucket", "a.b-c"];

/// (method, sub-resource query) shapes for objects and buckets.
const OBJECT_SHAPES: &[(&str, &str)] = &[
    ("GET", ""),
    ("GET", ""),
    ("HEAD", ""),
    ("PUT", ""),
    ("PUT", ""),
    ("DELETE", ""),
    ("POST", "uploads"),
    ("PUT", "uploadId=U1&partNumber=2"),
    ("POST", "uploadId=U1"),
    ("DELETE", "uploadId=U1"),
    ("GET", "uploadId=U1"),
    ("GET", "tagging"),
    ("PUT", "tagging"),
    ("DELETE", "tagging"),
    ("GET", "acl"),
    ("PUT", "acl"),
    ("GET", "retention"),
    ("PUT", "retention"),
    ("GET", "legal-hold"),
    ("PUT", "legal-hold"),
    ("POST", "restore"),
    ("GET", "attributes"),
];
const BUCKET_SHAPES: &[(&str, &str)] = &[
    ("GET", ""),
    ("GET", "list-type=2"),
    ("HEAD", ""),
    ("PUT", ""),
    ("DELETE", ""),
    ("GET", "versions"),
    ("GET", "uploads"),
    ("GET", "location"),
    ("GET", "tagging"),
    ("PUT", "tagging"),
    ("DELETE", "tagging"),
    ("GET", "policy"),
    ("PUT", "policy"),
    ("DELETE", "policy"),
    ("GET", "versioning"),
    ("PUT", "versioning"),
    ("GET", "cors"),
    ("DELETE", "cors"),
    ("GET", "lifecycle"),
    ("GET", "encryption"),
    ("GET", "acl"),
    ("GET", "website"),
    ("GET", "object-lock"),
    ("GET", "ownershipControls"),
    ("GET", "publicAccessBlock"),
    ("POST", "delete"),
];
/// Extra parameters: some valid for some operations, some never.
const EXTRA_PARAMS: &[&str] = &[
    "versionId",
    "prefix",
    "delimiter",
    "max-keys",
    "response-content-type",
    "x-id",
    "partNumber",
    "x-amz-tagging",
    "X-Amz-Acl",
    "encoding-type",
    "unknown",
];
const EXTRA_HEADERS: &[(&str, &str)] = &[
    ("x-amz-meta-color", "green"),
    ("content-type", "text/plain"),
    ("x-amz-tagging", "a=b"),
    ("x-amz-acl", "private"),
    ("range", "bytes=0-3"),
    ("x-minio-force-delete", "true"),
    ("x-amz-unknown", "1"),
    ("x-amz-copy-source", "recorded/src.txt"),
    ("x-amz-copy-source", "//recorded/other-bucket/x"),
    ("x-amz-bypass-governance-retention", "true"),
    ("user-agent", "differential/1"),
    ("if-match", "\"abc\""),
    ("x-amz-object-attributes", "ETag"),
];

fn generate(rng: &mut Rng, gw_port: u16) -> Generated {
    let bucket = *rng.pick(BUCKETS);
    let virtual_hosted = rng.chance(30);
    let host = if virtual_hosted {
        format!("{bucket}.s3.localhost:{gw_port}")
    } else {
        format!("127.0.0.1:{gw_port}")
    };
    let root = rng.chance(2);
    let object = !root && rng.chance(70);
    let (method, shape) = if root {
        ("GET", "")
    } else if object {
        *rng.pick(OBJECT_SHAPES)
    } else {
        *rng.pick(BUCKET_SHAPES)
    };
    let mut path = String::from("/");
    if !root && !virtual_hosted {
        path.push_str(bucket);
        if object {
            path.push('/');
        }
    }
    if object {
        let key = random_key(rng);
        // Encode character by character (a multi-byte character stays whole).
        let mut buf = [0u8; 4];
        for c in key.chars() {
            encode_path_char(rng, c.encode_utf8(&mut buf), &mut path);
        }
    }
    let mut params: Vec<String> = shape
        .split('&')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    if shape == "list-type=2" && rng.chance(50) {
        let prefix = random_key(rng);
        params.push(format!("prefix={}", encode_query(rng, &prefix)));
    }
    if rng.chance(25) {
        let name = *rng.pick(EXTRA_PARAMS);
        let value = match name {
            "partNumber" => "3".to_string(),
            "max-keys" => "5".to_string(),
            "encoding-type" => "url".to_string(),
            _ => {
                let text = random_key(rng);
                encode_query(rng, &text)
            }
        };
        params.push(format!("{name}={value}"));
    }
    if rng.chance(3) && !params.is_empty() {
        let again = params[rng.below(params.len())].clone();
        params.push(again);
    }
    let mut headers = Vec::new();
    if rng.chance(30) {
        let (k, v) = *rng.pick(EXTRA_HEADERS);
        headers.push((k.to_string(), v.to_string()));
    }
    let body = match (method, shape) {
        ("POST", "delete") => {
            let mut xml = String::from("<Delete>");
            for _ in 0..1 + rng.below(3) {
                let key = random_key(rng)
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;");
                xml.push_str(&format!("<Object><Key>{key}</Key></Object>"));
            }
            if rng.chance(5) {
                xml.push_str("<Object><Key>a</Key><Key>b</Key></Object>");
            }
            xml.push_str("</Delete>");
            xml.into_bytes()
        }
        ("PUT", _) | ("POST", _) => b"generated body".to_vec(),
        _ => Vec::new(),
    };
    let target = if params.is_empty() {
        path
    } else {
        format!("{path}?{}", params.join("&"))
    };
    Generated {
        method,
        host,
        target,
        headers,
        body,
    }
}

/// stsgate's reading of a client request, through the functions the gateway runs.
fn gateway_reading(request: &http::Request<Full<Bytes>>, body: &[u8]) -> Result<Reading, String> {
    let host = stsgate::server::request_host(request.uri(), request.headers())
        .map_err(|e| e.0.to_string())?;
    let target = stsgate::s3::address(host, request.uri().path(), &["s3.localhost".to_string()])
        .map_err(|e| e.message)?;
    let query =
        stsgate::sts::parse_form(request.uri().query().unwrap_or("")).map_err(|e| e.message)?;
    let c = stsgate::s3::classify(
        request.method().as_str(),
        &target,
        &query,
        request.headers(),
    )
    .map_err(|e| e.message)?;
    if c.per_key_delete {
        // The gateway reads the body too.
        stsgate::s3::DeleteList::parse(body).map_err(|e| e.message)?;
    }
    Ok(Reading {
        operation: c.operation.to_string(),
        bucket: c.target.bucket,
        key: c.target.key,
    })
}

fn sign(g: &Generated, creds: &Creds) -> Option<http::Request<Full<Bytes>>> {
    let mut headers = http::HeaderMap::new();
    headers.insert("host", g.host.parse().ok()?);
    for (k, v) in &g.headers {
        headers.append(
            http::HeaderName::from_bytes(k.as_bytes()).ok()?,
            v.parse().ok()?,
        );
    }
    let (path, query) = g.target.split_once('?').unwrap_or((&g.target, ""));
    let signer = creds.signer("s3");
    let hash = hex::encode(Sha256::digest(&g.body));
    signer
        .sign(
            g.method,
            path,
            query,
            &mut headers,
            &hash,
            stsgate::sigv4::AmzDate::now(),
        )
        .ok()?;
    headers.insert("content-length", g.body.len().into());
    let mut request = http::Request::builder()
        .method(g.method)
        .uri(g.target.as_str());
    *request.headers_mut()? = headers;
    request.body(Full::new(Bytes::from(g.body.clone()))).ok()
}

#[derive(Default, Debug)]
struct Tally {
    sent: usize,
    forwarded: usize,
    refused_by_classification: usize,
    refused_otherwise: usize,
    answered_by_gateway: usize,
    operations: std::collections::BTreeSet<String>,
}

/// Operations the gateway answers from its config (see `server::bucket_policy`).
const ANSWERED_BY_GATEWAY: [&str; 7] = [
    "GetBucketPolicy",
    "PutBucketPolicy",
    "DeleteBucketPolicy",
    "GetBucketPolicyStatus",
    "GetBucketCors",
    "PutBucketCors",
    "DeleteBucketCors",
];

#[test]
fn stsgate_and_s3s_agree_on_every_forwarded_request_of_a_generated_corpus() {
    let cases: usize = std::env::var("STSGATE_DIFFERENTIAL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let seed: u64 = 0x5375_6761_7465_2026;
    let rec = Recorder::start();
    let toml = rec.backend_toml();
    let gw = Gateway::with_backend(&toml, WRITER_ROLE);
    let creds = assume(&gw, WRITER, "differential", None);
    let port: u16 = gw.endpoint.rsplit(':').next().unwrap().parse().unwrap();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut rng = Rng(seed);
    let mut tally = Tally::default();
    let mut failures: Vec<String> = Vec::new();
    let mut sender: Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>> = None;
    for n in 0..cases {
        let generated = generate(&mut rng, port);
        let Some(request) = sign(&generated, &creds) else {
            continue;
        };
        tally.sent += 1;
        let expected = gateway_reading(&request, &generated.body);
        let before = rec.seen_count();
        let status = runtime.block_on(async {
            for _ in 0..2 {
                if sender.as_ref().is_none_or(|s| s.is_closed()) {
                    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                    let (s, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .unwrap();
                    tokio::spawn(conn);
                    sender = Some(s);
                }
                let s = sender.as_mut().unwrap();
                if s.ready().await.is_err() {
                    sender = None;
                    continue;
                }
                match s.send_request(request.clone()).await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let _ = response.into_body().collect().await;
                        return status;
                    }
                    Err(_) => sender = None,
                }
            }
            0
        });
        let arrived = rec.seen_from(before);
        let describe = || {
            format!(
                "#{n} {} {} (host {}) {:?}",
                generated.method, generated.target, generated.host, generated.headers
            )
        };
        match (&expected, arrived.as_slice()) {
            (Ok(reading), [one]) => {
                tally.forwarded += 1;
                tally.operations.insert(reading.operation.clone());
                if one.s3s.as_ref() != Ok(reading) {
                    failures.push(format!(
                        "{}: stsgate authorized {reading:?}, s3s read what the backend got as {:?}",
                        describe(),
                        one.s3s
                    ));
                }
            }
            // Bucket policies and CORS rules live in the gateway's config: it answers those
            // operations itself, and the backend rightly receives nothing.
            (Ok(reading), []) if ANSWERED_BY_GATEWAY.contains(&reading.operation.as_str()) => {
                tally.answered_by_gateway += 1
            }
            (Ok(_), []) => tally.refused_otherwise += 1,
            (Err(_), []) => tally.refused_by_classification += 1,
            (_, many) => failures.push(format!(
                "{}: classified {expected:?}, status {status}, yet the backend received {} request(s): {:?}",
                describe(),
                many.len(),
                many.iter().map(|s| format!("{} {}?{}", s.method, s.path, s.query)).collect::<Vec<_>>()
            )),
        }
    }
    println!("differential corpus (seed {seed:#x}): {tally:#?}");
    assert!(
        failures.is_empty(),
        "{} of {} generated requests were not executed as authorized:\n{}",
        failures.len(),
        tally.sent,
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The corpus must exercise both sides, and many operations.
    assert!(
        tally.forwarded * 4 >= tally.sent,
        "too few requests forwarded: {tally:?}"
    );
    assert!(
        tally.refused_by_classification * 20 >= tally.sent,
        "too few hostile requests: {tally:?}"
    );
    assert!(
        tally.operations.len() >= 25,
        "too few operations: {:?}",
        tally.operations
    );
    // Requests that classify but are refused later (authorization, body checks) are few.
    assert!(tally.refused_otherwise * 10 <= tally.sent, "{tally:?}");
}
