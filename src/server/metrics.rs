//! Prometheus metrics, rendered in the text exposition format at the admin `/metrics`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use http::StatusCode;

/// The S3 error code a gateway-made refusal carries, attached to the response so the
/// listener can count it without parsing the body.
#[derive(Debug, Clone)]
pub struct Refusal(pub String);

/// Marks a CORS preflight answered by the gateway (allowed, or refused with a [`Refusal`]):
/// counted in `stsgate_cors_preflights_total`, not as a forwarded or refused request.
#[derive(Clone, Copy)]
pub struct Preflight;

/// Counters of the gateway listener.
#[derive(Default)]
pub struct Metrics {
    /// Authentication failures by (protocol, reason): every one counted.
    auth_failures: Mutex<BTreeMap<(&'static str, String), u64>>,
    /// Their log lines, at most `per_second` (a flood must not fill the disk).
    auth_log: LogBudget,
    /// Policy refusals' log lines, within the same per-second limit of their own.
    refusal_log: LogBudget,
    /// Connections open now, and how often accepting paused at `max_connections`.
    pub connections_open: AtomicU64,
    pub connection_cap_reached: AtomicU64,
    /// Accept errors (EMFILE, ENFILE, …), each followed by a back-off.
    pub accept_errors: AtomicU64,
    /// Accept-failure log lines: one a second for every listener together.
    accept_log: LogBudget,
    /// Whether the last background probe found a backend answering (1) or not (0), by name.
    pub backend_up: Mutex<BTreeMap<String, bool>>,
    gateway: [AtomicU64; 4],
    /// S3 requests answered by the backend, by the backend's status class.
    s3_forwarded: [AtomicU64; 4],
    /// S3 requests the gateway answered itself, by error code (a small, fixed set).
    s3_refused: Mutex<BTreeMap<String, u64>>,
    /// HTTP API requests answered by the API, by (backend, status class).
    api_forwarded: Mutex<BTreeMap<(String, usize), u64>>,
    /// HTTP API requests the gateway answered itself, by `x-amzn-ErrorType`.
    api_refused: Mutex<BTreeMap<String, u64>>,
    /// Container-credentials answers: `issued`, `reused` (from the cache), or the refusal's code.
    pod_credentials: Mutex<BTreeMap<String, u64>>,
    /// CORS preflights by (protocol, outcome).
    cors_preflights: Mutex<BTreeMap<(&'static str, String), u64>>,
    /// Config reloads that took effect, and those refused (the running config kept serving).
    pub config_reloads: AtomicU64,
    pub config_reload_failures: AtomicU64,
    /// `limits.auth_failure_logs_per_second`.
    pub auth_logs_per_second: AtomicU64,
}

const CLASSES: [&str; 4] = ["2xx", "3xx", "4xx", "5xx"];

fn class(status: StatusCode) -> usize {
    match status.as_u16() {
        200..=299 => 0,
        300..=399 => 1,
        400..=499 => 2,
        _ => 3,
    }
}

/// A per-second budget of log lines; what it suppresses is counted and reported with the next
/// line that goes out.
#[derive(Default)]
struct LogBudget {
    state: Mutex<(u64, u32, u64)>,
}

impl LogBudget {
    /// Whether a line may be logged now (with `per_second` at most); and how many were
    /// suppressed since the last one that was.
    fn take(&self, per_second: u32) -> Option<u64> {
        let second = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.0 != second {
            s.0 = second;
            s.1 = 0;
        }
        if s.1 >= per_second {
            s.2 += 1;
            return None;
        }
        s.1 += 1;
        Some(std::mem::take(&mut s.2))
    }
}

impl Metrics {
    /// Counts an authentication failure and logs it (rate-limited): the reason, the access key
    /// id if the request named one, the source address. Never a secret, signature or token.
    pub fn auth_failure(
        &self,
        protocol: &'static str,
        reason: &str,
        access_key_id: Option<&str>,
        peer: std::net::SocketAddr,
    ) {
        *self
            .auth_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((protocol, reason.to_string()))
            .or_default() += 1;
        let per_second = self.auth_logs_per_second.load(Ordering::Relaxed);
        if let Some(suppressed) = self.auth_log.take(u32::try_from(per_second).unwrap_or(20)) {
            tracing::warn!(
                protocol,
                reason,
                access_key_id = access_key_id.unwrap_or("-"),
                source = %peer.ip(),
                suppressed_since_last = suppressed,
                "authentication failed"
            );
        }
    }

    /// Whether a policy refusal may be logged now (at most `limits.auth_failure_logs_per_second`
    /// lines a second, like authentication failures); if so, how many were suppressed since the
    /// last line. Every refusal is still counted and written to the audit trail.
    pub fn refusal_log(&self) -> Option<u64> {
        let per_second = self.auth_logs_per_second.load(Ordering::Relaxed);
        self.refusal_log
            .take(u32::try_from(per_second).unwrap_or(20))
    }

    /// Whether an accept failure may be logged now (one line a second, whichever listener);
    /// if so, how many were suppressed since the last line.
    pub fn accept_failure_log(&self) -> Option<u64> {
        self.accept_log.take(1)
    }

    pub fn record_gateway(&self, status: StatusCode) {
        self.gateway[class(status)].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an S3 response: refused by the gateway (it carries a [`Refusal`]) or forwarded.
    pub fn record_s3(&self, status: StatusCode, refusal: Option<&Refusal>) {
        match refusal {
            Some(Refusal(code)) => {
                *self
                    .s3_refused
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(code.clone())
                    .or_default() += 1;
            }
            None => {
                self.s3_forwarded[class(status)].fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Counts a container-credentials answer by its outcome.
    pub fn record_pod(&self, outcome: &str) {
        *self
            .pod_credentials
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(outcome.to_string())
            .or_default() += 1;
    }

    /// Counts a CORS preflight of `protocol` (`s3`, `execute-api`): `allowed`, or the refusal's
    /// code.
    pub fn record_preflight(&self, protocol: &'static str, refusal: Option<&Refusal>) {
        let outcome = refusal.map_or("allowed", |r| r.0.as_str()).to_string();
        *self
            .cors_preflights
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((protocol, outcome))
            .or_default() += 1;
    }

    /// `stsgate_cors_preflights_total`.
    pub fn render_cors(&self) -> String {
        let mut out = String::from(
            "# HELP stsgate_cors_preflights_total CORS preflights answered by the gateway, by protocol and outcome: allowed, or the refusal's code.\n# TYPE stsgate_cors_preflights_total counter\n",
        );
        for ((protocol, outcome), n) in self
            .cors_preflights
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            out.push_str(&format!(
                "stsgate_cors_preflights_total{{protocol=\"{protocol}\",outcome=\"{outcome}\"}} {n}\n"
            ));
        }
        out
    }

    /// `stsgate_pod_credentials_total`.
    pub fn render_pod(&self) -> String {
        let mut out = String::from(
            "# HELP stsgate_pod_credentials_total Container-credentials answers (GET /v1/credentials), by outcome: issued, reused (from the cache), or the refusal's code.\n# TYPE stsgate_pod_credentials_total counter\n",
        );
        for (outcome, n) in self
            .pod_credentials
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            out.push_str(&format!(
                "stsgate_pod_credentials_total{{outcome=\"{outcome}\"}} {n}\n"
            ));
        }
        out
    }

    /// Counts an HTTP API response: refused by the gateway (it carries a [`Refusal`]) or
    /// answered by the API behind `backend`.
    pub fn record_api(&self, backend: &str, status: StatusCode, refusal: Option<&Refusal>) {
        match refusal {
            Some(Refusal(code)) => {
                *self
                    .api_refused
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(code.clone())
                    .or_default() += 1;
            }
            None => {
                *self
                    .api_forwarded
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry((backend.to_string(), class(status)))
                    .or_default() += 1;
            }
        }
    }

    pub fn render(
        &self,
        mfa: &crate::sts::mfa::MfaCounters,
        audit: &crate::audit::Auditor,
    ) -> String {
        let mut out = String::new();
        out.push_str("# HELP stsgate_config_reloads_total Config reloads that took effect.\n# TYPE stsgate_config_reloads_total counter\n");
        out.push_str(&format!(
            "stsgate_config_reloads_total {}\n",
            self.config_reloads.load(Ordering::Relaxed)
        ));
        out.push_str("# HELP stsgate_config_reload_failures_total Config reloads refused because the new files did not check; the running config kept serving.\n# TYPE stsgate_config_reload_failures_total counter\n");
        out.push_str(&format!(
            "stsgate_config_reload_failures_total {}\n",
            self.config_reload_failures.load(Ordering::Relaxed)
        ));
        out.push_str("# HELP stsgate_audit_records_total Audit records queued for writing.\n# TYPE stsgate_audit_records_total counter\n");
        out.push_str(&format!(
            "stsgate_audit_records_total {}\n",
            audit.records.load(Ordering::Relaxed)
        ));
        out.push_str("# HELP stsgate_audit_dropped_total Audit records dropped because the queue was full (requests never wait for the audit writer).\n# TYPE stsgate_audit_dropped_total counter\n");
        out.push_str(&format!(
            "stsgate_audit_dropped_total {}\n",
            audit.dropped.load(Ordering::Relaxed)
        ));
        out.push_str(
            "# HELP stsgate_build_info Build information.\n# TYPE stsgate_build_info gauge\n",
        );
        out.push_str(&format!(
            "stsgate_build_info{{version=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        ));
        out.push_str("# HELP stsgate_gateway_responses_total Responses sent by the gateway listener, by status class.\n");
        out.push_str("# TYPE stsgate_gateway_responses_total counter\n");
        for (class, counter) in CLASSES.iter().zip(&self.gateway) {
            out.push_str(&format!(
                "stsgate_gateway_responses_total{{class=\"{class}\"}} {}\n",
                counter.load(Ordering::Relaxed)
            ));
        }
        out.push_str("# HELP stsgate_s3_forwarded_total S3 requests forwarded and answered by the backend, by the backend's status class.\n");
        out.push_str("# TYPE stsgate_s3_forwarded_total counter\n");
        for (class, counter) in CLASSES.iter().zip(&self.s3_forwarded) {
            out.push_str(&format!(
                "stsgate_s3_forwarded_total{{class=\"{class}\"}} {}\n",
                counter.load(Ordering::Relaxed)
            ));
        }
        out.push_str("# HELP stsgate_s3_refused_total S3 requests the gateway answered itself (not forwarded, or aborted), by S3 error code.\n");
        out.push_str("# TYPE stsgate_s3_refused_total counter\n");
        for (code, n) in self
            .s3_refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            out.push_str(&format!(
                "stsgate_s3_refused_total{{code=\"{code}\"}} {n}\n"
            ));
        }
        out.push_str("# HELP stsgate_api_forwarded_total HTTP API requests forwarded and answered by the API, by backend and the API's status class.\n");
        out.push_str("# TYPE stsgate_api_forwarded_total counter\n");
        for ((backend, class), n) in self
            .api_forwarded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            out.push_str(&format!(
                "stsgate_api_forwarded_total{{backend=\"{backend}\",class=\"{}\"}} {n}\n",
                CLASSES[*class]
            ));
        }
        out.push_str("# HELP stsgate_api_refused_total HTTP API requests the gateway answered itself, by x-amzn-ErrorType.\n");
        out.push_str("# TYPE stsgate_api_refused_total counter\n");
        for (code, n) in self
            .api_refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            out.push_str(&format!(
                "stsgate_api_refused_total{{code=\"{code}\"}} {n}\n"
            ));
        }
        out.push_str("# HELP stsgate_auth_failures_total Requests refused at authentication, by protocol and reason (error code).\n");
        out.push_str("# TYPE stsgate_auth_failures_total counter\n");
        for ((protocol, reason), n) in self
            .auth_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            out.push_str(&format!(
                "stsgate_auth_failures_total{{protocol=\"{protocol}\",reason=\"{reason}\"}} {n}\n"
            ));
        }
        out.push_str("# HELP stsgate_mfa_failures_total MFA attempts refused, by reason (locked_out: refused without checking the code).\n");
        out.push_str("# TYPE stsgate_mfa_failures_total counter\n");
        for (reason, counter) in [
            ("invalid", &mfa.invalid),
            ("reused", &mfa.reused),
            ("unknown_device", &mfa.unknown_device),
            ("locked_out", &mfa.locked_out),
        ] {
            out.push_str(&format!(
                "stsgate_mfa_failures_total{{reason=\"{reason}\"}} {}\n",
                counter.load(Ordering::Relaxed)
            ));
        }
        let gauge = |out: &mut String, name: &str, help: &str, kind: &str, v: u64| {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
            ));
        };
        gauge(
            &mut out,
            "stsgate_mfa_lockouts_total",
            "MFA lockouts started (a device or a caller reached mfa_max_failures).",
            "counter",
            mfa.lockouts.load(Ordering::Relaxed),
        );
        gauge(
            &mut out,
            "stsgate_shared_state_errors_total",
            "Shared state store (Redis) operations that failed or timed out: MFA attempts that needed them were refused; revocations that could not be shared were answered 503.",
            "counter",
            mfa.unavailable.load(Ordering::Relaxed),
        );
        gauge(
            &mut out,
            "stsgate_connections_open",
            "Client connections open on both listeners.",
            "gauge",
            self.connections_open.load(Ordering::Relaxed),
        );
        gauge(
            &mut out,
            "stsgate_connection_cap_reached_total",
            "Times accepting paused because max_connections were open.",
            "counter",
            self.connection_cap_reached.load(Ordering::Relaxed),
        );
        gauge(
            &mut out,
            "stsgate_accept_errors_total",
            "Accept errors (such as too many open files), each followed by a back-off.",
            "counter",
            self.accept_errors.load(Ordering::Relaxed),
        );
        out.push_str("# HELP stsgate_backend_up Whether the last background probe reached the backend (1) or not (0).\n# TYPE stsgate_backend_up gauge\n");
        for (name, up) in self
            .backend_up
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            out.push_str(&format!(
                "stsgate_backend_up{{backend=\"{name}\"}} {}\n",
                u8::from(*up)
            ));
        }
        out
    }
}

/// The federation's counters: key fetches per provider, and the web identity attempt limits.
pub fn federation(f: &crate::federation::Federation) -> String {
    let mut out = String::new();
    out.push_str("# HELP stsgate_oidc_key_fetches_total JWKS fetches of each OIDC provider, by outcome (failed: the last good keys were kept).\n# TYPE stsgate_oidc_key_fetches_total counter\n");
    let mut providers: Vec<_> = f.providers().collect();
    providers.sort_by(|a, b| a.config.arn.cmp(&b.config.arn));
    for p in &providers {
        for (outcome, n) in [("ok", &p.counters.ok), ("failed", &p.counters.failed)] {
            out.push_str(&format!(
                "stsgate_oidc_key_fetches_total{{provider=\"{}\",outcome=\"{outcome}\"}} {}\n",
                p.config.arn,
                n.load(Ordering::Relaxed)
            ));
        }
    }
    out.push_str("# HELP stsgate_oidc_keys Keys each OIDC provider's cached set holds (0: none yet, tokens are refused).\n# TYPE stsgate_oidc_keys gauge\n");
    for p in &providers {
        out.push_str(&format!(
            "stsgate_oidc_keys{{provider=\"{}\"}} {}\n",
            p.config.arn,
            p.current().map_or(0, |l| l.set.len())
        ));
    }
    let c = &f.limits.counters;
    out.push_str("# HELP stsgate_web_identity_lockouts_total AssumeRoleWithWebIdentity lockouts started, by what reached its failure limit.\n# TYPE stsgate_web_identity_lockouts_total counter\n");
    out.push_str(&format!(
        "stsgate_web_identity_lockouts_total{{scope=\"address\"}} {}\nstsgate_web_identity_lockouts_total{{scope=\"provider\"}} {}\n",
        c.address_lockouts.load(Ordering::Relaxed),
        c.provider_lockouts.load(Ordering::Relaxed)
    ));
    out.push_str(&format!(
        "# HELP stsgate_web_identity_locked_out_total AssumeRoleWithWebIdentity attempts refused by a lockout, whatever their token.\n# TYPE stsgate_web_identity_locked_out_total counter\nstsgate_web_identity_locked_out_total {}\n",
        c.refused.load(Ordering::Relaxed)
    ));
    out
}
