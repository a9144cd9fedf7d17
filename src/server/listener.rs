//! Accepting connections so that no client can stop the gateway:
//! - accept errors (EMFILE, ENFILE, ENOBUFS, …) back off (10 ms doubling to 1 s) instead of
//!   spinning, and are logged at most once a second;
//! - the gateway listener holds at most `max_connections` open connections: at the cap it stops
//!   accepting (the kernel's backlog waits), so file descriptors stay free for the admin listener;
//! - a connection with no request in flight and no bytes moving for `idle_timeout` is closed
//!   ([`IdleIo`]), whatever the protocol;
//! - on shutdown the accept loops end and their sockets close at once: new connections are
//!   refused while in-flight requests drain.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};

use super::Metrics;

/// A connection accepted by one of the loops.
pub struct Accepted {
    pub stream: TcpStream,
    pub peer: std::net::SocketAddr,
    pub admin: bool,
    /// Held while the connection is open (gateway connections only).
    pub slot: Option<ConnectionSlot>,
}

/// One of `max_connections`, counted in `stsgate_connections_open` while held.
pub struct ConnectionSlot {
    _permit: OwnedSemaphorePermit,
    metrics: Arc<Metrics>,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.metrics
            .connections_open
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// Accepts on `listener` until `stop` turns true, then drops (closes) it.
pub async fn accept_loop(
    listener: TcpListener,
    admin: bool,
    slots: Option<Arc<Semaphore>>,
    metrics: Arc<Metrics>,
    out: mpsc::Sender<Accepted>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(10);
    let mut last_cap_log: Option<Instant> = None;
    loop {
        let permit = match &slots {
            Some(slots) => {
                if slots.available_permits() == 0 {
                    metrics
                        .connection_cap_reached
                        .fetch_add(1, Ordering::Relaxed);
                    if last_cap_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                        last_cap_log = Some(Instant::now());
                        tracing::warn!(
                            "max_connections reached: accepting paused until a connection closes"
                        );
                    }
                }
                tokio::select! {
                    p = slots.clone().acquire_owned() => match p {
                        Ok(p) => Some(p),
                        Err(_) => return,
                    },
                    _ = stop.changed() => return,
                }
            }
            None => None,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff = Duration::from_millis(10);
                let slot = permit.map(|p| {
                    metrics.connections_open.fetch_add(1, Ordering::Relaxed);
                    ConnectionSlot {
                        _permit: p,
                        metrics: metrics.clone(),
                    }
                });
                let accepted = Accepted {
                    stream,
                    peer,
                    admin,
                    slot,
                };
                if out.send(accepted).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                metrics.accept_errors.fetch_add(1, Ordering::Relaxed);
                if let Some(suppressed) = metrics.accept_failure_log() {
                    tracing::warn!(error = %e, backoff_ms = backoff.as_millis() as u64, admin, suppressed_since_last = suppressed, "accept failed; backing off");
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// What a connection is doing: requests in flight, and when bytes last moved.
#[derive(Debug)]
pub struct Activity {
    in_flight: AtomicUsize,
    started: Instant,
    /// Milliseconds after `started` when bytes last moved.
    last_ms: std::sync::atomic::AtomicU64,
}

impl Activity {
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            in_flight: AtomicUsize::new(0),
            started: Instant::now(),
            last_ms: Default::default(),
        })
    }

    fn touch(&self) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }

    /// Marks a request in flight until the guard is dropped.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }
}

pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A connection's IO that fails a pending read once nothing has happened for `idle`: no request
/// in flight and no bytes read or written. hyper then closes the connection.
pub struct IdleIo<S> {
    inner: S,
    activity: Arc<Activity>,
    idle: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl<S> IdleIo<S> {
    pub fn new(inner: S, activity: Arc<Activity>, idle: Duration) -> IdleIo<S> {
        activity.touch();
        IdleIo {
            inner,
            activity,
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    this.activity.touch();
                }
                Poll::Ready(r)
            }
            Poll::Pending => {
                if this.activity.in_flight.load(Ordering::Relaxed) > 0 {
                    // A request is being served: the backend timeouts govern.
                    return Poll::Pending;
                }
                let idle_for = this.activity.idle_for();
                if idle_for >= this.idle {
                    return Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "connection idle",
                    )));
                }
                let deadline = tokio::time::Instant::now() + (this.idle - idle_for);
                this.timer.as_mut().reset(deadline);
                match this.timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "connection idle",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = &r
            && *n > 0
        {
            this.activity.touch();
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = &r
            && *n > 0
        {
            this.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
