//! An in-process HTTP API (the kind of internal service stsgate is put in front of) that records
//! every request it receives and answers with a small JSON echo. Served over plain HTTP or over
//! TLS with a given certificate, so the gateway's https backends can be tested too.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

/// One request as the API received it.
#[derive(Debug, Clone)]
pub struct ApiSeen {
    pub method: String,
    /// The raw path as it arrived (still percent-encoded).
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// False when the body did not arrive whole (the sender aborted it, as the gateway does when
    /// a streamed body does not match its signed hash). Such a request is recorded late, when
    /// the API notices the abort, possibly after later requests.
    pub complete: bool,
}

impl ApiSeen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub struct ApiBackend {
    /// `http://127.0.0.1:PORT` or `https://localhost:PORT`.
    pub url: String,
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<ApiSeen>>>,
    _runtime: tokio::runtime::Runtime,
}

impl ApiBackend {
    /// A plain-HTTP API.
    pub fn start() -> ApiBackend {
        ApiBackend::start_inner(None)
    }

    /// An API served over TLS with the PEM certificate chain and key given.
    pub fn start_tls(cert: &Path, key: &Path) -> ApiBackend {
        ApiBackend::start_tls_inner(cert, key, None)
    }

    /// An API over TLS that requires a client certificate signed by `client_ca`.
    pub fn start_mtls(cert: &Path, key: &Path, client_ca: &Path) -> ApiBackend {
        ApiBackend::start_tls_inner(cert, key, Some(client_ca))
    }

    fn start_tls_inner(cert: &Path, key: &Path, client_ca: Option<&Path>) -> ApiBackend {
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
        .unwrap();
        let config = match client_ca {
            None => config.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for c in rustls::pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
                    roots.add(c.unwrap()).unwrap();
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    Arc::new(rustls::crypto::ring::default_provider()),
                )
                .build()
                .unwrap();
                config.with_client_cert_verifier(verifier)
            }
        }
        .with_single_cert(certs, key)
        .unwrap();
        ApiBackend::start_inner(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
    }

    fn start_inner(tls: Option<tokio_rustls::TlsAcceptor>) -> ApiBackend {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let url = match tls {
            Some(_) => format!("https://localhost:{}", addr.port()),
            None => format!("http://{addr}"),
        };
        let s = seen.clone();
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let s = s.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let s = s.clone();
                        async move { Ok::<_, std::convert::Infallible>(handle(s, req).await) }
                    });
                    let builder = hyper::server::conn::http1::Builder::new();
                    match tls {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                let _ = builder
                                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                                    .await;
                            }
                        }
                        None => {
                            let _ = builder
                                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                                .await;
                        }
                    }
                });
            }
        });
        ApiBackend {
            url,
            addr,
            seen,
            _runtime: runtime,
        }
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<ApiSeen> {
        self.seen.lock().unwrap().clone()
    }

    /// The requests whose body arrived whole, in the order they completed.
    pub fn completed(&self) -> Vec<ApiSeen> {
        self.seen().into_iter().filter(|s| s.complete).collect()
    }

    /// Forgets what was received.
    pub fn clear(&self) {
        self.seen.lock().unwrap().clear();
    }
}

async fn handle(seen: Arc<Mutex<Vec<ApiSeen>>>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let (body, complete) = match body.collect().await {
        Ok(b) => (b.to_bytes(), true),
        Err(_) => (Bytes::new(), false),
    };
    if parts
        .headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        == Some("stsgate-readiness-probe")
    {
        return Response::new(Full::new(Bytes::from_static(b"{}")));
    }
    let echo = serde_json::json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "bytes": body.len(),
    });
    seen.lock().unwrap().push(ApiSeen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts.headers,
        body,
        complete,
    });
    Response::builder()
        .header("content-type", "application/json")
        .header("server", "internal-api/1.0")
        .body(Full::new(Bytes::from(echo.to_string())))
        .unwrap()
}

/// A test CA and a leaf certificate for `localhost`/127.0.0.1 signed by it (openssl), plus a
/// second self-signed leaf the CA did not sign, and a client certificate the CA signed. Returns
/// (ca.pem, leaf.crt, leaf.key, rogue.crt, rogue.key, client.crt, client.key).
pub fn test_pki(dir: &Path) -> [std::path::PathBuf; 7] {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl (Debian package openssl) is needed for the https backend tests");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-days",
        "1",
        "-subj",
        "/CN=stsgate test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    ca.extend([
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    run(&ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-subj",
        "/CN=localhost",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
    ]);
    run(&csr);
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "leaf.ext",
        "-out",
        "leaf.crt",
    ]);
    // A client certificate signed by the CA, for backends that require one.
    let mut client = vec!["req"];
    client.extend(ec);
    client.extend([
        "-subj",
        "/CN=stsgate",
        "-keyout",
        "client.key",
        "-out",
        "client.csr",
    ]);
    run(&client);
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "client.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "client.ext",
        "-out",
        "client.crt",
    ]);
    let mut rogue = vec!["req", "-x509"];
    rogue.extend(ec);
    rogue.extend([
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "rogue.key",
        "-out",
        "rogue.crt",
    ]);
    rogue.extend(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]);
    run(&rogue);
    [
        "ca.pem",
        "leaf.crt",
        "leaf.key",
        "rogue.crt",
        "rogue.key",
        "client.crt",
        "client.key",
    ]
    .map(|f| dir.join(f))
}
