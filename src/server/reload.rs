//! Config reload without a restart: on SIGHUP, and when the config file or any file it read
//! (policies, secrets, certificates) changes, polled every 2 s. A complete new snapshot is
//! checked and built, then swapped in whole ([`super::Live`]); requests in flight finish on the
//! snapshot they started with. A file that does not check leaves the running snapshot serving:
//! its problems are logged with their places and counted in
//! `stsgate_config_reload_failures_total`. SIGHUP also reopens the audit file.
//!
//! What only a restart changes: the listen addresses, `[server.tls]`, the connection-level limits
//! fixed when the listener starts (`max_connections`, `header_read_timeout_seconds`,
//! `max_header_bytes`, `h2_max_concurrent_streams`), the `[audit]` destination and
//! `[shared_state]` (a reload says so in the log).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use super::{Live, State};
use crate::config::{Config, Severity};

/// How often the files are checked for changes.
pub const POLL: Duration = Duration::from_secs(2);

/// What identifies a file's content cheaply: its modification time and length.
type Stamp = Vec<(PathBuf, Option<(SystemTime, u64)>)>;

fn stamp(config: &Config) -> Stamp {
    std::iter::once(&config.source)
        .chain(&config.files)
        .map(|p| {
            let meta = std::fs::metadata(p).ok();
            (
                p.clone(),
                meta.and_then(|m| Some((m.modified().ok()?, m.len()))),
            )
        })
        .collect()
}

/// Watches for SIGHUP and file changes until the task is aborted.
pub async fn watch(live: Arc<Live>) {
    #[cfg(unix)]
    let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut seen = stamp(&live.load().config);
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        #[cfg(unix)]
        let hangup = async {
            match hangups.as_mut() {
                Some(h) => {
                    h.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let hangup = std::future::pending::<()>();
        let reload_now = live.load().reload_now.clone();
        let (signalled, asked) = tokio::select! {
            () = hangup => (true, false),
            () = reload_now.notified() => (false, true),
            _ = tick.tick() => (false, false),
        };
        let current = live.load();
        if signalled {
            current.audit.reopen();
            tracing::info!("SIGHUP: reloading the config; the audit file is reopened");
        }
        let now = stamp(&current.config);
        if !signalled && !asked && now == seen {
            continue;
        }
        seen = now;
        let path = current.config.source.clone();
        let loaded = tokio::task::spawn_blocking(move || crate::config::load(&path)).await;
        match loaded {
            Ok(Ok(loaded)) => swap(&live, &current, loaded.config),
            Ok(Err(problems)) => {
                for p in problems.iter().filter(|p| p.severity == Severity::Error) {
                    tracing::error!(problem = %p, "config reload refused; the running config keeps serving");
                }
                current
                    .metrics
                    .config_reload_failures
                    .fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => tracing::error!(error = %e, "config reload failed"),
        }
    }
}

fn swap(live: &Live, current: &Arc<State>, config: Config) {
    let old = &current.config;
    let restart_only = [
        ("server.listen", old.server.listen != config.server.listen),
        (
            "server.admin_listen",
            old.server.admin_listen != config.server.admin_listen,
        ),
        (
            "server.tls",
            old.server.tls.as_ref().map(|t| (&t.cert, &t.key))
                != config.server.tls.as_ref().map(|t| (&t.cert, &t.key)),
        ),
        (
            "limits.max_connections",
            old.limits.max_connections != config.limits.max_connections,
        ),
        (
            "limits.header_read_timeout_seconds",
            old.limits.header_read_timeout != config.limits.header_read_timeout,
        ),
        (
            "limits.max_header_bytes",
            old.limits.max_header_bytes != config.limits.max_header_bytes,
        ),
        (
            "limits.h2_max_concurrent_streams",
            old.limits.h2_max_concurrent_streams != config.limits.h2_max_concurrent_streams,
        ),
        (
            "server.workers",
            old.server.workers != config.server.workers,
        ),
        ("audit", old.audit != config.audit),
        ("shared_state", old.redis != config.redis),
    ];
    for (key, changed) in restart_only {
        if changed {
            tracing::warn!(
                key,
                "this setting changed; it takes effect at the next restart"
            );
        }
    }
    match current.reloaded(Arc::new(config)) {
        Ok(state) => {
            state.sts.federation.prefetch();
            live.store(Arc::new(state));
            current
                .metrics
                .config_reloads
                .fetch_add(1, Ordering::Relaxed);
            tracing::info!(config = %current.config.source.display(), "config reloaded");
        }
        Err(e) => {
            current
                .metrics
                .config_reload_failures
                .fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %e, "config reload refused; the running config keeps serving");
        }
    }
}
