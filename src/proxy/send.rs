//! Sending a request the gateway built to a backend, with the silence timeouts every protocol
//! shares (see [`super::Progress`]).

use http::Response;
use http_body_util::BodyExt;

use super::Stall;
use super::backend::BackendClient;
use super::pool::{PooledBody, Unanswered, UpstreamBody};

/// The outcome of sending an upstream request: the backend's answer, or why there is none.
pub type Sent = Result<Result<Response<PooledBody>, Unanswered>, Stall>;

/// Builds the upstream request from the parts the gateway made (`path` and `query` already
/// encoded by it, `headers` complete and signed) and sends it with [`send_watched`]. `None` if
/// the parts do not form a request.
pub async fn send_rebuilt(
    backend: &BackendClient,
    worker: usize,
    method: http::Method,
    path: &str,
    query: &str,
    headers: http::HeaderMap,
    body: UpstreamBody,
) -> Option<Sent> {
    let authority = backend.url.authority()?.as_str();
    let uri = format!(
        "{}://{authority}{path}{}{query}",
        backend.url.scheme_str().unwrap_or("http"),
        if query.is_empty() { "" } else { "?" }
    );
    let mut upstream = http::Request::builder().method(method).uri(&uri);
    if let Some(h) = upstream.headers_mut() {
        *h = headers;
    }
    let (body, progress) = super::Tracked::new(body);
    let upstream = upstream.body(body.boxed_unsync()).ok()?;
    Some(send_watched(backend, worker, upstream, progress).await)
}

/// Sends `upstream` and waits for the response head. The wait is cut off, aborting the upstream
/// request, when nothing has moved for the backend's timeout: no body bytes from the client
/// (`Stall::Client`), or no answer once the body is sent or while the backend is not reading it
/// (`Stall::Backend`). A long upload that keeps moving is never cut off. Cutting off drops the
/// request's upstream connection, which closes its socket at once (see [`super::pool`]).
async fn send_watched(
    backend: &BackendClient,
    worker: usize,
    upstream: http::Request<UpstreamBody>,
    progress: std::sync::Arc<super::Progress>,
) -> Sent {
    let response = backend.pool.send(upstream, backend.timeout, worker);
    tokio::pin!(response);
    loop {
        let (since, _) = progress.waiting_since();
        let deadline = tokio::time::Instant::from_std(since + backend.timeout);
        tokio::select! {
            r = &mut response => return Ok(r),
            () = tokio::time::sleep_until(deadline) => {
                let (since, who) = progress.waiting_since();
                if since.elapsed() >= backend.timeout {
                    return Err(who);
                }
            }
        }
    }
}
