//! Load harness: what the gateway costs per request, measured against a baseline in the same run.
//!
//! An in-process S3 stub stands for the backend (GET answers a fixed object, PUT reads the body
//! and answers 200), so the numbers isolate stsgate's own work rather than a store's disk. Each
//! scenario runs concurrent keep-alive clients that sign every request (SigV4 header auth, the
//! body's SHA-256 for PUT) for a fixed time, twice per round: straight to the stub with its key
//! (baseline) and through an in-process stsgate with AssumeRole session credentials (verify,
//! resolve the session, classify, authorize, re-sign, stream). Rounds alternate baseline and
//! gateway so drift hits both; the report gives medians over rounds and the gateway/baseline
//! ratios.
//!
//! The HTTP API scenario is the same stub behind a `kind = "http"` route: a GET signed for
//! `execute-api` (the body's hash signed, not sent), authorized as `execute-api:Invoke`.
//!
//! Run: `cargo bench --bench load` (about 1.5 minutes). `STSGATE_LOAD_SECONDS` (per run, default 3),
//! `STSGATE_LOAD_ROUNDS` (default 3), `STSGATE_LOAD_CLIENTS` (default 16). Without `--bench`
//! (as `cargo test --all-targets` runs it) it does one short round as a smoke test.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use sha2::{Digest, Sha256};
use stsgate::sigv4::{AmzDate, Signer, SigningKeyCache};

const STUB_KEY: (&str, &str) = (
    "GKloadstub000000000000000",
    "load-stub-secret-000000000000000000000000",
);
const BUCKET: &str = "load";

/// The stub backend: GET returns `object`, PUT drains the body.
async fn stub(object: Bytes) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let object = object.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let object = object.clone();
                        async move {
                            let get = req.method() == http::Method::GET;
                            let _ = req.into_body().collect().await;
                            let body = if get { object } else { Bytes::new() };
                            Ok::<_, std::convert::Infallible>(
                                http::Response::builder()
                                    .header("etag", "\"0123456789abcdef0123456789abcdef\"")
                                    .body(Full::new(body))
                                    .unwrap(),
                            )
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// An in-process gateway in front of `backend`; returns its address and session credentials
/// for a role that may read and write.
async fn gateway(backend: SocketAddr) -> (SocketAddr, (String, String, String)) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let demo = std::fs::read_to_string(root.join("config/stsgate.toml")).unwrap();
    let start = demo.find("[[backends]]").unwrap();
    let end = demo[start..].find("\n\n").map(|i| start + i).unwrap();
    let text = format!(
        "{}\n[[accounts.roles]]\nname = \"load_writer\"\ntrust_policy = '{{\"Version\":\"2012-10-17\",\"Statement\":{{\"Effect\":\"Allow\",\"Principal\":{{\"AWS\":\"arn:aws:iam::111122223333:user/develop\"}},\"Action\":\"sts:AssumeRole\"}}}}'\ninline_policies = [{{ name = \"Bucket\", document = '{{\"Version\":\"2012-10-17\",\"Statement\":{{\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\",\"s3:PutObject\",\"execute-api:Invoke\"],\"Resource\":[\"arn:aws:s3:::{BUCKET}/*\",\"arn:aws:execute-api:*:*:stub-api/*/GET/*\"]}}}}' }}]\n\n[[backends]]\nname = \"stub\"\nkind = \"s3\"\nurl = \"http://{backend}\"\naccess_key_id = \"{}\"\nsecret_access_key = \"{}\"\n\n[[backends]]\nname = \"stub-api\"\nkind = \"http\"\nurl = \"http://{backend}\"\npath_prefix = \"/api\"{}",
        &demo[..start],
        STUB_KEY.0,
        STUB_KEY.1,
        &demo[end..]
    )
    .replace("listen = \"127.0.0.1:7480\"", "listen = \"127.0.0.1:0\"")
    .replace("admin_listen = \"127.0.0.1:7481\"\n", "");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("policies")).unwrap();
    std::fs::copy(
        root.join("config/policies/s3-read-only.json"),
        dir.path().join("policies/s3-read-only.json"),
    )
    .unwrap();
    let path = dir.path().join("stsgate.toml");
    std::fs::write(&path, text).unwrap();
    let loaded = stsgate::config::load(&path).unwrap_or_else(|p| panic!("{p:?}"));
    let config = Arc::new(loaded.config);
    let state = Arc::new(stsgate::server::State::new(config.clone()).unwrap());
    let bound = stsgate::server::Bound::bind(&config).await.unwrap();
    let addr = bound.gateway_addr().unwrap();

    let now = AmzDate::now().unix();
    let develop = state
        .identities
        .resolve(&state.keyring, "AKIARTX3GSDSSMDOBCNR", None, now)
        .unwrap();
    let info = stsgate::sts::RequestInfo {
        now,
        source_ip: Some("127.0.0.1".into()),
        secure_transport: false,
        user_agent: None,
        region: "us-east-1".into(),
    };
    let params: Vec<(String, String)> = [
        ("Action", "AssumeRole"),
        ("Version", "2011-06-15"),
        ("RoleArn", "arn:aws:iam::111122223333:role/load_writer"),
        ("RoleSessionName", "load"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let xml = state
        .sts
        .handle(&params, &develop, &info, "load")
        .await
        .unwrap();
    let field = |name: &str| {
        xml.split(&format!("<{name}>"))
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .to_string()
    };
    let creds = (
        field("AccessKeyId"),
        field("SecretAccessKey"),
        field("SessionToken"),
    );
    tokio::spawn(async move {
        let _dir = dir;
        stsgate::server::serve(state, bound, std::future::pending()).await
    });
    (addr, creds)
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Get,
    Put(usize),
    /// A GET of an HTTP API path, under this route prefix (`""` straight to the backend).
    ApiGet(&'static str),
}

struct Run {
    requests: u64,
    failures: u64,
    bytes: u64,
    elapsed: Duration,
    latencies_us: Vec<u32>,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_us.len() - 1) as f64 * p).round() as usize;
        self.latencies_us[i] as f64 / 1000.0
    }
}

/// `clients` concurrent signing clients against `target` for `seconds`.
async fn run(
    target: SocketAddr,
    signer: Signer,
    op: Op,
    clients: usize,
    duration: Duration,
) -> Run {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(connector);
    let body = match op {
        Op::Get | Op::ApiGet(_) => Bytes::new(),
        Op::Put(n) => Bytes::from((0..n).map(|i| (i % 251) as u8).collect::<Vec<u8>>()),
    };
    let hash = hex::encode(Sha256::digest(&body));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, signer, body, hash) =
            (client.clone(), signer.clone(), body.clone(), hash.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let (mut failures, mut bytes) = (0u64, 0u64);
            let mut i = 0u64;
            while Instant::now() < deadline {
                let (method, path) = match op {
                    Op::Get => ("GET", format!("/{BUCKET}/object")),
                    Op::Put(_) => ("PUT", format!("/{BUCKET}/c{c}/o{i}")),
                    Op::ApiGet(prefix) => ("GET", format!("{prefix}/invoices/{c}")),
                };
                i += 1;
                let mut headers = http::HeaderMap::new();
                headers.insert("host", target.to_string().parse().unwrap());
                let t = Instant::now();
                signer
                    .sign(method, &path, "", &mut headers, &hash, AmzDate::now())
                    .unwrap();
                let mut req = http::Request::builder()
                    .method(method)
                    .uri(format!("http://{target}{path}"));
                *req.headers_mut().unwrap() = headers;
                let req = req.body(Full::new(body.clone())).unwrap();
                match client.request(req).await {
                    Ok(resp) => {
                        let ok = resp.status().is_success();
                        let got = resp.into_body().collect().await.map(|b| b.to_bytes().len());
                        match (ok, got) {
                            (true, Ok(n)) => {
                                bytes += (n + body.len()) as u64;
                                lat.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
                            }
                            _ => failures += 1,
                        }
                    }
                    Err(_) => failures += 1,
                }
            }
            (lat, failures, bytes)
        }));
    }
    let mut all = Vec::new();
    let (mut failures, mut bytes) = (0, 0);
    for t in tasks {
        let (lat, f, b) = t.await.unwrap();
        all.extend(lat);
        failures += f;
        bytes += b;
    }
    let elapsed = started.elapsed();
    all.sort_unstable();
    Run {
        requests: all.len() as u64,
        failures,
        bytes,
        elapsed,
        latencies_us: all,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let (seconds_ms, rounds, clients) = if bench {
        (
            env_or("STSGATE_LOAD_SECONDS", 3) * 1000,
            env_or("STSGATE_LOAD_ROUNDS", 3),
            env_or("STSGATE_LOAD_CLIENTS", 16) as usize,
        )
    } else {
        (300, 1, 4)
    };
    let duration = Duration::from_millis(seconds_ms);
    // As `stsgate serve` runs: info-level logs (one line per forwarded request), written nowhere.
    tracing_subscriber::fmt()
        .with_env_filter("info")
        .with_writer(std::io::sink)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let backend = stub(Bytes::from(vec![7u8; 4096])).await;
        let (gw, (akid, secret, token)) = gateway(backend).await;
        let direct = Signer::new(
            STUB_KEY.0,
            STUB_KEY.1,
            None,
            "us-east-1",
            "s3",
            SigningKeyCache::default(),
        );
        let session = Signer::new(
            &akid,
            &secret,
            Some(&token),
            "us-east-1",
            "s3",
            SigningKeyCache::default(),
        );
        println!(
            "load: {clients} clients, {} ms per run, {rounds} round(s); medians over rounds",
            seconds_ms
        );
        println!(
            "{:<34} {:>12} {:>12} {:>9} {:>9} {:>10}",
            "scenario", "req/s", "MiB/s", "p50 ms", "p99 ms", "failures"
        );
        let direct_api = Signer::new(
            STUB_KEY.0,
            STUB_KEY.1,
            None,
            "us-east-1",
            "execute-api",
            SigningKeyCache::default(),
        );
        let session_api = Signer::new(
            &akid,
            &secret,
            Some(&token),
            "us-east-1",
            "execute-api",
            SigningKeyCache::default(),
        );
        let s3 = (&direct, &session);
        let api = (&direct_api, &session_api);
        for (name, base_op, op, (base_signer, signer)) in [
            ("GET 4 KiB", Op::Get, Op::Get, s3),
            (
                "PUT 64 KiB (signed body)",
                Op::Put(64 * 1024),
                Op::Put(64 * 1024),
                s3,
            ),
            (
                "PUT 1 MiB (signed body)",
                Op::Put(1024 * 1024),
                Op::Put(1024 * 1024),
                s3,
            ),
            (
                "HTTP API GET 4 KiB",
                Op::ApiGet(""),
                Op::ApiGet("/api"),
                api,
            ),
        ] {
            let mut base: Vec<Run> = Vec::new();
            let mut through: Vec<Run> = Vec::new();
            for _ in 0..rounds {
                base.push(run(backend, base_signer.clone(), base_op, clients, duration).await);
                through.push(run(gw, signer.clone(), op, clients, duration).await);
            }
            let mut rows = Vec::new();
            for (label, runs) in [("baseline", &base), ("stsgate", &through)] {
                let rps = median(runs.iter().map(Run::per_second).collect());
                let mibs = median(
                    runs.iter()
                        .map(|r| r.bytes as f64 / r.elapsed.as_secs_f64() / (1024.0 * 1024.0))
                        .collect(),
                );
                let p50 = median(runs.iter().map(|r| r.percentile(0.5)).collect());
                let p99 = median(runs.iter().map(|r| r.percentile(0.99)).collect());
                let failures: u64 = runs.iter().map(|r| r.failures).sum();
                let requests: u64 = runs.iter().map(|r| r.requests).sum();
                println!(
                    "{:<34} {:>12.0} {:>12.1} {:>9.2} {:>9.2} {:>10}",
                    format!("{name} {label}"),
                    rps,
                    mibs,
                    p50,
                    p99,
                    failures
                );
                assert!(requests > 0, "{name} {label}: no request succeeded");
                assert_eq!(failures, 0, "{name} {label}: requests failed");
                rows.push((rps, p50));
            }
            println!(
                "{:<34} throughput {:.2}x of baseline, p50 latency {:.2}x",
                format!("{name} ratio"),
                rows[1].0 / rows[0].0,
                rows[1].1 / rows[0].1
            );
        }
    });
}
