//! STS benchmarks: AssumeRole end to end in-process (authorize, mint, seal, render XML),
//! AssumeRoleWithWebIdentity with the provider's keys cached (peek, verify an RS256 or ES256
//! token, check its claims, the trust policy, mint, seal, render XML), and opening a session
//! token cold (decrypt, parse claims, compile the session policy) and warm (cache hit).
//!
//! Run: `cargo bench --bench sts`.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, EncodingKey};
use stsgate::identity::Caller;
use stsgate::server::State;
use stsgate::sts::RequestInfo;

const ISSUER: &str = "https://issuer.bench/cluster";
const WEB_ROLE: &str = "arn:aws:iam::111122223333:role/web_bench";

/// An openssl-made key pair as a signing key and its public JWK.
fn key(dir: &Path, kid: &str, alg: Algorithm) -> (EncodingKey, serde_json::Value) {
    let path = dir.join(format!("{kid}.pem"));
    let args: [&str; 4] = match alg {
        Algorithm::RS256 => ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        _ => ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    };
    let ok = std::process::Command::new("openssl")
        .arg("genpkey")
        .args(args)
        .arg("-out")
        .arg(&path)
        .status()
        .expect("openssl makes the bench's token keys");
    assert!(ok.success());
    let pem = std::fs::read(&path).unwrap();
    let key = match alg {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(&pem),
        _ => EncodingKey::from_ec_pem(&pem),
    }
    .unwrap();
    let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&key, alg).unwrap();
    jwk.common.key_id = Some(kid.to_string());
    (key, serde_json::to_value(&jwk).unwrap())
}

/// The demo config plus an OIDC provider with static keys (a `jwks_file`) and a role that
/// trusts it, and the keys to sign its tokens with.
fn state(dir: &Path) -> (Arc<State>, Vec<(&'static str, Algorithm, EncodingKey)>) {
    let mut keys = Vec::new();
    let mut jwks = Vec::new();
    for (kid, alg) in [("rsa", Algorithm::RS256), ("ec", Algorithm::ES256)] {
        let (k, jwk) = key(dir, kid, alg);
        jwks.push(jwk);
        keys.push((kid, alg, k));
    }
    let jwks_file = dir.join("jwks.json");
    std::fs::write(&jwks_file, serde_json::json!({ "keys": jwks }).to_string()).unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/stsgate.toml");
    let demo = std::fs::read_to_string(&path).unwrap();
    let at = demo.find("[[backends]]").unwrap();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/issuer.bench/cluster"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"issuer.bench/cluster:sub":"system:serviceaccount:data:*"}}}]}"#;
    let federation = format!(
        "[[accounts.oidc_providers]]\nurl = \"{ISSUER}\"\naudiences = [\"sts.amazonaws.com\"]\njwks_file = \"{}\"\n\n[[accounts.roles]]\nname = \"web_bench\"\nmanaged_policies = [\"S3ReadOnly\"]\ntrust_policy = '{trust}'\n\n",
        jwks_file.display()
    );
    let text = format!("{}{federation}{}", &demo[..at], &demo[at..]);
    let loaded = stsgate::config::load_str(&path, &text).unwrap();
    (Arc::new(State::new(Arc::new(loaded.config)).unwrap()), keys)
}

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (state, keys) = state(dir.path());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let info = RequestInfo {
        now,
        source_ip: Some("127.0.0.1".into()),
        secure_transport: false,
        user_agent: None,
        region: "us-east-1".into(),
    };
    let develop = state
        .identities
        .resolve(&state.keyring, "AKIARTX3GSDSSMDOBCNR", None, now)
        .unwrap();
    let assume = params(&[
        ("Action", "AssumeRole"),
        ("Version", "2011-06-15"),
        ("RoleArn", "arn:aws:iam::111122223333:role/s3_role"),
        ("RoleSessionName", "bench"),
        (
            "Policy",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::demo-bucket","arn:aws:s3:::demo-bucket/*"]}]}"#,
        ),
    ]);
    // The STS actions are async (MFA may ask a shared store, a provider may fetch keys); these
    // need neither, so a current-thread runtime only drives them.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let xml = runtime
        .block_on(state.sts.handle(&assume, &develop, &info, "req"))
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
    let (akid, token) = (field("AccessKeyId"), field("SessionToken"));

    let mut g = c.benchmark_group("sts");
    g.bench_function("assume_role_end_to_end", |b| {
        b.iter(|| {
            black_box(
                runtime
                    .block_on(state.sts.handle(black_box(&assume), &develop, &info, "req"))
                    .unwrap(),
            )
        })
    });
    for (kid, alg, key) in &keys {
        let claims = serde_json::json!({"iss": ISSUER, "sub": "system:serviceaccount:data:reader",
            "aud": "sts.amazonaws.com", "iat": now, "exp": now + 3600});
        let mut header = jsonwebtoken::Header::new(*alg);
        header.kid = Some(kid.to_string());
        let web_token = jsonwebtoken::encode(&header, &claims, key).unwrap();
        let web = params(&[
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", "2011-06-15"),
            ("RoleArn", WEB_ROLE),
            ("RoleSessionName", "bench"),
            ("WebIdentityToken", &web_token),
        ]);
        // The keys are static (a jwks_file): every iteration finds them cached.
        runtime
            .block_on(state.sts.handle_unsigned(&web, &info, "req"))
            .expect("the bench's token is accepted");
        g.bench_function(format!("assume_role_with_web_identity_{alg:?}"), |b| {
            b.iter(|| {
                black_box(
                    runtime
                        .block_on(state.sts.handle_unsigned(black_box(&web), &info, "req"))
                        .unwrap(),
                )
            })
        });
    }
    g.bench_function("open_session_cold", |b| {
        b.iter(|| {
            black_box(
                state
                    .identities
                    .open_session(&state.keyring, black_box(&token))
                    .unwrap(),
            )
        })
    });
    let warm = state
        .identities
        .resolve(&state.keyring, &akid, Some(&token), now)
        .unwrap();
    assert!(matches!(warm, Caller::Session(ref s) if s.session_policies.is_some()));
    g.bench_function("open_session_warm", |b| {
        b.iter(|| {
            black_box(
                state
                    .identities
                    .resolve(&state.keyring, &akid, Some(black_box(&token)), now)
                    .unwrap(),
            )
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

criterion_group! { name = sts; config = config(); targets = benches }
criterion_main!(sts);
