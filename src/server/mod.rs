//! Listeners: the gateway listener (S3, STS and HTTP APIs on one port) and the admin listener
//! (`/health`, `/ready`, `/metrics`). HTTP/1.1 and HTTP/2, optional TLS (rustls), graceful drain.
//!
//! Requests signed for `sts` (and unsigned Query-API forms) go to the STS endpoint; every other
//! request takes the S3 path (`s3_http`: authenticate → classify → authorize → forward).

mod host;
mod metrics;
pub mod s3_http;
pub mod sts_http;
mod tls;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

pub use host::{HostError, request_host};
pub use metrics::Metrics;

use crate::config::Config;
use crate::identity::IdentityStore;
use crate::sigv4::SigningKeyCache;
use crate::sts::mfa::MfaVerifier;
use crate::sts::{Keyring, StsService};

/// How long in-flight requests may take to finish after a shutdown signal.
pub const DRAIN_GRACE: Duration = Duration::from_secs(10);

/// Errors carried by gateway response bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The gateway listener's response body: a fixed error document or a streamed backend body.
pub type GatewayBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// Boxes a body into a [`GatewayBody`].
pub fn boxed<B>(body: B) -> GatewayBody
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    http_body_util::BodyExt::boxed_unsync(http_body_util::BodyExt::map_err(body, Into::into))
}

pub(crate) type UpstreamBody =
    http_body_util::combinators::UnsyncBoxBody<Bytes, crate::proxy::BodyError>;

/// A backend with its pooled client and the signer for its credentials.
pub struct BackendClient {
    pub name: String,
    pub kind: crate::config::BackendKind,
    pub url: http::Uri,
    pub signer: crate::sigv4::Signer,
    /// How long the backend may stay silent (see [`crate::proxy::Progress`]).
    pub timeout: Duration,
    /// Pass the backend's identifying response headers to clients (`pass_fingerprints`).
    pub pass_fingerprints: bool,
    pub client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        UpstreamBody,
    >,
}

/// Shared state of a running server: one config snapshot and what is derived from it.
pub struct State {
    pub config: Arc<Config>,
    pub metrics: Metrics,
    pub identities: Arc<IdentityStore>,
    pub keyring: Arc<Keyring>,
    pub sts: StsService,
    pub signing_keys: SigningKeyCache,
    pub backends: Vec<BackendClient>,
}

impl State {
    /// Derives the runtime state (compiled policies, keyring) from a checked config.
    pub fn new(config: Arc<Config>) -> Result<State, String> {
        let identities = Arc::new(IdentityStore::build(&config)?);
        let keyring = Arc::new(Keyring::from_config(&config.keyring));
        let sts = StsService {
            store: identities.clone(),
            keyring: keyring.clone(),
            mfa: MfaVerifier::default(),
            partition: config.server.partition.clone(),
        };
        let mut backends = Vec::new();
        for b in &config.backends {
            if b.url.scheme_str() != Some("http") {
                return Err(format!(
                    "backend \"{}\": https backends are not supported yet; use an http:// URL on a trusted network",
                    b.name
                ));
            }
            let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
            connector.set_nodelay(true);
            let client =
                hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(connector);
            let (akid, secret, token) = match &b.credentials {
                Some(c) => (
                    c.access_key_id.as_str(),
                    c.secret_access_key.expose(),
                    c.session_token.as_ref().map(|t| t.expose()),
                ),
                None => ("", "", None),
            };
            let service = if b.kind == crate::config::BackendKind::S3 {
                "s3"
            } else {
                "execute-api"
            };
            let signer = crate::sigv4::Signer::new(
                akid,
                secret,
                token,
                &b.region,
                service,
                SigningKeyCache::default(),
            );
            backends.push(BackendClient {
                name: b.name.clone(),
                kind: b.kind,
                url: b.url.clone(),
                signer,
                timeout: b.timeout,
                pass_fingerprints: b.pass_fingerprints,
                client,
            });
        }
        Ok(State {
            config,
            metrics: Metrics::default(),
            identities,
            keyring,
            sts,
            signing_keys: SigningKeyCache::default(),
            backends,
        })
    }

    /// The S3 backend requests go to.
    pub fn s3_backend(&self) -> Option<&BackendClient> {
        self.backends
            .iter()
            .find(|b| b.kind == crate::config::BackendKind::S3)
    }
}

/// Listeners bound before the server starts, so the caller can report bind errors (and tests
/// can bind port 0 and learn the port).
pub struct Bound {
    pub gateway: TcpListener,
    pub admin: Option<TcpListener>,
}

impl Bound {
    pub async fn bind(config: &Config) -> std::io::Result<Bound> {
        let gateway = TcpListener::bind(config.server.listen).await?;
        let admin = match config.server.admin_listen {
            Some(addr) => Some(TcpListener::bind(addr).await?),
            None => None,
        };
        Ok(Bound { gateway, admin })
    }

    pub fn gateway_addr(&self) -> std::io::Result<SocketAddr> {
        self.gateway.local_addr()
    }

    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().and_then(|a| a.local_addr().ok())
    }
}

/// Serves until `shutdown` completes, then stops accepting and drains for [`DRAIN_GRACE`].
pub async fn serve(
    state: Arc<State>,
    bound: Bound,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let tls = match &state.config.server.tls {
        Some(files) => Some(tls::acceptor(files)?),
        None => None,
    };
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    tokio::pin!(shutdown);

    loop {
        tokio::select! {
            accepted = bound.gateway.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => { tracing::warn!(error = %e, "accept failed"); continue; }
                };
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                let service = service_fn(move |req| gateway(state.clone(), peer, req));
                match &tls {
                    Some(acceptor) => {
                        let acceptor = acceptor.clone();
                        let builder = builder.clone();
                        let watcher = graceful.watcher();
                        tokio::spawn(async move {
                            match acceptor.accept(stream).await {
                                Ok(tls_stream) => {
                                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls_stream), service).into_owned();
                                    if let Err(e) = watcher.watch(conn).await {
                                        tracing::debug!(error = %e, "connection ended with an error");
                                    }
                                }
                                Err(e) => tracing::debug!(error = %e, %peer, "TLS handshake failed"),
                            }
                        });
                    }
                    None => {
                        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
                        let conn = graceful.watch(conn);
                        tokio::spawn(async move {
                            if let Err(e) = conn.await {
                                tracing::debug!(error = %e, "connection ended with an error");
                            }
                        });
                    }
                }
            }
            accepted = accept_optional(bound.admin.as_ref()) => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                let service = service_fn(move |req| admin(state.clone(), req));
                let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service).into_owned());
                tokio::spawn(async move { let _ = conn.await; });
            }
            () = &mut shutdown => break,
        }
    }
    tracing::info!(
        "shutting down: no new connections, draining for up to {}s",
        DRAIN_GRACE.as_secs()
    );
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections drained"),
        () = tokio::time::sleep(DRAIN_GRACE) => tracing::warn!("drain grace period over; closing remaining connections"),
    }
    Ok(())
}

async fn accept_optional(
    listener: Option<&TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

type Body = GatewayBody;

async fn gateway(
    state: Arc<State>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let (parts, body) = req.into_parts();
    let response = if sts_http::is_sts_request(&parts) || is_unsigned_sts_form(&parts) {
        sts_http::handle(&state, peer, parts, body).await.map(boxed)
    } else {
        let response = s3_http::handle(&state, peer, parts, body).await;
        state
            .metrics
            .record_s3(response.status(), response.extensions().get());
        response
    };
    state.metrics.record_gateway(response.status());
    Ok(response)
}

/// An unsigned `POST /` form: the STS Query API without credentials.
fn is_unsigned_sts_form(parts: &http::request::Parts) -> bool {
    parts.method == http::Method::POST
        && parts.uri.path() == "/"
        && !parts.headers.contains_key(header::AUTHORIZATION)
        && parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

async fn admin(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, content_type, body) = match (req.method(), req.uri().path()) {
        (&http::Method::GET, "/health") => {
            (StatusCode::OK, "text/plain", Bytes::from_static(b"ok\n"))
        }
        (&http::Method::GET, "/ready") => {
            (StatusCode::OK, "text/plain", Bytes::from_static(b"ready\n"))
        }
        (&http::Method::GET, "/metrics") => (
            StatusCode::OK,
            "text/plain; version=0.0.4",
            Bytes::from(state.metrics.render()),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            Bytes::from_static(b"not found: try /health, /ready or /metrics\n"),
        ),
    };
    Ok(Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .body(Full::new(body))
        .expect("static response parts are valid"))
}

/// An S3-style `<Error>` response (no body for HEAD, as S3 does).
pub fn s3_error(
    status: StatusCode,
    code: &str,
    message: &str,
    head: bool,
) -> Response<Full<Bytes>> {
    let request_id = new_request_id();
    let body = if head {
        Bytes::new()
    } else {
        Bytes::from(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>{request_id}</RequestId></Error>",
            xml_escape(code),
            xml_escape(message)
        ))
    };
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/xml")
        .header("x-amz-request-id", &request_id)
        .header(
            header::DATE,
            httpdate::fmt_http_date(std::time::SystemTime::now()),
        )
        .body(Full::new(body))
        .expect("static response parts are valid")
}

/// A random request id (16 hex characters, like S3's).
pub fn new_request_id() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    hex::encode_upper(bytes)
}

use crate::sts::xml::escape as xml_escape;
