//! Side by side: the backend alone, nginx as a plain reverse proxy, and stsgate (verify +
//! session + policy + re-sign), all in front of the same s3s-fs, measured in one command.
//!
//! Run `scripts/bench.sh` (installs nginx, wrk and s3s-fs when missing, then runs this with
//! `cargo bench --bench compare`). Rounds are interleaved (backend, nginx, stsgate, repeated
//! `STSGATE_BENCH_ROUNDS` times, default 3, each `STSGATE_BENCH_SECONDS` long, default 5) and the
//! report gives medians. Per scenario: req/s (or MiB/s), p50/p99 latency, errors, the CPU time
//! each server process spent per request (utime + stime from `/proc/PID/stat`, nginx's workers
//! included), peak RSS sampled during the runs, and ratios to the backend alone and to nginx.
//! The table goes to stdout and to `benches/RESULTS.md` with the machine and the command.
//!
//! Small-request scenarios replay signed headers with `wrk -t1` (a signature stays valid for 15
//! minutes); "fresh signatures" uses an in-process client that signs every request. Uploads use
//! the in-process client: a 64 MiB PUT with its SHA-256 signed, and a 1 GiB
//! `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` upload whose chunks are generated and signed on the fly.
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it does nothing but say so: the
//! comparison needs nginx and wrk, which `scripts/bench.sh` installs.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sha2::{Digest, Sha256};
use stsgate::sigv4::canonical::{PathForm, write_canonical_request, write_string_to_sign};
use stsgate::sigv4::{AmzDate, RequestParts, Signer, SigningKey, SigningKeyCache, UriMode};

const BUCKET: &str = "bench";
const OBJECT: &str = "object-4k";
const DEVELOP: (&str, &str) = (
    "AKIARTX3GSDSSMDOBCNR",
    "zNCaXt23IxFgfCt08vWrL/AoIP1Dw3kANWGG3cDE",
);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// CPU ticks (utime + stime) of a process.
fn cpu_ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
        return 0;
    };
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat; `after` starts at field 3.
    fields
        .get(11)
        .and_then(|f| f.parse::<u64>().ok())
        .unwrap_or(0)
        + fields
            .get(12)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// A process and its children (nginx's workers).
fn family(pid: u32) -> Vec<u32> {
    let mut out = vec![pid];
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
                continue;
            };
            let ppid = stat
                .rfind(')')
                .and_then(|i| stat[i + 2..].split_whitespace().nth(1)?.parse::<u32>().ok());
            if ppid == Some(pid) {
                out.push(child);
            }
        }
    }
    out
}

fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

/// One server under test.
struct Target {
    name: &'static str,
    /// stsgate (this build or the baseline binary): session credentials, refusal by policy.
    gateway: bool,
    addr: SocketAddr,
    root_pid: u32,
    /// Signs requests addressed to it (the backend's key, or stsgate session credentials).
    signer: Signer,
}

impl Target {
    fn pids(&self) -> Vec<u32> {
        family(self.root_pid)
    }
    fn cpu(&self) -> u64 {
        self.pids().into_iter().map(cpu_ticks).sum()
    }
}

/// Samples the RSS of the targets every 50 ms while a run lasts; returns the peaks.
struct RssSampler {
    stop: Arc<AtomicBool>,
    peaks: Vec<Arc<AtomicU64>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    fn start(pids: Vec<Vec<u32>>) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peaks: Vec<Arc<AtomicU64>> = pids.iter().map(|_| Arc::new(AtomicU64::new(0))).collect();
        let (s, p) = (stop.clone(), peaks.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                for (group, peak) in pids.iter().zip(&p) {
                    let rss: u64 = group.iter().map(|pid| rss_kib(*pid)).sum();
                    peak.fetch_max(rss, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        RssSampler {
            stop,
            peaks,
            thread: Some(thread),
        }
    }
    fn finish(mut self) -> Vec<u64> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.peaks
            .iter()
            .map(|p| p.load(Ordering::Relaxed))
            .collect()
    }
}

/// What one run measured.
#[derive(Debug, Default, Clone)]
struct Measure {
    requests: u64,
    errors: u64,
    seconds: f64,
    /// Bytes moved per second (uploads), if the scenario counts bytes.
    mib_per_s: Option<f64>,
    /// MiB uploaded (uploads): CPU is then reported per MiB.
    mib: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// CPU µs per request of the server processes of the target itself (for proxies: the proxy
    /// only; for the backend alone: the backend).
    cpu_us_per_req: f64,
    /// CPU µs per request of the backend behind a proxy (0 for the backend alone).
    backend_cpu_us_per_req: f64,
    peak_rss_kib: u64,
}

#[derive(Clone, Copy)]
enum Scenario {
    /// wrk replaying one signed request (`presign`: a presigned URL instead of headers).
    Wrk {
        method: &'static str,
        path: &'static str,
        query: &'static str,
        connections: u32,
        presign: bool,
        refused: bool,
    },
    /// In-process clients (`fresh`: signing every request afresh; else replaying one signature).
    Client {
        method: &'static str,
        fresh: bool,
        connections: usize,
    },
    /// 64 MiB PUTs with the body's SHA-256 signed, two at a time.
    Put64,
    /// One 1 GiB aws-chunked upload, chunks signed on the fly.
    Stream1G,
    /// 1,000 idle keep-alive connections (each served one request first).
    Idle1000,
}

struct Named {
    name: &'static str,
    scenario: Scenario,
}

fn scenarios() -> Vec<Named> {
    let wrk = |method, path, query, connections, presign, refused| Scenario::Wrk {
        method,
        path,
        query,
        connections,
        presign,
        refused,
    };
    vec![
        Named {
            name: "GET 4 KiB, 64 conns",
            scenario: wrk("GET", "/bench/object-4k", "", 64, false, false),
        },
        Named {
            name: "GET 4 KiB, 256 conns",
            scenario: wrk("GET", "/bench/object-4k", "", 256, false, false),
        },
        Named {
            name: "HEAD, 64 conns (in-process client)",
            scenario: Scenario::Client {
                method: "HEAD",
                fresh: false,
                connections: 64,
            },
        },
        Named {
            name: "ListObjectsV2, 64 conns",
            scenario: wrk(
                "GET",
                "/bench",
                "list-type=2&prefix=object",
                64,
                false,
                false,
            ),
        },
        Named {
            name: "refused (403), 64 conns",
            scenario: wrk("GET", "/bench/object-4k", "", 64, false, true),
        },
        Named {
            name: "presigned GET, 64 conns",
            scenario: wrk("GET", "/bench/object-4k", "", 64, true, false),
        },
        Named {
            name: "GET 4 KiB, fresh signatures, 64 conns (in-process client)",
            scenario: Scenario::Client {
                method: "GET",
                fresh: true,
                connections: 64,
            },
        },
        Named {
            name: "PUT 64 MiB, signed SHA-256",
            scenario: Scenario::Put64,
        },
        Named {
            name: "1 GiB STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            scenario: Scenario::Stream1G,
        },
        Named {
            name: "1,000 idle keep-alive connections",
            scenario: Scenario::Idle1000,
        },
    ]
}

/// Signed headers for a request to `target`, as `-H` values for wrk.
fn signed_headers(
    target: &Target,
    signer: &Signer,
    method: &str,
    path: &str,
    query: &str,
) -> Vec<(String, String)> {
    let mut headers = HeaderMap::new();
    headers.insert(
        "host",
        HeaderValue::from_str(&target.addr.to_string()).unwrap(),
    );
    signer
        .sign(
            method,
            path,
            query,
            &mut headers,
            stsgate::sigv4::EMPTY_SHA256,
            AmzDate::now(),
        )
        .unwrap();
    headers
        .iter()
        .filter(|(k, _)| k.as_str() != "host")
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
        .collect()
}

/// A presigned query for GET `path` at `target`, valid for an hour.
fn presigned_query(
    target: &Target,
    key_id: &str,
    secret: &str,
    token: Option<&str>,
    path: &str,
) -> String {
    let now = AmzDate::now();
    let date = now.date_str().to_string();
    let scope = format!("{date}/us-east-1/s3/aws4_request");
    let enc = |s: &str| stsgate::sigv4::encoding::uri_encode(s.as_bytes(), false);
    let mut query = format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={}&X-Amz-Date={}&X-Amz-Expires=3600",
        enc(&format!("{key_id}/{scope}")),
        now.as_str()
    );
    if let Some(t) = token {
        query.push_str(&format!("&X-Amz-Security-Token={}", enc(t)));
    }
    query.push_str("&X-Amz-SignedHeaders=host");
    let mut headers = HeaderMap::new();
    headers.insert(
        "host",
        HeaderValue::from_str(&target.addr.to_string()).unwrap(),
    );
    let req = RequestParts {
        method: "GET",
        path,
        query: &query,
        headers: &headers,
        authority: None,
    };
    let mut canonical = Vec::new();
    write_canonical_request(
        &mut canonical,
        &req,
        PathForm::Canonical(UriMode::S3),
        true,
        &["host"],
        "UNSIGNED-PAYLOAD",
    )
    .unwrap();
    let mut sts = Vec::new();
    write_string_to_sign(&mut sts, &now, &scope, &canonical);
    let sig = SigningKey::derive(secret, &date, "us-east-1", "s3").sign(&sts);
    format!("{query}&X-Amz-Signature={}", hex::encode(sig))
}

/// Parses a wrk duration ("1.23ms", "456.00us", "1.2s") into milliseconds.
fn wrk_ms(text: &str) -> f64 {
    let (num, unit) = text.split_at(
        text.find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(text.len()),
    );
    let n: f64 = num.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => f64::NAN,
    }
}

fn run_wrk(
    url: &str,
    method: &str,
    headers: &[(String, String)],
    connections: u32,
    seconds: u64,
    dir: &Path,
) -> Measure {
    let script = dir.join(format!("{}.lua", method.to_ascii_lowercase()));
    std::fs::write(&script, format!("wrk.method = \"{method}\"\n")).unwrap();
    let mut cmd = Command::new("wrk");
    cmd.args([
        "-t1",
        &format!("-c{connections}"),
        &format!("-d{seconds}s"),
        "--latency",
        "--timeout",
        "10s",
        "-s",
    ])
    .arg(&script);
    for (k, v) in headers {
        cmd.args(["-H", &format!("{k}: {v}")]);
    }
    let out = cmd
        .arg(url)
        .output()
        .expect("wrk (Debian package wrk) runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut m = Measure::default();
    for line in text.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("50%") {
            m.p50_ms = wrk_ms(rest.trim());
        } else if let Some(rest) = t.strip_prefix("99%") {
            m.p99_ms = wrk_ms(rest.trim());
        } else if t.contains(" requests in ") {
            m.requests = t
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            m.seconds = t
                .split(" requests in ")
                .nth(1)
                .and_then(|r| r.split(',').next())
                .map(|d| wrk_ms(d.trim()) / 1000.0)
                .unwrap_or(seconds as f64);
        } else if let Some(rest) = t.strip_prefix("Non-2xx or 3xx responses:") {
            m.errors += rest.trim().parse::<u64>().unwrap_or(0);
        } else if let Some(rest) = t.strip_prefix("Socket errors:") {
            m.errors += rest
                .split(',')
                .filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    assert!(
        m.requests > 0,
        "wrk ran no request against {url}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    m
}

fn client() -> Client<HttpConnector, http_body_util::combinators::BoxBody<Bytes, std::io::Error>> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(1024)
        .build(connector)
}

fn full(b: Bytes) -> http_body_util::combinators::BoxBody<Bytes, std::io::Error> {
    Full::new(b).map_err(|never| match never {}).boxed()
}

/// `method` on the 4 KiB object from `connections` concurrent in-process clients for `seconds`:
/// each request signed afresh (`fresh`), or one signature per client replayed (as wrk does; HEAD
/// goes this way because wrk waits for a HEAD response's body).
async fn run_client(
    target: &Target,
    method: &'static str,
    fresh: bool,
    connections: usize,
    seconds: u64,
) -> Measure {
    let client = client();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, signer, addr) = (client.clone(), target.signer.clone(), target.addr);
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors) = (Vec::new(), 0u64);
            let path = format!("/{BUCKET}/{OBJECT}");
            let mut replayed = HeaderMap::new();
            replayed.insert("host", HeaderValue::from_str(&addr.to_string()).unwrap());
            signer
                .sign(
                    method,
                    &path,
                    "",
                    &mut replayed,
                    stsgate::sigv4::EMPTY_SHA256,
                    AmzDate::now(),
                )
                .unwrap();
            while Instant::now() < deadline {
                let t = Instant::now();
                let headers = if fresh {
                    let mut headers = HeaderMap::new();
                    headers.insert("host", HeaderValue::from_str(&addr.to_string()).unwrap());
                    signer
                        .sign(
                            method,
                            &path,
                            "",
                            &mut headers,
                            stsgate::sigv4::EMPTY_SHA256,
                            AmzDate::now(),
                        )
                        .unwrap();
                    headers
                } else {
                    replayed.clone()
                };
                let mut req = http::Request::builder()
                    .method(method)
                    .uri(format!("http://{addr}{path}"));
                *req.headers_mut().unwrap() = headers;
                match client.request(req.body(full(Bytes::new())).unwrap()).await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.into_body().collect().await;
                        lat.push(t.elapsed().as_micros() as u32);
                    }
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        all.extend(l);
        errors += e;
    }
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len().max(1) - 1) as f64 * p) as usize)
            .map_or(f64::NAN, |v| *v as f64 / 1000.0)
    };
    Measure {
        requests: all.len() as u64,
        errors,
        seconds: started.elapsed().as_secs_f64(),
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        ..Measure::default()
    }
}

/// 64 MiB PUTs with a signed SHA-256, two concurrent uploaders, for `seconds` (at least one each).
async fn run_put64(target: &Target, body: Bytes, hash: Arc<String>, seconds: u64) -> Measure {
    let client = client();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..2 {
        let (client, signer, addr, body, hash) = (
            client.clone(),
            target.signer.clone(),
            target.addr,
            body.clone(),
            hash.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors, mut i) = (Vec::new(), 0u64, 0u32);
            while i == 0 || Instant::now() < deadline {
                let path = format!("/{BUCKET}/put64-{c}-{i}");
                i += 1;
                let t = Instant::now();
                let mut headers = HeaderMap::new();
                headers.insert("host", HeaderValue::from_str(&addr.to_string()).unwrap());
                headers.insert("content-length", HeaderValue::from(body.len()));
                signer
                    .sign("PUT", &path, "", &mut headers, &hash, AmzDate::now())
                    .unwrap();
                let mut req = http::Request::builder()
                    .method("PUT")
                    .uri(format!("http://{addr}{path}"));
                *req.headers_mut().unwrap() = headers;
                match client.request(req.body(full(body.clone())).unwrap()).await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.into_body().collect().await;
                        lat.push(t.elapsed().as_micros() as u32);
                    }
                    Ok(r) => {
                        let status = r.status();
                        let text = r
                            .into_body()
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        eprintln!("PUT 64 MiB: {status} {}", String::from_utf8_lossy(&text));
                        errors += 1;
                    }
                    Err(e) => {
                        eprintln!("PUT 64 MiB: {e}");
                        errors += 1;
                    }
                }
            }
            (lat, errors)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await.unwrap();
        all.extend(l);
        errors += e;
    }
    all.sort_unstable();
    let secs = started.elapsed().as_secs_f64();
    let pct = |p: f64| {
        all.get(((all.len().max(1) - 1) as f64 * p) as usize)
            .map_or(f64::NAN, |v| *v as f64 / 1000.0)
    };
    Measure {
        requests: all.len() as u64,
        errors,
        seconds: secs,
        mib_per_s: Some(all.len() as f64 * 64.0 / secs),
        mib: all.len() as f64 * 64.0,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        ..Measure::default()
    }
}

const STREAM_SIZE: u64 = 1 << 30;
const STREAM_CHUNK: usize = 64 * 1024;

/// One 1 GiB aws-chunked upload with signed chunks, generated and signed as it is sent.
async fn run_stream(
    target: &Target,
    key_id: &str,
    secret: &str,
    token: Option<&str>,
    run: u32,
) -> Measure {
    let client = client();
    let path = format!("/{BUCKET}/stream-{run}");
    let chunks = STREAM_SIZE.div_ceil(STREAM_CHUNK as u64);
    let encoded_len = |n: usize| format!("{n:x};chunk-signature=").len() + 64 + 2 + n + 2;
    let content_length = chunks * encoded_len(STREAM_CHUNK) as u64 + encoded_len(0) as u64;
    let mut headers = HeaderMap::new();
    headers.insert(
        "host",
        HeaderValue::from_str(&target.addr.to_string()).unwrap(),
    );
    headers.insert("content-encoding", HeaderValue::from_static("aws-chunked"));
    headers.insert(
        "x-amz-decoded-content-length",
        HeaderValue::from(STREAM_SIZE),
    );
    headers.insert("content-length", HeaderValue::from(content_length));
    let signer = Signer::new(
        key_id,
        secret,
        token,
        "us-east-1",
        "s3",
        SigningKeyCache::disabled(),
    );
    let now = AmzDate::now();
    let seed = signer
        .sign(
            "PUT",
            &path,
            "",
            &mut headers,
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            now,
        )
        .unwrap();
    let date = now.date_str().to_string();
    let key = Arc::new(SigningKey::derive(secret, &date, "us-east-1", "s3"));
    let scope = format!("{date}/us-east-1/s3/aws4_request");
    let data = Bytes::from(
        (0..STREAM_CHUNK)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>(),
    );
    let data_hash: [u8; 32] = Sha256::digest(&data).into();
    let empty_hash: [u8; 32] = Sha256::digest(b"").into();
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    let producer = tokio::spawn(async move {
        let mut previous = seed;
        for i in 0..=chunks {
            let (piece, hash) = if i < chunks {
                (data.clone(), data_hash)
            } else {
                (Bytes::new(), empty_hash)
            };
            let sig =
                stsgate::sigv4::chunked::chunk_signature(&key, &now, &scope, &previous, &hash);
            previous = sig;
            let mut frame =
                format!("{:x};chunk-signature={}\r\n", piece.len(), hex::encode(sig)).into_bytes();
            frame.extend_from_slice(&piece);
            frame.extend_from_slice(b"\r\n");
            if tx.send(Bytes::from(frame)).await.is_err() {
                return;
            }
        }
    });
    let body = ChannelBody {
        rx,
        length: content_length,
    }
    .boxed();
    let mut req = http::Request::builder()
        .method("PUT")
        .uri(format!("http://{}{path}", target.addr));
    *req.headers_mut().unwrap() = headers;
    let t = Instant::now();
    let result = client.request(req.body(body).unwrap()).await;
    let (ok, detail) = match result {
        Ok(r) => {
            let status = r.status();
            let text = r
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            (
                status.is_success(),
                format!("{status} {}", String::from_utf8_lossy(&text)),
            )
        }
        Err(e) => (false, e.to_string()),
    };
    producer.abort();
    let secs = t.elapsed().as_secs_f64();
    if !ok {
        eprintln!("1 GiB streaming upload to {}: {detail}", target.name);
    }
    Measure {
        requests: 1,
        errors: u64::from(!ok),
        seconds: secs,
        mib_per_s: Some(1024.0 / secs),
        mib: if ok { 1024.0 } else { 0.0 },
        p50_ms: secs * 1000.0,
        p99_ms: secs * 1000.0,
        ..Measure::default()
    }
}

/// A request body fed by a channel: the producer generates (and signs) chunks as the upload
/// drains them, so memory stays at a few chunks.
struct ChannelBody {
    rx: tokio::sync::mpsc::Receiver<Bytes>,
    length: u64,
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        self.rx
            .poll_recv(cx)
            .map(|b| b.map(|b| Ok(http_body::Frame::data(b))))
    }
    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.length)
    }
}

/// 1,000 keep-alive connections, each served one HEAD, then held idle for `seconds`. Reports
/// the CPU the target spent while they were idle (µs per connection) and its peak RSS.
async fn run_idle(target: &Target, seconds: u64) -> (Measure, Vec<tokio::net::TcpStream>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let headers = signed_headers(
        target,
        &target.signer,
        "HEAD",
        &format!("/{BUCKET}/{OBJECT}"),
        "",
    );
    let mut request = format!(
        "HEAD /{BUCKET}/{OBJECT} HTTP/1.1\r\nhost: {}\r\n",
        target.addr
    );
    for (k, v) in &headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    let mut conns = Vec::with_capacity(1000);
    let mut errors = 0;
    for _ in 0..1000 {
        let Ok(mut s) = tokio::net::TcpStream::connect(target.addr).await else {
            errors += 1;
            continue;
        };
        let mut buf = [0u8; 2048];
        let ok = s.write_all(request.as_bytes()).await.is_ok()
            && matches!(tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await, Ok(Ok(n)) if buf[..n].starts_with(b"HTTP/1.1 200"));
        if ok {
            conns.push(s);
        } else {
            errors += 1;
        }
    }
    let cpu_before = target.cpu();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let ticks = target.cpu() - cpu_before;
    let m = Measure {
        requests: conns.len() as u64,
        errors,
        seconds: seconds as f64,
        cpu_us_per_req: ticks as f64 / ticks_per_second() * 1e6 / conns.len().max(1) as f64,
        ..Measure::default()
    };
    (m, conns)
}

/// Starts s3s-fs through `scripts/backend.sh`; returns (endpoint, key id, secret, pid, dir).
fn start_backend(dir: &Path) -> (SocketAddr, String, String, u32) {
    let out = Command::new(root().join("scripts/backend.sh"))
        .args(["start", "s3s-fs"])
        .arg(dir.join("s3s-fs"))
        .env("BACKEND_BUCKET", BUCKET)
        .stderr(Stdio::inherit())
        .output()
        .expect("scripts/backend.sh runs");
    assert!(
        out.status.success(),
        "s3s-fs did not start (scripts/backend.sh install s3s-fs)"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("backend.sh printed no {k}"))
            .to_string()
    };
    let addr = get("ENDPOINT")
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    (
        addr,
        get("ACCESS_KEY_ID"),
        get("SECRET_ACCESS_KEY"),
        get("PID").parse().unwrap(),
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_port(addr: SocketAddr, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "{what} exited at start"
        );
        assert!(
            Instant::now() < deadline,
            "{what} did not start listening on {addr}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// nginx as a plain reverse proxy in front of `backend` (keep-alive upstream, streaming both
/// ways, Host passed through so the client's signature still verifies at the backend).
fn start_nginx(dir: &Path, backend: SocketAddr) -> (Child, SocketAddr) {
    let port = free_port();
    let d = dir.join("nginx");
    std::fs::create_dir_all(&d).unwrap();
    let conf = format!(
        r#"worker_processes auto;
worker_rlimit_nofile 65536;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 16384; }}
http {{
  access_log {d}/access.log;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  upstream backend {{ server {backend}; keepalive 256; }}
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 0;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    location / {{
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_request_buffering off;
      proxy_buffering off;
    }}
  }}
}}
"#,
        d = d.display()
    );
    std::fs::write(d.join("nginx.conf"), conf).unwrap();
    let mut child = Command::new("nginx")
        .arg("-c")
        .arg(d.join("nginx.conf"))
        .args(["-g", "daemon off;"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx (Debian package nginx) runs");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_port(addr, &mut child, "nginx");
    (child, addr)
}

/// stsgate (release build) in front of `backend`, with a role that may use the bench bucket
/// except `secret-*` (the refused scenario).
fn start_stsgate(
    binary: &Path,
    name: &str,
    dir: &Path,
    backend: SocketAddr,
    key: &str,
    secret: &str,
) -> (Child, SocketAddr) {
    // A port found free may be taken as an ephemeral port before stsgate binds it: try again.
    let mut last = String::new();
    for _ in 0..3 {
        match try_start_stsgate(binary, name, dir, backend, key, secret) {
            Ok(started) => return started,
            Err(log) => last = log,
        }
    }
    panic!("{} did not start; its log:\n{last}", binary.display());
}

fn try_start_stsgate(
    binary: &Path,
    name: &str,
    dir: &Path,
    backend: SocketAddr,
    key: &str,
    secret: &str,
) -> Result<(Child, SocketAddr), String> {
    let demo = std::fs::read_to_string(root().join("config/stsgate.toml")).unwrap();
    let start = demo.find("[[backends]]").unwrap();
    let port = free_port();
    let role = format!(
        r#"[[accounts.roles]]
name = "bench_role"
trust_policy = '{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111122223333:user/develop"}},"Action":"sts:AssumeRole"}}}}'
inline_policies = [{{ name = "Bench", document = '{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:*","Resource":["arn:aws:s3:::{BUCKET}","arn:aws:s3:::{BUCKET}/*"]}},{{"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::{BUCKET}/secret-*"}}]}}' }}]

[[backends]]
name = "s3s-fs"
kind = "s3"
url = "http://{backend}"
access_key_id = "{key}"
secret_access_key = "{secret}"
"#
    );
    // The demo's backends (and its demo API route) are replaced by the bench backend.
    let text = format!("{}{role}", &demo[..start])
        .replace(
            "listen = \"127.0.0.1:7480\"",
            &format!("listen = \"127.0.0.1:{port}\""),
        )
        .lines()
        .filter(|l| !l.starts_with("admin_listen"))
        .collect::<Vec<_>>()
        .join("\n");
    let d = dir.join(name);
    std::fs::create_dir_all(d.join("policies")).unwrap();
    std::fs::copy(
        root().join("config/policies/s3-read-only.json"),
        d.join("policies/s3-read-only.json"),
    )
    .unwrap();
    std::fs::write(d.join("stsgate.toml"), text).unwrap();
    let log = std::fs::File::create(d.join("stsgate.log")).unwrap();
    let mut child = Command::new(binary)
        .arg("serve")
        .arg("--config")
        .arg(d.join("stsgate.toml"))
        .stderr(log)
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{} (cargo build --release): {e}", binary.display()));
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_port(addr, &mut child, "stsgate")
    }))
    .is_err()
    {
        let _ = child.kill();
        let _ = child.wait();
        return Err(std::fs::read_to_string(d.join("stsgate.log")).unwrap_or_default());
    }
    Ok((child, addr))
}

/// Sends one request with std (setup only) and returns (status, body).
fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let mut wire = format!("{method} {path} HTTP/1.1\r\n");
    for (k, v) in headers {
        wire.push_str(&format!("{k}: {}\r\n", v.to_str().unwrap()));
    }
    wire.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    s.write_all(wire.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (
        status,
        out.split_once("\r\n\r\n")
            .map(|x| x.1.to_string())
            .unwrap_or_default(),
    )
}

/// Session credentials for bench_role from stsgate's own STS (AssumeRole as develop).
fn assume_role(gw: SocketAddr) -> (String, String, String) {
    let body = b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fbench_role&RoleSessionName=bench";
    let signer = Signer::new(
        DEVELOP.0,
        DEVELOP.1,
        None,
        "us-east-1",
        "sts",
        SigningKeyCache::disabled(),
    );
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_str(&gw.to_string()).unwrap());
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
    );
    signer
        .sign(
            "POST",
            "/",
            "",
            &mut headers,
            &hex::encode(Sha256::digest(body)),
            AmzDate::now(),
        )
        .unwrap();
    let (status, xml) = send(gw, "POST", "/", &headers, body);
    assert_eq!(status, 200, "AssumeRole: {xml}");
    let field = |name: &str| {
        xml.split(&format!("<{name}>"))
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .to_string()
    };
    (
        field("AccessKeyId"),
        field("SecretAccessKey"),
        field("SessionToken"),
    )
}

fn put_object(addr: SocketAddr, signer: &Signer, key: &str, data: &[u8]) {
    let path = format!("/{BUCKET}/{key}");
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_str(&addr.to_string()).unwrap());
    signer
        .sign(
            "PUT",
            &path,
            "",
            &mut headers,
            &hex::encode(Sha256::digest(data)),
            AmzDate::now(),
        )
        .unwrap();
    let (status, text) = send(addr, "PUT", &path, &headers, data);
    assert_eq!(status, 200, "PUT {path}: {text}");
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| !x.is_nan());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let version = |cmd: &str, arg: &str| {
        Command::new(cmd)
            .arg(arg)
            .output()
            .map(|o| {
                let t = format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
                t.lines().next().unwrap_or("").trim().to_string()
            })
            .unwrap_or_default()
    };
    let kernel = version("uname", "-r");
    format!(
        "{cores} cores ({cpu}), Linux {kernel}; {}; {}; s3s-fs 0.14.1; stsgate {} (release build)",
        version("nginx", "-v"),
        version("wrk", "-v").split(" [").next().unwrap_or(""),
        env!("CARGO_PKG_VERSION")
    )
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("compare: run scripts/bench.sh (needs nginx, wrk, s3s-fs and a release build)");
        return;
    }
    let seconds = env_or("STSGATE_BENCH_SECONDS", 5);
    let rounds = env_or("STSGATE_BENCH_ROUNDS", 3);
    let only = std::env::var("STSGATE_BENCH_ONLY").ok();
    let dir = tempfile::tempdir().unwrap();
    let (backend_addr, key, secret, backend_pid) = start_backend(dir.path());
    let _backend_guard = Stop::Backend(dir.path().join("s3s-fs"));
    let (nginx, nginx_addr) = start_nginx(dir.path(), backend_addr);
    let _nginx_guard = Stop::Process(nginx.id());
    let (gw, gw_addr) = start_stsgate(
        &root().join("target/release/stsgate"),
        "stsgate",
        dir.path(),
        backend_addr,
        &key,
        &secret,
    );
    let _gw_guard = Stop::Process(gw.id());
    // Another stsgate binary (an earlier build) measured in the same rounds, same config.
    let baseline = std::env::var_os("STSGATE_BENCH_BASELINE").map(|bin| {
        start_stsgate(
            Path::new(&bin),
            "baseline",
            dir.path(),
            backend_addr,
            &key,
            &secret,
        )
    });
    let _baseline_guard = baseline.as_ref().map(|(c, _)| Stop::Process(c.id()));
    let direct = Signer::new(
        &key,
        &secret,
        None,
        "us-east-1",
        "s3",
        SigningKeyCache::default(),
    );
    let object: Vec<u8> = (0..4096).map(|i| (i % 251) as u8).collect();
    put_object(backend_addr, &direct, OBJECT, &object);
    put_object(backend_addr, &direct, "secret-4k", &object);
    let (akid, sk, token) = assume_role(gw_addr);
    let session = Signer::new(
        &akid,
        &sk,
        Some(&token),
        "us-east-1",
        "s3",
        SigningKeyCache::default(),
    );
    let mut targets = vec![
        Target {
            name: "backend alone",
            gateway: false,
            addr: backend_addr,
            root_pid: backend_pid,
            signer: direct.clone(),
        },
        Target {
            name: "nginx",
            gateway: false,
            addr: nginx_addr,
            root_pid: nginx.id(),
            signer: direct.clone(),
        },
        Target {
            name: "stsgate",
            gateway: true,
            addr: gw_addr,
            root_pid: gw.id(),
            signer: session.clone(),
        },
    ];
    if let Some((child, addr)) = &baseline {
        // Both gateways share the config's keyring, so the session works at both.
        targets.push(Target {
            name: "stsgate baseline",
            gateway: true,
            addr: *addr,
            root_pid: child.id(),
            signer: session.clone(),
        });
    }
    let tick = ticks_per_second();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let put_body = Bytes::from(
        (0..64usize << 20)
            .map(|i| (i % 253) as u8)
            .collect::<Vec<u8>>(),
    );
    let put_hash = Arc::new(hex::encode(Sha256::digest(&put_body)));
    println!(
        "compare: {seconds} s per run, {rounds} round(s), medians; {}",
        machine()
    );
    let mut report = String::new();
    for named in scenarios() {
        if only.as_deref().is_some_and(|o| !named.name.contains(o)) {
            continue;
        }
        let mut runs: Vec<Vec<Measure>> = vec![Vec::new(); targets.len()];
        for round in 0..rounds {
            for (t, target) in targets.iter().enumerate() {
                let backend = &targets[0];
                let (cpu0, bcpu0) = (target.cpu(), backend.cpu());
                let sampler = RssSampler::start(vec![target.pids()]);
                let mut m = match named.scenario {
                    Scenario::Wrk {
                        method,
                        path,
                        query,
                        connections,
                        presign,
                        refused,
                    } => {
                        let (path, headers) = match (refused, t) {
                            // The gateway refuses by policy; the others get a signature they refuse.
                            (true, _) if target.gateway => (
                                "/bench/secret-4k",
                                signed_headers(
                                    target,
                                    &target.signer,
                                    method,
                                    "/bench/secret-4k",
                                    query,
                                ),
                            ),
                            (true, _) => {
                                let wrong = Signer::new(
                                    &key,
                                    "not-the-secret",
                                    None,
                                    "us-east-1",
                                    "s3",
                                    SigningKeyCache::disabled(),
                                );
                                (path, signed_headers(target, &wrong, method, path, query))
                            }
                            (false, _) if presign => (path, Vec::new()),
                            (false, _) => (
                                path,
                                signed_headers(target, &target.signer, method, path, query),
                            ),
                        };
                        let query = if presign {
                            if target.gateway {
                                presigned_query(target, &akid, &sk, Some(&token), path)
                            } else {
                                presigned_query(target, &key, &secret, None, path)
                            }
                        } else {
                            query.to_string()
                        };
                        let url = format!(
                            "http://{}{path}{}{query}",
                            target.addr,
                            if query.is_empty() { "" } else { "?" }
                        );
                        let mut m =
                            run_wrk(&url, method, &headers, connections, seconds, dir.path());
                        if refused {
                            // Every answer should be a refusal: errors are the ones that were not.
                            m.errors = m.requests.saturating_sub(m.errors);
                        }
                        m
                    }
                    Scenario::Client {
                        method,
                        fresh,
                        connections,
                    } => runtime.block_on(run_client(target, method, fresh, connections, seconds)),
                    Scenario::Put64 => runtime.block_on(run_put64(
                        target,
                        put_body.clone(),
                        put_hash.clone(),
                        seconds,
                    )),
                    Scenario::Stream1G => {
                        let (id, s, tok) = if target.gateway {
                            (akid.as_str(), sk.as_str(), Some(token.as_str()))
                        } else {
                            (key.as_str(), secret.as_str(), None)
                        };
                        runtime.block_on(run_stream(
                            target,
                            id,
                            s,
                            tok,
                            round as u32 * 10 + t as u32,
                        ))
                    }
                    Scenario::Idle1000 => {
                        let (m, conns) = runtime.block_on(run_idle(target, seconds));
                        drop(conns);
                        m
                    }
                };
                let peak = sampler.finish()[0];
                m.peak_rss_kib = peak;
                if !matches!(named.scenario, Scenario::Idle1000) {
                    let ticks = target.cpu() - cpu0;
                    // Uploads: CPU per MiB moved; everything else: per request.
                    let reqs = if m.mib > 0.0 {
                        m.mib
                    } else {
                        m.requests.max(1) as f64
                    };
                    m.cpu_us_per_req = ticks as f64 / tick * 1e6 / reqs;
                    if t > 0 {
                        m.backend_cpu_us_per_req =
                            (backend.cpu() - bcpu0) as f64 / tick * 1e6 / reqs;
                    }
                }
                runs[t].push(m);
            }
        }
        report.push_str(&table(named.name, &named.scenario, &targets, &runs));
        print!("{}", table(named.name, &named.scenario, &targets, &runs));
    }
    if only.is_none() {
        let baseline_line = match std::env::var("STSGATE_BENCH_BASELINE") {
            Ok(bin) => format!(
                "`stsgate baseline` is another stsgate binary run in the same rounds with the same config (`STSGATE_BENCH_BASELINE={bin}`): {}.\n\n",
                std::env::var("STSGATE_BENCH_BASELINE_LABEL")
                    .unwrap_or_else(|_| "an earlier build".into())
            ),
            Err(_) => String::new(),
        };
        let out = format!(
            "# Side-by-side results\n\nMachine: {}.\n\nCommand: `scripts/bench.sh` (= `cargo bench --bench compare` with `STSGATE_BENCH_SECONDS={seconds} STSGATE_BENCH_ROUNDS={rounds}`), run on {}.\n\n{baseline_line}Each row is the median of {rounds} interleaved runs (backend alone, nginx, stsgate, repeated). `CPU µs/req`: user + system CPU of that server's processes (nginx: master and workers) divided by the requests it answered; `backend CPU` is what the backend behind a proxy spent per request. For idle connections, CPU is µs per connection over {seconds} s of idleness. Peak RSS is sampled every 50 ms during the runs. All processes share the machine's cores with the load generator (wrk -t1, or the in-process client for fresh signatures and uploads).\n\n{report}",
            machine(),
            httpdate::fmt_http_date(std::time::SystemTime::now())
        );
        std::fs::write(root().join("benches/RESULTS.md"), out).unwrap();
        println!("written to benches/RESULTS.md");
    }
}

/// Stops what the bench started, also when it panics.
enum Stop {
    /// SIGTERM: nginx's master then stops its workers (SIGKILL would orphan them).
    Process(u32),
    Backend(PathBuf),
}

impl Drop for Stop {
    fn drop(&mut self) {
        match self {
            Stop::Process(pid) => {
                let _ = Command::new("kill").arg(pid.to_string()).status();
            }
            Stop::Backend(dir) => {
                let _ = Command::new(root().join("scripts/backend.sh"))
                    .arg("stop")
                    .arg(dir)
                    .status();
            }
        }
    }
}

/// One scenario's markdown table.
fn table(name: &str, scenario: &Scenario, targets: &[Target], runs: &[Vec<Measure>]) -> String {
    let bytes = matches!(scenario, Scenario::Put64 | Scenario::Stream1G);
    let idle = matches!(scenario, Scenario::Idle1000);
    let rate = |m: &Measure| {
        if bytes {
            m.mib_per_s.unwrap_or(f64::NAN)
        } else if idle {
            m.requests as f64
        } else {
            m.requests as f64 / m.seconds.max(1e-9)
        }
    };
    let med = |t: usize, f: &dyn Fn(&Measure) -> f64| median(runs[t].iter().map(f).collect());
    let mut out = format!("\n### {name}\n\n");
    let unit = if bytes {
        "MiB/s"
    } else if idle {
        "connections"
    } else {
        "req/s"
    };
    out.push_str(&format!(
        "| server | {unit} | p50 ms | p99 ms | errors | CPU µs/{per} | backend CPU µs/{per} | peak RSS MiB | vs backend | vs nginx |\n|---|---|---|---|---|---|---|---|---|---|\n",
        per = if idle { "conn" } else if bytes { "MiB" } else { "req" }
    ));
    let base = med(0, &rate);
    let nginx = med(1, &rate);
    let nginx_cpu = med(1, &|m| m.cpu_us_per_req);
    for (t, target) in targets.iter().enumerate() {
        let r = med(t, &rate);
        let cpu = med(t, &|m| m.cpu_us_per_req);
        let errors: u64 = runs[t].iter().map(|m| m.errors).sum();
        let rss = |t: usize| median(runs[t].iter().map(|m| m.peak_rss_kib as f64).collect());
        let (vs_backend, vs_nginx) = if idle {
            // Idle connections cost memory, not CPU: compare peak RSS.
            if t == 0 {
                ("–".into(), "–".into())
            } else {
                (
                    format!("RSS {:.2}×", rss(t) / rss(0)),
                    format!("RSS {:.2}×", rss(t) / rss(1)),
                )
            }
        } else if t == 0 {
            ("1".into(), "–".into())
        } else {
            (
                format!("{:.2}×", r / base),
                format!("{:.2}× (CPU {:.2}×)", r / nginx, cpu / nginx_cpu),
            )
        };
        out.push_str(&format!(
            "| {} | {r:.0} | {} | {} | {} | {:.0} | {} | {:.1} | {} | {} |\n",
            target.name,
            if idle {
                "–".into()
            } else {
                format!("{:.2}", med(t, &|m| m.p50_ms))
            },
            if idle {
                "–".into()
            } else {
                format!("{:.2}", med(t, &|m| m.p99_ms))
            },
            errors,
            cpu,
            if t == 0 {
                "–".into()
            } else {
                format!("{:.0}", med(t, &|m| m.backend_cpu_us_per_req))
            },
            median(runs[t].iter().map(|m| m.peak_rss_kib as f64).collect()) / 1024.0,
            vs_backend,
            vs_nginx
        ));
    }
    out
}
