//! Property tests of the SigV4 engine: signing and verifying agree, every signed part is
//! protected, parsers that see attacker bytes never panic, and chunk framing is independent of
//! how the bytes arrive.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use sha2::{Digest, Sha256};
use stsgate::policy::{PolicyDocument, PolicyKind};
use stsgate::sigv4::authorization::{Authorization, Credential};
use stsgate::sigv4::chunked::chunk_signature;
use stsgate::sigv4::encoding::{
    percent_decode, uri_encode, write_canonical_query, write_canonical_uri,
};
use stsgate::sigv4::{
    AmzDate, ChunkedDecoder, ChunkedParams, RequestParts, Signer, SigningContext, SigningKey,
    SigningKeyCache, UriMode, VerifyPolicy, parse_request_auth, verify_signature,
};

const AKID: &str = "AKIARTX3GSDSSMDOBCNR";
const SECRET: &str = "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";

fn now() -> AmzDate {
    AmzDate::parse("20261122T120000Z").unwrap()
}

struct Signed {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
}

fn sign(
    method: &str,
    key: &str,
    params: &[(String, String)],
    meta: &str,
    token: Option<&str>,
    payload: &str,
) -> Signed {
    let path = format!("/bucket/{}", uri_encode(key.as_bytes(), true));
    let query = params
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                uri_encode(k.as_bytes(), false),
                uri_encode(v.as_bytes(), false)
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("127.0.0.1:7480"));
    headers.insert("x-amz-meta-note", HeaderValue::from_str(meta).unwrap());
    let signer = Signer::new(
        AKID,
        SECRET,
        token,
        "us-east-1",
        "s3",
        SigningKeyCache::default(),
    );
    signer
        .sign(method, &path, &query, &mut headers, payload, now())
        .unwrap();
    Signed {
        method: method.to_string(),
        path,
        query,
        headers,
    }
}

fn verify(s: &Signed) -> Result<(), stsgate::sigv4::SigV4Error> {
    let regions = vec!["us-east-1".to_string()];
    let policy = VerifyPolicy {
        regions: &regions,
        services: &["s3"],
        max_skew: Duration::from_secs(900),
        now: now(),
    };
    let req = RequestParts {
        method: &s.method,
        path: &s.path,
        query: &s.query,
        headers: &s.headers,
        authority: None,
    };
    let parsed = parse_request_auth(&req, &policy)?.expect("signed");
    let payload = parsed.content_sha256.unwrap().to_string();
    verify_signature(
        &parsed,
        &req,
        SECRET,
        &payload,
        UriMode::S3,
        &SigningKeyCache::default(),
    )
    .map(|_| ())
}

fn method() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["GET", "PUT", "POST", "DELETE", "HEAD"]).prop_map(str::to_string)
}

fn key() -> impl Strategy<Value = String> {
    // Any Unicode, plus the characters that broke verifiers, with a bias towards them.
    prop::collection::vec(
        prop_oneof![
            any::<char>(),
            prop::sample::select(vec![' ', '+', '%', '=', '/', '&', '?', '#', '~', '*'])
        ],
        0..24,
    )
    .prop_map(|c| c.into_iter().collect())
}

fn params() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(
        ("[a-zA-Z0-9 +=&%/._~-]{1,8}", "[a-zA-Z0-9 +=&%/._~-]{0,8}"),
        0..4,
    )
}

fn meta() -> impl Strategy<Value = String> {
    "[ -~]{0,20}".prop_map(|s| s.trim().to_string())
}

fn payload() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("UNSIGNED-PAYLOAD".to_string()),
        Just("STREAMING-UNSIGNED-PAYLOAD-TRAILER".to_string()),
        any::<[u8; 8]>().prop_map(|b| hex::encode(Sha256::digest(b))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn anything_the_signer_signs_verifies(m in method(), k in key(), q in params(), h in meta(), token in proptest::option::of("[A-Za-z0-9+/=]{8,40}"), p in payload()) {
        let s = sign(&m, &k, &q, &h, token.as_deref(), &p);
        prop_assert!(verify(&s).is_ok(), "{:?}", verify(&s));
    }

    #[test]
    fn any_change_to_a_signed_part_fails(m in method(), k in key(), q in params(), h in meta(), p in payload(), which in 0..7usize) {
        let mut s = sign(&m, &k, &q, &h, None, &p);
        match which {
            0 => s.method = if s.method == "GET" { "PUT".into() } else { "GET".into() },
            1 => s.path.push('x'),
            2 => s.query = if s.query.is_empty() { "acl=".into() } else { format!("{}&extra=1", s.query) },
            3 => { s.headers.insert("x-amz-meta-note", HeaderValue::from_str(&format!("{h}!")).unwrap()); }
            4 => { s.headers.insert("host", HeaderValue::from_static("127.0.0.1:7481")); }
            5 => {
                let changed = if p == "UNSIGNED-PAYLOAD" { "STREAMING-UNSIGNED-PAYLOAD-TRAILER" } else { "UNSIGNED-PAYLOAD" };
                s.headers.insert("x-amz-content-sha256", HeaderValue::from_static(changed));
            }
            _ => { s.headers.insert("x-amz-date", HeaderValue::from_static("20261122T120001Z")); }
        }
        prop_assert!(verify(&s).is_err());
    }

    #[test]
    fn parsers_never_panic(text in ".{0,200}", bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = Authorization::parse(&text);
        let _ = Credential::parse(text.as_str());
        let _ = AmzDate::parse(&text);
        let _ = percent_decode(text.as_bytes(), true);
        let _ = write_canonical_uri(&mut Vec::new(), &text, UriMode::S3);
        let _ = write_canonical_uri(&mut Vec::new(), &text, UriMode::Normalized);
        let _ = write_canonical_query(&mut Vec::new(), &text, true);
        let _ = PolicyDocument::parse(&text, PolicyKind::Identity);
        let _ = PolicyDocument::parse(&String::from_utf8_lossy(&bytes), PolicyKind::Trust);
        let _ = stsgate::identity::decode_access_key_id(&text);
        // A request whose query and authorization header are arbitrary.
        let regions = vec!["us-east-1".to_string()];
        let policy = VerifyPolicy { regions: &regions, services: &["s3"], max_skew: Duration::from_secs(900), now: now() };
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&format!("AWS4-HMAC-SHA256 {text}")) {
            headers.insert("authorization", v);
        }
        let req = RequestParts { method: "GET", path: "/", query: &text, headers: &headers, authority: None };
        let _ = parse_request_auth(&req, &policy);
        let req = RequestParts { method: "GET", path: "/", query: &format!("X-Amz-Credential={text}&X-Amz-Algorithm=AWS4-HMAC-SHA256"), headers: &HeaderMap::new(), authority: None };
        let _ = parse_request_auth(&req, &policy);
    }

    #[test]
    fn chunked_decoder_never_panics_on_arbitrary_bodies(bytes in prop::collection::vec(any::<u8>(), 0..400), signed in any::<bool>(), split in 0..400usize) {
        let params = ChunkedParams {
            decoded_length: 100,
            trailers: if signed { vec![] } else { vec!["x-amz-checksum-crc32".into()] },
            signing: signed.then(context),
            signed_trailer: false,
        };
        let mut d = ChunkedDecoder::new(params).unwrap();
        let mut out = Vec::new();
        let split = split.min(bytes.len());
        let result = d.push(&bytes[..split], &mut out).and_then(|_| d.push(&bytes[split..], &mut out)).and_then(|_| d.finish(&mut out));
        // Random bytes never form a valid body; nothing may be released beyond the declared length.
        prop_assert!(out.iter().map(|b| b.len()).sum::<usize>() <= 100);
        let _ = result;
    }

    #[test]
    fn chunk_framing_is_independent_of_arrival(data in prop::collection::vec(any::<u8>(), 0..2000), sizes in prop::collection::vec(1usize..300, 1..20), cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6)) {
        let ctx = context();
        let mut body = Vec::new();
        let mut previous = ctx.seed_signature;
        let mut rest = &data[..];
        let mut i = 0;
        while !rest.is_empty() {
            let n = sizes[i % sizes.len()].min(rest.len());
            let (chunk, tail) = rest.split_at(n);
            previous = chunk_signature(&ctx.key, &ctx.date, &ctx.scope, &previous, &Sha256::digest(chunk).into());
            body.extend_from_slice(format!("{:x};chunk-signature={}\r\n", n, hex::encode(previous)).as_bytes());
            body.extend_from_slice(chunk);
            body.extend_from_slice(b"\r\n");
            rest = tail;
            i += 1;
        }
        let last = chunk_signature(&ctx.key, &ctx.date, &ctx.scope, &previous, &Sha256::digest([]).into());
        body.extend_from_slice(format!("0;chunk-signature={}\r\n\r\n", hex::encode(last)).as_bytes());

        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(body.len() + 1)).collect();
        points.sort_unstable();
        let mut d = ChunkedDecoder::new(ChunkedParams { decoded_length: data.len() as u64, trailers: vec![], signing: Some(ctx), signed_trailer: false }).unwrap();
        let mut out = Vec::new();
        let mut start = 0;
        for p in points.into_iter().chain([body.len()]) {
            d.push(&body[start..p], &mut out).unwrap();
            start = p;
        }
        d.finish(&mut out).unwrap();
        prop_assert_eq!(out.concat(), data);
    }
}

fn context() -> SigningContext {
    SigningContext {
        key: Arc::new(SigningKey::derive(SECRET, "20261122", "us-east-1", "s3")),
        date: now(),
        scope: "20261122/us-east-1/s3/aws4_request".into(),
        seed_signature: [7; 32],
    }
}
