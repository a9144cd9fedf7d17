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

/// Idle connections kept per backend; more are closed when they come back.
const MAX_IDLE: usize = 256;

/// The request body type sent upstream.
pub type UpstreamBody = http_body_util::combinators::UnsyncBoxBody<Bytes, super::BodyError>;

/// Why no response head came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unanswered {
    /// The backend could not be reached (connect refused or timed out).
    Unreachable,
    /// The connection broke before an answer.
    Broken,
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
}

/// The connections of one backend.
pub struct UpstreamPool {
    host: String,
    port: u16,
    idle: Mutex<Vec<Connection>>,
}

impl UpstreamPool {
    pub fn new(url: &http::Uri) -> Arc<UpstreamPool> {
        let (host, port) = url
            .authority()
            .map(|a| (a.host().to_string(), a.port_u16().unwrap_or(80)))
            .unwrap_or_default();
        Arc::new(UpstreamPool {
            host,
            port,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Sends `request` (its URI in origin form) on an idle connection or a new one (connecting
    /// within `connect_timeout`). Dropping the returned future, or the response body before its
    /// end, closes the connection.
    pub async fn send(
        self: &Arc<Self>,
        mut request: http::Request<UpstreamBody>,
        connect_timeout: Duration,
    ) -> Result<http::Response<PooledBody>, Unanswered> {
        if let Some(pq) = request.uri().path_and_query().cloned() {
            *request.uri_mut() = http::Uri::from(pq);
        }
        let mut connection = loop {
            match self.idle_connection() {
                Some(mut c) => {
                    let ready = tokio::time::timeout(Duration::from_secs(1), c.sender.ready());
                    if matches!(ready.await, Ok(Ok(()))) {
                        break c;
                    }
                }
                None => break self.connect(connect_timeout).await?,
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

    fn idle_connection(&self) -> Option<Connection> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(c) = idle.pop() {
            if !c.sender.is_closed() {
                return Some(c);
            }
            // Closed by the backend while idle: dropped (and its task aborted).
        }
        None
    }

    async fn connect(&self, timeout: Duration) -> Result<Connection, Unanswered> {
        let stream = tokio::time::timeout(
            timeout,
            tokio::net::TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| Unanswered::Unreachable)?
        .map_err(|_| Unanswered::Unreachable)?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|_| Unanswered::Broken)?;
        let task = ConnectionTask(tokio::spawn(async move {
            let _ = conn.await;
        }));
        Ok(Connection {
            sender,
            _task: task,
        })
    }

    fn put_back(&self, connection: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(connection);
        }
    }

    /// Idle connections held now (for tests).
    pub fn idle_count(&self) -> usize {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
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
        if let Poll::Ready(None) = polled
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
