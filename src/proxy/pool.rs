//! Upstream HTTP/1.1 connections to one backend: reused while they stay healthy, like any
//! keep-alive pool, but each connection belongs to the request using it until that request's
//! response body has been read to the end. A request that gives up (a 504 on a stalled backend, a
//! client gone) drops its connection, which closes the socket at once: a generic pool keeps such
//! a connection alive inside its own task until the backend answers, which a frozen backend
//! never does.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

/// Idle connections kept per backend and worker; more are closed when they come back.
const MAX_IDLE: usize = 256;

/// The request body type sent upstream.
pub type UpstreamBody = http_body_util::combinators::UnsyncBoxBody<Bytes, super::BodyError>;

/// Why no response head came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unanswered {
    /// The backend could not be reached (connect refused or timed out).
    Unreachable,
    /// The connection broke before an answer.
    Broken,
    /// The TLS handshake failed (the reason, e.g. a certificate that does not verify).
    Tls(String),
}

/// Aborts the connection task (closing its socket) when dropped.
struct ConnectionTask(tokio::task::JoinHandle<()>);

impl Drop for ConnectionTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct Connection {
    sender: SendRequest<UpstreamBody>,
    _task: ConnectionTask,
    /// The worker whose runtime drives the connection's task.
    worker: usize,
}

/// The connections of one backend.
pub struct UpstreamPool {
    host: String,
    port: u16,
    tls: Option<super::tls::BackendTls>,
    /// Idle connections by the worker thread that opened them (see `server::workers`): a
    /// connection's task runs on that thread's runtime, so a request reuses only its own
    /// worker's connections and never wakes another thread.
    idle: Mutex<Vec<Vec<Connection>>>,
}

impl UpstreamPool {
    /// A pool for `url`; `tls` for an https backend (see [`super::tls::for_backend`]).
    pub fn new(url: &http::Uri, tls: Option<super::tls::BackendTls>) -> Arc<UpstreamPool> {
        let default_port = if tls.is_some() { 443 } else { 80 };
        let (host, port) = url
            .authority()
            .map(|a| {
                let host = a.host().trim_start_matches('[').trim_end_matches(']');
                (host.to_string(), a.port_u16().unwrap_or(default_port))
            })
            .unwrap_or_default();
        Arc::new(UpstreamPool {
            host,
            port,
            tls,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Sends `request` (its URI in origin form) on an idle connection of `worker` (the
    /// connection thread sending it: `server::workers::worker_id`) or a new one (connecting
    /// within `connect_timeout`). Dropping the returned future, or the response body before its
    /// end, closes the connection.
    pub async fn send(
        self: &Arc<Self>,
        mut request: http::Request<UpstreamBody>,
        connect_timeout: Duration,
        worker: usize,
    ) -> Result<http::Response<PooledBody>, Unanswered> {
        if let Some(pq) = request.uri().path_and_query().cloned() {
            *request.uri_mut() = http::Uri::from(pq);
        }
        let mut connection = loop {
            match self.idle_connection(worker) {
                Some(mut c) => {
                    let ready = tokio::time::timeout(Duration::from_secs(1), c.sender.ready());
                    if matches!(ready.await, Ok(Ok(()))) {
                        break c;
                    }
                }
                // Boxed: connecting (TCP, TLS, handshake) is rare, and its state would
                // otherwise enlarge every request's future.
                None => break Box::pin(self.connect(connect_timeout, worker)).await?,
            }
        };
        let response = connection
            .sender
            .send_request(request)
            .await
            .map_err(|_| Unanswered::Broken)?;
        let reusable = !response
            .headers()
            .get(http::header::CONNECTION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let (parts, body) = response.into_parts();
        // An empty body (HEAD, 204, a PUT's 200) may never be polled: the connection is free now.
        let connection = if reusable && body.is_end_stream() {
            self.put_back(connection);
            None
        } else {
            Some(connection)
        };
        Ok(http::Response::from_parts(
            parts,
            PooledBody {
                inner: body,
                connection,
                pool: self.clone(),
                reusable,
            },
        ))
    }

    fn idle_connection(&self, worker: usize) -> Option<Connection> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let idle = idle.get_mut(worker)?;
        while let Some(c) = idle.pop() {
            if !c.sender.is_closed() {
                return Some(c);
            }
            // Closed by the backend while idle: dropped (and its task aborted).
        }
        None
    }

    async fn connect(&self, timeout: Duration, worker: usize) -> Result<Connection, Unanswered> {
        let stream = tokio::time::timeout(
            timeout,
            tokio::net::TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| Unanswered::Unreachable)?
        .map_err(|_| Unanswered::Unreachable)?;
        let _ = stream.set_nodelay(true);
        match &self.tls {
            None => handshake(stream, worker).await,
            Some(tls) => {
                let connect = tls.connector.connect(tls.server_name.clone(), stream);
                let tls_stream = tokio::time::timeout(timeout, connect)
                    .await
                    .map_err(|_| Unanswered::Tls("the TLS handshake timed out".into()))?
                    .map_err(|e| Unanswered::Tls(e.to_string()))?;
                handshake(tls_stream, worker).await
            }
        }
    }

    fn put_back(&self, connection: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let worker = connection.worker;
        if idle.len() <= worker {
            idle.resize_with(worker + 1, Vec::new);
        }
        if idle[worker].len() < MAX_IDLE {
            idle[worker].push(connection);
        }
    }

    /// Idle connections held now (for tests).
    pub fn idle_count(&self) -> usize {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(Vec::len)
            .sum()
    }
}

/// An HTTP/1.1 client connection over `io`, driven by its own task.
async fn handshake<IO>(io: IO, worker: usize) -> Result<Connection, Unanswered>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|_| Unanswered::Broken)?;
    let task = ConnectionTask(tokio::spawn(async move {
        let _ = conn.await;
    }));
    Ok(Connection {
        sender,
        _task: task,
        worker,
    })
}

/// A response body that returns its connection to the pool once read to the end; dropped
/// earlier, it closes the connection.
pub struct PooledBody {
    inner: Incoming,
    connection: Option<Connection>,
    pool: Arc<UpstreamPool>,
    reusable: bool,
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        // The end is known either from a final `None` or, right after the last frame, from
        // `is_end_stream` (a reader that trusts it never polls for the `None`).
        let ended = match &polled {
            Poll::Ready(None) => true,
            Poll::Ready(Some(Ok(_))) => this.inner.is_end_stream(),
            _ => false,
        };
        if ended
            && let Some(connection) = this.connection.take()
            && this.reusable
        {
            this.pool.put_back(connection);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    /// A keep-alive HTTP/1.1 server answering every request with `body`; counts connections.
    async fn server(body: &'static [u8]) -> (http::Uri, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |_req| async move {
                        Ok::<_, std::convert::Infallible>(http::Response::new(
                            http_body_util::Full::new(Bytes::from_static(body)),
                        ))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        (format!("http://{addr}").parse().unwrap(), accepted)
    }

    fn get(uri: &http::Uri) -> http::Request<UpstreamBody> {
        let empty = http_body_util::Full::new(Bytes::new())
            .map_err(|never: std::convert::Infallible| match never {})
            .boxed_unsync();
        http::Request::get(uri.clone()).body(empty).unwrap()
    }

    #[tokio::test]
    async fn connections_are_reused_once_a_body_is_read_and_closed_when_dropped_early() {
        for body in [&b""[..], &b"four kib of data"[..]] {
            let (uri, accepted) = server(body).await;
            let pool = UpstreamPool::new(&uri, None);
            for _ in 0..10 {
                let response = pool
                    .send(get(&uri), Duration::from_secs(2), 0)
                    .await
                    .unwrap();
                // Read the way hyper's server does: frames until `is_end_stream`.
                let mut b = response.into_body();
                while !b.is_end_stream() {
                    if b.frame().await.is_none() {
                        break;
                    }
                }
            }
            assert_eq!(
                accepted.load(std::sync::atomic::Ordering::SeqCst),
                1,
                "body {body:?}: one connection for ten requests"
            );
            // A response dropped before its body was read takes its connection with it.
            let response = pool
                .send(get(&uri), Duration::from_secs(2), 0)
                .await
                .unwrap();
            let idle_before = pool.idle_count();
            drop(response);
            assert_eq!(pool.idle_count(), idle_before);
        }
    }
}
