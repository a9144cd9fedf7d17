//! Listeners: the gateway listener (S3, STS and HTTP APIs on one port) and the admin listener
//! (`/health`, `/ready`, `/metrics`). HTTP/1.1 and HTTP/2, optional TLS (rustls), graceful drain.
//!
//! [`authn`] reads every request once (host, SigV4 material) and routes it by the credential
//! scope's service: `sts` to the STS endpoint (`sts_http`), `s3` to the S3 path (`s3_http`:
//! authenticate → classify → authorize → forward), an HTTP API service to its route
//! (`api_http`). Unsigned requests are routed by address.

pub mod api_http;
mod api_reply;
pub mod authn;
mod bucket_policy;
mod cors_http;
mod host;
mod limits;
mod listener;
mod metrics;
mod pod_http;
mod ready;
mod reload;
pub mod revoke_http;
pub mod s3_http;
mod s3_reply;
pub mod sts_http;
mod tls;
mod workers;

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
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, watch};

pub use host::{HostError, request_host};
pub use metrics::Metrics;
pub use workers::worker_id;

use crate::config::Config;
use crate::identity::IdentityStore;
use crate::sigv4::SigningKeyCache;
use crate::sts::mfa::MfaVerifier;
use crate::sts::{Keyring, StsService};

/// How long in-flight requests may take to finish after a shutdown signal.
pub const DRAIN_GRACE: Duration = Duration::from_secs(10);

pub use crate::proxy::backend::{ApiRoute, BackendClient};
pub use crate::proxy::body::{BoxError, GatewayBody, boxed};

/// Shared state of a running server: one config snapshot and what is derived from it.
pub struct State {
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    pub identities: Arc<IdentityStore>,
    pub keyring: Arc<Keyring>,
    pub sts: StsService,
    pub signing_keys: SigningKeyCache,
    pub backends: Vec<BackendClient>,
    /// Every signing service served: `sts`, `s3` and each HTTP API route's.
    pub services: Vec<String>,
    /// Every region accepted by some protocol (STS also takes `us-east-1`).
    pub all_regions: Vec<String>,
    /// The audit trail (see [`crate::audit`]); kept across config reloads.
    pub audit: Arc<crate::audit::Auditor>,
    /// Asks the reload watcher to reload now (a managed bucket policy was written); kept
    /// across config reloads.
    pub reload_now: Arc<tokio::sync::Notify>,
    /// Some bucket of an S3 backend has CORS rules (else S3 requests skip the lookup).
    pub bucket_cors: bool,
    /// `[[rate_limits]]` with their buckets (carried over a reload for unchanged rules).
    pub rate_limits: Arc<crate::throttle::RateLimits>,
    /// Revoked sessions; kept across config reloads (a changed `[revocation] file` needs a
    /// restart).
    pub revocations: Arc<crate::revocation::Revocations>,
    /// `[shared_state]`: where revocations are shared with the other replicas.
    pub shared: Option<Arc<crate::sts::shared::RedisState>>,
}

impl State {
    /// The first configured region (what unsigned requests are taken to be for).
    pub fn default_region(&self) -> &str {
        self.config
            .server
            .regions
            .first()
            .map_or("us-east-1", String::as_str)
    }

    /// Derives the runtime state (compiled policies, keyring) from a checked config.
    pub fn new(config: Arc<Config>) -> Result<State, String> {
        State::build(config, None)
    }

    /// The state of a reloaded config. What outlives a snapshot carries over: the metrics, the
    /// MFA record (used codes, failures, lockouts) and its counters, and the audit writer.
    pub fn reloaded(&self, config: Arc<Config>) -> Result<State, String> {
        State::build(config, Some(self))
    }

    fn build(config: Arc<Config>, previous: Option<&State>) -> Result<State, String> {
        let identities = Arc::new(IdentityStore::build(&config)?);
        let keyring = Arc::new(Keyring::from_config(&config.keyring));
        let sts = StsService {
            store: identities.clone(),
            keyring: keyring.clone(),
            mfa: match previous {
                Some(p) => MfaVerifier::carried(&p.sts.mfa, config.limits.mfa),
                None => {
                    use crate::sts::mfa::{LocalMfaState, MfaStore};
                    let store = match &config.redis {
                        Some(settings) => MfaStore::Shared(Box::new(
                            crate::sts::shared::RedisState::new(settings)?,
                        )),
                        None => MfaStore::Local(LocalMfaState::default()),
                    };
                    MfaVerifier::new(Arc::new(store), config.limits.mfa)
                }
            },
            federation: Arc::new(crate::federation::Federation::build(
                &config.accounts,
                config.limits.web_identity,
                previous.map(|p| p.sts.federation.as_ref()),
            )?),
            // Answers of the old config's roles do not carry over.
            pod_cache: crate::sts::service::pod_cache(),
            partition: config.server.partition.clone(),
        };
        let mut backends = Vec::new();
        let mut services = vec!["sts".to_string(), "s3".to_string()];
        for b in &config.backends {
            let tls = crate::proxy::tls::for_backend(b)?;
            let pool = crate::proxy::pool::UpstreamPool::new(&b.url, tls);
            let (akid, secret, token) = match &b.credentials {
                Some(c) => (
                    c.access_key_id.as_str(),
                    c.secret_access_key.expose(),
                    c.session_token.as_ref().map(|t| t.expose()),
                ),
                None => ("", "", None),
            };
            let service = match &b.api {
                Some(api) => api.service.as_str(),
                None => "s3",
            };
            if !services.iter().any(|s| s == service) {
                services.push(service.to_string());
            }
            let api = match &b.api {
                Some(settings) => Some(ApiRoute {
                    settings: settings.clone(),
                    prefix: crate::api::canonical_prefix(b.path_prefix.as_deref().unwrap_or("/"))
                        .ok_or_else(|| {
                        format!("backend \"{}\": path_prefix is not canonical", b.name)
                    })?,
                }),
                None => None,
            };
            let signer = crate::sigv4::Signer::new(
                akid,
                secret,
                token,
                &b.region,
                service,
                SigningKeyCache::default(),
            );
            let host = b
                .url
                .authority()
                .and_then(|a| http::HeaderValue::from_str(a.as_str()).ok())
                .ok_or_else(|| format!("backend \"{}\": the URL has no usable host", b.name))?;
            backends.push(BackendClient {
                name: b.name.clone(),
                kind: b.kind,
                url: b.url.clone(),
                host,
                signer,
                timeout: b.timeout,
                pass_fingerprints: b.pass_fingerprints,
                allow_bucket_website: b.allow_bucket_website,
                pool,
                hosts: b.hosts.clone(),
                signs: b.credentials.is_some(),
                api,
                buckets: b.buckets.clone(),
            });
        }
        let mut all_regions = config.server.regions.clone();
        if !all_regions.iter().any(|r| r == "us-east-1") {
            all_regions.push("us-east-1".to_string());
        }
        let reload_now = previous.map_or_else(Arc::default, |p| p.reload_now.clone());
        let (audit, metrics) = match previous {
            Some(p) => (p.audit.clone(), p.metrics.clone()),
            None => (
                Arc::new(
                    crate::audit::Auditor::start(&config.audit)
                        .map_err(|e| format!("cannot open the audit trail: {e}"))?,
                ),
                Arc::new(Metrics::default()),
            ),
        };
        metrics.auth_logs_per_second.store(
            u64::from(config.limits.auth_failure_logs_per_second),
            std::sync::atomic::Ordering::Relaxed,
        );
        let bucket_cors = backends
            .iter()
            .any(|b| b.buckets.entries.iter().any(|e| e.cors.is_some()));
        let rate_limits = Arc::new(crate::throttle::RateLimits::build(
            &config.rate_limits,
            previous.map(|p| p.rate_limits.as_ref()),
        ));
        let revocations = match previous {
            Some(p) => p.revocations.clone(),
            None => Arc::new(crate::revocation::Revocations::load(
                config.revocation_file.clone(),
            )?),
        };
        let shared = match &config.redis {
            Some(settings) => Some(Arc::new(crate::sts::shared::RedisState::new(settings)?)),
            None => None,
        };
        Ok(State {
            shared,
            revocations,
            bucket_cors,
            rate_limits,
            config,
            metrics,
            identities,
            keyring,
            sts,
            signing_keys: SigningKeyCache::default(),
            backends,
            services,
            all_regions,
            audit,
            reload_now,
        })
    }

    /// Counts a failed shared-state (Redis) operation in `stsgate_shared_state_errors_total`.
    pub fn shared_state_error(&self) {
        self.sts
            .mfa
            .counters
            .unavailable
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// The S3 backend for a request addressed to `host`: the first S3 backend whose hosts
    /// take it (a host or any subdomain of it, for virtual-hosted buckets; empty: any host).
    pub fn s3_backend(&self, host: &str) -> Option<&BackendClient> {
        let name = authn::strip_port(host).to_ascii_lowercase();
        self.backends.iter().find(|b| {
            b.kind == crate::config::BackendKind::S3
                && (b.hosts.is_empty()
                    || b.hosts.iter().any(|h| {
                        name == *h
                            || name
                                .strip_suffix(h.as_str())
                                .is_some_and(|rest| rest.ends_with('.'))
                    }))
        })
    }
}

/// The state requests are served with: swapped whole by a config reload, so each request sees
/// one snapshot (in-flight requests finish on the one they started with).
pub struct Live(std::sync::RwLock<Arc<State>>);

impl Live {
    pub fn new(state: Arc<State>) -> Live {
        Live(std::sync::RwLock::new(state))
    }

    /// The current snapshot.
    pub fn load(&self) -> Arc<State> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn store(&self, state: Arc<State>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = state;
    }
}

/// Listeners bound before the server starts, so the caller can report bind errors (and tests
/// can bind port 0 and learn the port).
pub struct Bound {
    pub gateway: TcpListener,
    pub admin: Option<TcpListener>,
}

impl Bound {
    /// Binds `server.listen` and `server.admin_listen`; an error names the address that failed.
    pub async fn bind(config: &Config) -> std::io::Result<Bound> {
        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|e| std::io::Error::new(e.kind(), format!("cannot bind {addr}: {e}")))
        };
        let gateway = bind(config.server.listen).await?;
        let admin = match config.server.admin_listen {
            Some(addr) => Some(bind(addr).await?),
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

/// Serves until `shutdown` completes; then closes the listening sockets at once (new connections
/// are refused) and drains in-flight requests for up to [`DRAIN_GRACE`].
pub async fn serve(
    state: Arc<State>,
    bound: Bound,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let tls = match &state.config.server.tls {
        Some(files) => Some(tls::acceptor(files)?),
        None => None,
    };
    let limits = state.config.limits.clone();
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.h2_max_concurrent_streams)
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    let (stop_tx, stop_rx) = watch::channel(false);
    let (tx, mut accepted) = mpsc::channel::<listener::Accepted>(64);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let Bound { gateway, admin } = bound;
    let mut loops = vec![tokio::spawn(listener::accept_loop(
        gateway,
        false,
        Some(slots),
        state.metrics.clone(),
        tx.clone(),
        stop_rx.clone(),
    ))];
    if let Some(admin) = admin {
        loops.push(tokio::spawn(listener::accept_loop(
            admin,
            true,
            None,
            state.metrics.clone(),
            tx.clone(),
            stop_rx.clone(),
        )));
    }
    drop(tx);
    let live = Arc::new(Live::new(state.clone()));
    let workers = workers::Workers::start(state.config.server.workers)?;
    let prober = tokio::spawn(ready::probe_backends(live.clone(), stop_rx));
    let reloader = tokio::spawn(reload::watch(live.clone()));
    let revocation_sync = tokio::spawn(revoke_http::sync(live.clone()));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            next = accepted.recv() => match next {
                Some(a) => serve_connection(&workers, &live, &builder, &graceful, tls.as_ref(), a),
                None => break,
            },
            () = &mut shutdown => break,
        }
    }
    // Stop accepting: the loops end and drop their listeners, so new connections are refused.
    let _ = stop_tx.send(true);
    for l in loops {
        let _ = l.await;
    }
    drop(accepted);
    prober.abort();
    reloader.abort();
    revocation_sync.abort();
    tracing::info!(
        "shutting down: listeners closed, draining in-flight requests for up to {}s",
        DRAIN_GRACE.as_secs()
    );
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections drained"),
        () = tokio::time::sleep(DRAIN_GRACE) => tracing::warn!("drain grace period over; closing remaining connections"),
    }
    Ok(())
}

/// Serves one accepted connection on its own task: TLS handshake (bounded), then HTTP/1.1 or
/// HTTP/2 with the configured limits; closed when idle.
fn serve_connection(
    workers: &workers::Workers,
    live: &Arc<Live>,
    builder: &auto::Builder<TokioExecutor>,
    graceful: &GracefulShutdown,
    tls: Option<&tokio_rustls::TlsAcceptor>,
    a: listener::Accepted,
) {
    let _ = a.stream.set_nodelay(true);
    let state = live.load();
    let limits = &state.config.limits;
    let activity = listener::Activity::new();
    if a.admin {
        let live = live.clone();
        let peer = a.peer;
        let service = service_fn(move |req| admin(live.load(), peer, req));
        let io = listener::IdleIo::new(a.stream, activity, limits.idle_timeout);
        let conn = graceful.watch(
            builder
                .serve_connection(TokioIo::new(io), service)
                .into_owned(),
        );
        tokio::spawn(async move {
            let _ = conn.await;
        });
        return;
    }
    let client = Client {
        peer: a.peer,
        slot: a.slot,
        idle: limits.idle_timeout,
        handshake: limits.tls_handshake_timeout,
        live: live.clone(),
        builder: builder.clone(),
        watcher: graceful.watcher(),
        acceptor: tls.cloned(),
        activity,
    };
    let Some(worker) = workers.pick() else {
        // `server.workers = 0`: served on this (work-stealing) runtime.
        tokio::spawn(client.serve(a.stream));
        return;
    };
    // The socket moves to the worker's own reactor: its readiness then wakes that thread only.
    let peer = a.peer;
    let stream = match a.stream.into_std() {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(error = %e, %peer, "cannot hand the connection to a worker");
            return;
        }
    };
    worker.spawn(async move {
        match tokio::net::TcpStream::from_std(stream) {
            Ok(stream) => client.serve(stream).await,
            Err(e) => tracing::debug!(error = %e, %peer, "cannot register the connection"),
        }
    });
}

/// What serving one gateway connection needs, moved to the task that serves it.
struct Client {
    peer: SocketAddr,
    slot: Option<listener::ConnectionSlot>,
    idle: Duration,
    handshake: Duration,
    live: Arc<Live>,
    builder: auto::Builder<TokioExecutor>,
    watcher: hyper_util::server::graceful::Watcher,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    activity: Arc<listener::Activity>,
}

impl Client {
    async fn serve(self, stream: tokio::net::TcpStream) {
        let Client {
            peer,
            slot,
            idle,
            handshake,
            live,
            builder,
            watcher,
            acceptor,
            activity,
        } = self;
        let _slot = slot;
        let service = {
            let activity = activity.clone();
            service_fn(move |req| {
                let in_flight = activity.begin();
                let state = live.load();
                async move {
                    let response = gateway(state, peer, req).await;
                    drop(in_flight);
                    response
                }
            })
        };
        let ended = match acceptor {
            Some(acceptor) => {
                match tokio::time::timeout(handshake, acceptor.accept(stream)).await {
                    Ok(Ok(tls_stream)) => {
                        let io = listener::IdleIo::new(tls_stream, activity, idle);
                        let conn = builder
                            .serve_connection_with_upgrades(TokioIo::new(io), service)
                            .into_owned();
                        watcher.watch(conn).await
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, %peer, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                }
            }
            None => {
                let io = listener::IdleIo::new(stream, activity, idle);
                let conn = builder
                    .serve_connection_with_upgrades(TokioIo::new(io), service)
                    .into_owned();
                watcher.watch(conn).await
            }
        };
        if let Err(e) = ended {
            tracing::debug!(error = %e, "connection ended with an error");
        }
    }
}

type Body = GatewayBody;

async fn gateway(
    state: Arc<State>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let (parts, body) = req.into_parts();
    // Boxed: hyper keeps a slot the size of this future in every connection, idle or not, and
    // moves it in per request; serving needs several KiB, allocated only while a request runs.
    let served = Box::pin(serve_routed(&state, peer, &parts, body));
    if !state.audit.enabled() {
        return Ok(served.await);
    }
    let (response, facts) = crate::audit::scope(served).await;
    let record = crate::audit::record(
        &crate::audit::Request {
            now: time::OffsetDateTime::now_utc(),
            source_ip: peer.ip().to_string(),
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok()),
            status: response.status().as_u16(),
        },
        &facts,
    );
    state.audit.record(record.to_string());
    Ok(response)
}

/// Routes and serves one request (see [`authn::route`]).
async fn serve_routed(
    state: &Arc<State>,
    peer: SocketAddr,
    parts: &http::request::Parts,
    body: Incoming,
) -> Response<Body> {
    let front = authn::Front::read(state, parts);
    let route = authn::route(state, parts, &front);
    let response = match route {
        authn::Route::Sts => sts_http::handle(state, peer, parts, front, body)
            .await
            .map(boxed),
        authn::Route::PodIdentity => pod_http::handle(state, peer, parts, &front)
            .await
            .map(boxed),
        authn::Route::S3 => {
            let response = s3_http::handle(state, peer, parts, front, body).await;
            if response.extensions().get::<metrics::Preflight>().is_some() {
                state
                    .metrics
                    .record_preflight("s3", response.extensions().get());
            } else {
                state
                    .metrics
                    .record_s3(response.status(), response.extensions().get());
            }
            response
        }
        authn::Route::Api(_) | authn::Route::NoApi => {
            let response = api_http::handle(state, peer, parts, route, front, body).await;
            let backend = match route {
                authn::Route::Api(i) => state.backends[i].name.as_str(),
                _ => "",
            };
            if response.extensions().get::<metrics::Preflight>().is_some() {
                state
                    .metrics
                    .record_preflight("execute-api", response.extensions().get());
            } else {
                state
                    .metrics
                    .record_api(backend, response.status(), response.extensions().get());
            }
            response
        }
    };
    state.metrics.record_gateway(response.status());
    response
}

async fn admin(
    state: Arc<State>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path() == "/revocations" && req.method() == http::Method::POST {
        // Audited like a gateway request: who revoked what, or why not.
        let user_agent = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let (response, facts) = crate::audit::scope(revoke_http::handle(&state, peer, req)).await;
        if state.audit.enabled() {
            let record = crate::audit::record(
                &crate::audit::Request {
                    now: time::OffsetDateTime::now_utc(),
                    source_ip: peer.ip().to_string(),
                    user_agent: user_agent.as_deref(),
                    status: response.status().as_u16(),
                },
                &facts,
            );
            state.audit.record(record.to_string());
        }
        return Ok(response);
    }
    let (status, content_type, body) = match (req.method(), req.uri().path()) {
        (&http::Method::GET, "/health") => {
            (StatusCode::OK, "text/plain", Bytes::from_static(b"ok\n"))
        }
        (&http::Method::GET, "/ready") if ready::is_ready(&state) => {
            (StatusCode::OK, "text/plain", Bytes::from_static(b"ready\n"))
        }
        (&http::Method::GET, "/ready") => (
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            Bytes::from_static(b"not ready: no backend answers\n"),
        ),
        (&http::Method::GET, "/metrics") => (
            StatusCode::OK,
            "text/plain; version=0.0.4",
            Bytes::from(
                state.metrics.render(&state.sts.mfa.counters, &state.audit)
                    + &metrics::federation(&state.sts.federation)
                    + &state.metrics.render_pod()
                    + &state.metrics.render_cors()
                    + &state.rate_limits.render()
                    + &format!(
                        "# HELP stsgate_revocations Revocation records in force.\n# TYPE stsgate_revocations gauge\nstsgate_revocations {}\n",
                        state
                            .revocations
                            .list(time::OffsetDateTime::now_utc().unix_timestamp())
                            .len()
                    ),
            ),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            Bytes::from_static(b"not found: try /health, /ready, /metrics or POST /revocations\n"),
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

/// A request id of 16 hex characters, like S3's (see [`crate::sts::xml::id_bits`]).
pub fn new_request_id() -> String {
    hex::encode_upper(&crate::sts::xml::id_bits()[..8])
}

use crate::xml::escape as xml_escape;
