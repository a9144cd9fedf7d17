//! An OpenID Connect issuer the tests control: its discovery document and JWKS served over
//! https (a test CA made with openssl), signing keys made with openssl (RSA 2048 and EC P-256),
//! tokens signed with `jsonwebtoken`. The tests choose which keys the JWKS publishes, take the
//! endpoint down, and count how often the gateway fetched the JWKS.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// A signing key of the issuer.
pub struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    /// The public key as a JWK (with its `kid`).
    pub jwk: Value,
    /// The public key in PEM (SubjectPublicKeyInfo).
    pub public_pem: Vec<u8>,
}

struct Served {
    jwks: Mutex<Value>,
    up: AtomicBool,
    jwks_fetches: AtomicUsize,
    issuer: String,
}

pub struct Issuer {
    /// `https://localhost:PORT/PATH`: the `iss` of its tokens.
    pub url: String,
    /// The CA that signed the issuer's certificate (a provider's `ca_file`).
    pub ca: PathBuf,
    /// The issuer's own certificate: the only one in the chain it presents.
    pub leaf: PathBuf,
    pub keys: Vec<SigningKey>,
    served: Arc<Served>,
    dir: tempfile::TempDir,
}

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (Debian package openssl) makes the test issuer's keys");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A key pair made by openssl: `rsa` (2048 bits) or `ec` (P-256).
pub fn signing_key(dir: &std::path::Path, kid: &str, rsa: bool) -> SigningKey {
    let private = format!("{kid}.key");
    let public = format!("{kid}.pub");
    if rsa {
        openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                &private,
            ],
        );
    } else {
        openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &private,
            ],
        );
    }
    openssl(dir, &["pkey", "-in", &private, "-pubout", "-out", &public]);
    let pem = std::fs::read(dir.join(&private)).unwrap();
    let (alg, encoding) = if rsa {
        (Algorithm::RS256, EncodingKey::from_rsa_pem(&pem).unwrap())
    } else {
        (Algorithm::ES256, EncodingKey::from_ec_pem(&pem).unwrap())
    };
    let mut jwk = Jwk::from_encoding_key(&encoding, alg).unwrap();
    jwk.common.key_id = Some(kid.to_string());
    let mut jwk = serde_json::to_value(&jwk).unwrap();
    jwk["use"] = json!("sig");
    SigningKey {
        kid: kid.to_string(),
        alg,
        encoding,
        jwk,
        public_pem: std::fs::read(dir.join(&public)).unwrap(),
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

impl Issuer {
    /// An issuer at `https://localhost:PORT/<path>` with keys `rsa-1`, `rsa-2` (RSA) and
    /// `ec-1` (P-256); the JWKS publishes `rsa-1` and `ec-1`.
    pub fn start(path: &str) -> Issuer {
        let dir = tempfile::tempdir().unwrap();
        let [ca, leaf, leaf_key, ..] = super::api_backend::test_pki(dir.path());
        let keys = vec![
            signing_key(dir.path(), "rsa-1", true),
            signing_key(dir.path(), "rsa-2", true),
            signing_key(dir.path(), "ec-1", false),
        ];
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("https://localhost:{port}{path}");
        let served = Arc::new(Served {
            jwks: Mutex::new(json!({"keys": []})),
            up: AtomicBool::new(true),
            jwks_fetches: AtomicUsize::new(0),
            issuer: url.clone(),
        });
        let acceptor = acceptor(&leaf, &leaf_key);
        let leaf = leaf.clone();
        let s = served.clone();
        let prefix = path.to_string();
        // A thread of its own, so that tests that are themselves async can start it.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let (s, acceptor, prefix) = (s.clone(), acceptor.clone(), prefix.clone());
                    tokio::spawn(async move {
                        let Ok(stream) = acceptor.accept(stream).await else {
                            return;
                        };
                        let service = hyper::service::service_fn(move |req| {
                            let (s, prefix) = (s.clone(), prefix.clone());
                            async move {
                                Ok::<_, std::convert::Infallible>(answer(&s, &prefix, req))
                            }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        let issuer = Issuer {
            url,
            ca,
            leaf: leaf.clone(),
            keys,
            served,
            dir,
        };
        issuer.publish(&["rsa-1", "ec-1"]);
        issuer
    }

    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn key(&self, kid: &str) -> &SigningKey {
        self.keys.iter().find(|k| k.kid == kid).unwrap()
    }

    /// The SHA-1 thumbprint (lower-case hex) of the top certificate of the chain the issuer
    /// presents (its leaf: it sends no intermediate).
    pub fn thumbprint(&self) -> String {
        use rustls::pki_types::pem::PemObject;
        let der = rustls::pki_types::CertificateDer::from_pem_file(&self.leaf).unwrap();
        hex::encode(<sha1::Sha1 as sha1::Digest>::digest(der.as_ref()))
    }

    /// The JWKS publishes exactly these keys.
    pub fn publish(&self, kids: &[&str]) {
        let keys: Vec<Value> = kids.iter().map(|k| self.key(k).jwk.clone()).collect();
        *self.served.jwks.lock().unwrap() = json!({ "keys": keys });
    }

    /// The JWKS document as now published (for a static `jwks_file`).
    pub fn jwks(&self) -> String {
        self.served.jwks.lock().unwrap().to_string()
    }

    /// Takes the discovery and JWKS endpoints down (503) or brings them back.
    pub fn set_up(&self, up: bool) {
        self.served.up.store(up, Ordering::SeqCst);
    }

    /// JWKS requests answered or refused so far.
    pub fn jwks_fetches(&self) -> usize {
        self.served.jwks_fetches.load(Ordering::SeqCst)
    }

    /// Claims of a fresh token for `sub` and `aud`: `iss`, `exp` in 10 minutes, `iat` now.
    pub fn claims(&self, sub: &str, aud: &str) -> Value {
        let now = now();
        json!({"iss": self.url, "sub": sub, "aud": aud, "iat": now, "exp": now + 600})
    }

    /// `claims` signed with key `kid` (its own algorithm), the header naming `kid`.
    pub fn sign(&self, kid: &str, claims: &Value) -> String {
        let key = self.key(kid);
        let mut header = Header::new(key.alg);
        header.kid = Some(kid.to_string());
        jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
    }
}

fn acceptor(cert: &std::path::Path, key: &std::path::Path) -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject;
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(cert)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

fn answer(s: &Served, prefix: &str, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    let json = |status: u16, body: String| {
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    };
    let jwks_path = format!("{prefix}/keys");
    if path == jwks_path {
        s.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    }
    if !s.up.load(Ordering::SeqCst) {
        return json(503, "{}".into());
    }
    if path == format!("{prefix}/.well-known/openid-configuration") {
        let jwks_uri = format!("{}/keys", s.issuer);
        return json(
            200,
            json!({"issuer": s.issuer, "jwks_uri": jwks_uri, "id_token_signing_alg_values_supported": ["RS256", "ES256"]})
                .to_string(),
        );
    }
    if path == jwks_path {
        return json(200, s.jwks.lock().unwrap().to_string());
    }
    json(404, "{}".into())
}

pub const ACCOUNT: &str = "111122223333";
pub const ROLE: &str = "arn:aws:iam::111122223333:role/web_reader";
pub const CI_ROLE: &str = "arn:aws:iam::111122223333:role/ci_deploy";
pub const TAG_ROLE: &str = "arn:aws:iam::111122223333:role/web_tagged";

/// The provider block and three roles trusting it: service accounts of namespace `data`
/// (`web_reader`), one GitHub repository's main branch (`ci_deploy`), and a role that takes
/// session tags and a source identity (`web_tagged`).
pub fn federation_toml(issuer: &Issuer, provider_extra: &str) -> String {
    let key = issuer.url.trim_start_matches("https://");
    let arn = format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{key}");
    format!(
        r#"
[[accounts.oidc_providers]]
url = "{url}"
audiences = ["stsgate", "sts.amazonaws.com"]
{ca}
{provider_extra}

[[accounts.roles]]
name = "web_reader"
max_session_duration = 7200
managed_policies = ["S3ReadOnly"]
trust_policy = '''{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow",
  "Principal":{{"Federated":"{arn}"}},
  "Action":"sts:AssumeRoleWithWebIdentity",
  "Condition":{{"StringEquals":{{"{key}:aud":"stsgate"}},
               "StringLike":{{"{key}:sub":"system:serviceaccount:data:*"}}}}}}]}}'''

[[accounts.roles]]
name = "ci_deploy"
managed_policies = ["S3ReadOnly"]
trust_policy = '''{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow",
  "Principal":{{"Federated":"{arn}"}},
  "Action":"sts:AssumeRoleWithWebIdentity",
  "Condition":{{"StringEquals":{{"{key}:aud":"sts.amazonaws.com"}},
               "StringLike":{{"{key}:sub":"repo:acme/data:ref:refs/heads/main"}}}}}}]}}'''

[[accounts.roles]]
name = "web_tagged"
managed_policies = ["S3ReadOnly"]
trust_policy = '''{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow",
  "Principal":{{"Federated":"{arn}"}},
  "Action":["sts:AssumeRoleWithWebIdentity","sts:TagSession","sts:SetSourceIdentity"],
  "Condition":{{"StringEquals":{{"aws:RequestTag/team":"data"}}}}}}]}}'''
"#,
        url = issuer.url,
        // A provider with static keys fetches nothing, so it takes no CA.
        ca = if provider_extra.contains("jwks_file") {
            String::new()
        } else {
            format!("ca_file = \"{}\"", issuer.ca.display())
        },
    )
}

/// The demo config with the federation block added to its account.
pub fn gateway(issuer: &Issuer, provider_extra: &str, limits: &str) -> super::Gateway {
    let demo = std::fs::read_to_string(super::repo_root().join("config/stsgate.toml")).unwrap();
    let at = demo.find("[[backends]]").unwrap();
    let mut text = format!(
        "{}{}\n{}",
        &demo[..at],
        federation_toml(issuer, provider_extra),
        &demo[at..]
    );
    if !limits.is_empty() {
        text = text.replacen("[keyring]", &format!("[limits]\n{limits}\n\n[keyring]"), 1);
    }
    super::Gateway::start(&text)
}
