//! Prometheus metrics, rendered in the text exposition format at the admin `/metrics`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use http::StatusCode;

/// The S3 error code a gateway-made refusal carries, attached to the response so the
/// listener can count it without parsing the body.
#[derive(Debug, Clone)]
pub struct Refusal(pub String);

/// Counters of the gateway listener.
#[derive(Default)]
pub struct Metrics {
    gateway: [AtomicU64; 4],
    /// S3 requests answered by the backend, by the backend's status class.
    s3_forwarded: [AtomicU64; 4],
    /// S3 requests the gateway answered itself, by error code (a small, fixed set).
    s3_refused: Mutex<BTreeMap<String, u64>>,
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

impl Metrics {
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

    pub fn render(&self) -> String {
        let mut out = String::new();
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
        out
    }
}
