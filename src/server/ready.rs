//! Readiness: a background probe of every backend, so `/ready` says whether requests can be
//! served without adding a probe to any request. A backend is up when it answers an unsigned
//! `GET /` (any HTTP status) within [`PROBE_TIMEOUT`]; a stopped, killed or frozen one is not.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use tokio::sync::watch;

use super::{BackendClient, State};

/// The probe's `User-Agent`, so backends (and their logs) can tell probes apart.
pub const PROBE_USER_AGENT: &str = "stsgate-readiness-probe";

/// How often every backend is probed.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(2);
/// How long a probe waits for an answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Probes until `stop` turns true, recording each backend in `stsgate_backend_up`.
pub async fn probe_backends(live: Arc<super::Live>, mut stop: watch::Receiver<bool>) {
    loop {
        let state = live.load();
        for backend in &state.backends {
            let up = probe(backend).await;
            let was = state
                .metrics
                .backend_up
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(backend.name.clone(), up);
            match (was, up) {
                (Some(false) | None, true) => {
                    tracing::info!(backend = %backend.name, "backend answers")
                }
                (Some(true) | None, false) => {
                    tracing::warn!(backend = %backend.name, "backend does not answer; /ready reports 503 if none does")
                }
                _ => {}
            }
        }
        tokio::select! {
            () = tokio::time::sleep(PROBE_INTERVAL) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn probe(backend: &BackendClient) -> bool {
    let empty = http_body_util::Full::new(bytes::Bytes::new())
        .map_err(|never: std::convert::Infallible| match never {})
        .boxed_unsync();
    let Ok(request) = http::Request::get(backend.url.clone())
        .header(http::header::USER_AGENT, PROBE_USER_AGENT)
        .body(empty)
    else {
        return false;
    };
    // The probe's connection is closed with its response, not pooled.
    matches!(
        tokio::time::timeout(
            PROBE_TIMEOUT,
            backend
                .pool
                .send(request, PROBE_TIMEOUT, super::worker_id())
        )
        .await,
        Ok(Ok(_))
    )
}

/// Ready when no backend is configured (STS only), or when at least one answered its last probe.
/// Before the first probe has finished: not ready.
pub fn is_ready(state: &State) -> bool {
    if state.backends.is_empty() {
        return true;
    }
    state
        .metrics
        .backend_up
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .values()
        .any(|up| *up)
}
