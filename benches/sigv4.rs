//! SigV4 verification benchmarks. Every figure has its baseline in the same run:
//! - `header/verify_cached_key` vs `header/verify_derive_key` (the same verification deriving the
//!   signing key every time, as MinIO and s3s do)
//!   vs `header/naive_hmac_sha2` (a straightforward verifier: string-built canonical request,
//!   four HMACs, hex compare);
//! - `chunked/decode_verify_1MiB` vs `chunked/raw_sha256_1MiB` (throughput ratio).
//!
//! Run: `cargo bench --bench sigv4`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};
use stsgate::sigv4::chunked::chunk_signature;
use stsgate::sigv4::{
    AmzDate, ChunkedDecoder, ChunkedParams, RequestParts, Signer, SigningContext, SigningKey,
    SigningKeyCache, UriMode, VerifyPolicy, parse_request_auth, verify_signature,
};

const AKID: &str = "AKIARTX3GSDSSMDOBCNR";
const SECRET: &str = "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";

fn now() -> AmzDate {
    AmzDate::parse("20261122T120000Z").unwrap()
}

/// A GET as botocore sends it: host, x-amz-content-sha256, x-amz-date, a session token.
fn botocore_get() -> (String, String, HeaderMap) {
    let path = "/my-bucket/reports/2026/q1.csv".to_string();
    let query = "x-id=GetObject".to_string();
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("127.0.0.1:7480"));
    headers.insert(
        "user-agent",
        HeaderValue::from_static("Boto3/1.43.11 md/Botocore#1.43.11 ua/2.1 os/linux"),
    );
    headers.insert("accept-encoding", HeaderValue::from_static("identity"));
    let signer = Signer::new(
        AKID,
        SECRET,
        Some("IQoJb3JpZ2luX2VjEXAMPLETOKEN"),
        "us-east-1",
        "s3",
        SigningKeyCache::default(),
    );
    signer
        .sign(
            "GET",
            &path,
            &query,
            &mut headers,
            stsgate::sigv4::EMPTY_SHA256,
            now(),
        )
        .unwrap();
    (path, query, headers)
}

fn verify_with(
    cache: &SigningKeyCache,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    regions: &[String],
) {
    let policy = VerifyPolicy {
        regions,
        services: &["s3"],
        max_skew: Duration::from_secs(900),
        now: now(),
    };
    let req = RequestParts {
        method: "GET",
        path,
        query,
        headers,
        authority: None,
    };
    let parsed = parse_request_auth(&req, &policy).unwrap().unwrap();
    let payload = parsed.content_sha256.unwrap();
    black_box(verify_signature(&parsed, &req, SECRET, payload, UriMode::S3, cache).unwrap());
}

/// The straightforward way: format! the canonical request, derive the key, compare hex strings.
fn naive_verify(path: &str, query: &str, headers: &HeaderMap) -> bool {
    type H = Hmac<Sha256>;
    fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut m = H::new_from_slice(key).unwrap();
        m.update(data);
        m.finalize().into_bytes().to_vec()
    }
    let auth = headers.get("authorization").unwrap().to_str().unwrap();
    let signed_list = auth
        .split("SignedHeaders=")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap();
    let provided = auth.split("Signature=").nth(1).unwrap();
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let (k, v) = s.split_once('=').unwrap_or((s, ""));
            (k.to_string(), v.to_string())
        })
        .collect();
    pairs.sort();
    let canonical_query = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut canonical_headers = String::new();
    for name in signed_list.split(';') {
        let value = headers
            .get(name)
            .map(|v| v.to_str().unwrap().trim().to_string())
            .unwrap_or_default();
        canonical_headers.push_str(&format!("{name}:{value}\n"));
    }
    let payload = headers
        .get("x-amz-content-sha256")
        .unwrap()
        .to_str()
        .unwrap();
    let canonical =
        format!("GET\n{path}\n{canonical_query}\n{canonical_headers}\n{signed_list}\n{payload}");
    let date = headers.get("x-amz-date").unwrap().to_str().unwrap();
    let scope = format!("{}/us-east-1/s3/aws4_request", &date[..8]);
    let sts = format!(
        "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let k = hmac(format!("AWS4{SECRET}").as_bytes(), &date.as_bytes()[..8]);
    let k = hmac(&k, b"us-east-1");
    let k = hmac(&k, b"s3");
    let k = hmac(&k, b"aws4_request");
    hex::encode(hmac(&k, sts.as_bytes())) == provided
}

fn header_benches(c: &mut Criterion) {
    let (path, query, headers) = botocore_get();
    let regions = vec!["us-east-1".to_string()];
    assert!(
        naive_verify(&path, &query, &headers),
        "the naive baseline must verify the same request"
    );
    let mut g = c.benchmark_group("header");
    let warm = SigningKeyCache::default();
    verify_with(&warm, &path, &query, &headers, &regions);
    g.bench_function("verify_cached_key", |b| {
        b.iter(|| verify_with(&warm, &path, &query, &headers, &regions))
    });
    let uncached = SigningKeyCache::disabled();
    g.bench_function("verify_derive_key", |b| {
        b.iter(|| verify_with(&uncached, &path, &query, &headers, &regions))
    });
    g.bench_function("naive_hmac_sha2", |b| {
        b.iter(|| assert!(naive_verify(black_box(&path), &query, &headers)))
    });
    g.finish();

    // Presigned GET (UNSIGNED-PAYLOAD, token in the query).
    let mut presigned_headers = HeaderMap::new();
    presigned_headers.insert("host", HeaderValue::from_static("127.0.0.1:7480"));
    let presign_query = presign(&path);
    let mut g = c.benchmark_group("presigned");
    g.bench_function("verify_cached_key", |b| {
        b.iter(|| {
            let policy = VerifyPolicy {
                regions: &regions,
                services: &["s3"],
                max_skew: Duration::from_secs(900),
                now: now(),
            };
            let req = RequestParts {
                method: "GET",
                path: &path,
                query: &presign_query,
                headers: &presigned_headers,
                authority: None,
            };
            let parsed = parse_request_auth(&req, &policy).unwrap().unwrap();
            black_box(
                verify_signature(
                    &parsed,
                    &req,
                    SECRET,
                    "UNSIGNED-PAYLOAD",
                    UriMode::S3,
                    &warm,
                )
                .unwrap(),
            );
        })
    });
    g.finish();
}

/// Builds a presigned query with our own canonicalisation (the conformance tests check it
/// against the AWS suite).
fn presign(path: &str) -> String {
    use stsgate::sigv4::canonical::{PathForm, write_canonical_request, write_string_to_sign};
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("127.0.0.1:7480"));
    let base = format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={AKID}%2F20261122%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261122T120000Z&X-Amz-Expires=3600&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLETOKEN&X-Amz-SignedHeaders=host"
    );
    let req = RequestParts {
        method: "GET",
        path,
        query: &base,
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
    write_string_to_sign(
        &mut sts,
        &now(),
        "20261122/us-east-1/s3/aws4_request",
        &canonical,
    );
    let sig = SigningKey::derive(SECRET, "20261122", "us-east-1", "s3").sign(&sts);
    format!("{base}&X-Amz-Signature={}", hex::encode(sig))
}

fn chunked_benches(c: &mut Criterion) {
    const SIZE: usize = 1 << 20;
    const CHUNK: usize = 64 * 1024;
    let data: Vec<u8> = (0..SIZE).map(|i| (i * 31 % 251) as u8).collect();
    let ctx = SigningContext {
        key: Arc::new(SigningKey::derive(SECRET, "20261122", "us-east-1", "s3")),
        date: now(),
        scope: "20261122/us-east-1/s3/aws4_request".into(),
        seed_signature: [3; 32],
    };
    let mut body = Vec::with_capacity(SIZE + 4096);
    let mut previous = ctx.seed_signature;
    for chunk in data.chunks(CHUNK) {
        previous = chunk_signature(
            &ctx.key,
            &ctx.date,
            &ctx.scope,
            &previous,
            &Sha256::digest(chunk).into(),
        );
        body.extend_from_slice(
            format!(
                "{:x};chunk-signature={}\r\n",
                chunk.len(),
                hex::encode(previous)
            )
            .as_bytes(),
        );
        body.extend_from_slice(chunk);
        body.extend_from_slice(b"\r\n");
    }
    let last = chunk_signature(
        &ctx.key,
        &ctx.date,
        &ctx.scope,
        &previous,
        &Sha256::digest([]).into(),
    );
    body.extend_from_slice(format!("0;chunk-signature={}\r\n\r\n", hex::encode(last)).as_bytes());

    let mut g = c.benchmark_group("chunked");
    g.throughput(Throughput::Bytes(SIZE as u64));
    g.bench_function("raw_sha256_1MiB", |b| {
        b.iter(|| black_box(Sha256::digest(black_box(&data))))
    });
    g.bench_function("decode_verify_1MiB", |b| {
        b.iter(|| {
            let params = ChunkedParams {
                decoded_length: SIZE as u64,
                trailers: vec![],
                signing: Some(ctx.clone()),
                signed_trailer: false,
            };
            let mut d = ChunkedDecoder::new(params).unwrap();
            let mut out = Vec::with_capacity(20);
            // Arrive in 16 KiB reads, as from a socket.
            for piece in body.chunks(16 * 1024) {
                d.push(piece, &mut out).unwrap();
            }
            d.finish(&mut out).unwrap();
            black_box(out);
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(60)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! { name = benches; config = config(); targets = header_benches, chunked_benches }
criterion_main!(benches);
