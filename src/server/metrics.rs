//! Prometheus metrics, rendered in the text exposition format at the admin `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

use http::StatusCode;

/// Counters of the gateway listener, by status class.
#[derive(Default)]
pub struct Metrics {
    gateway_2xx: AtomicU64,
    gateway_3xx: AtomicU64,
    gateway_4xx: AtomicU64,
    gateway_5xx: AtomicU64,
}

impl Metrics {
    pub fn record_gateway(&self, status: StatusCode) {
        let counter = match status.as_u16() {
            200..=299 => &self.gateway_2xx,
            300..=399 => &self.gateway_3xx,
            400..=499 => &self.gateway_4xx,
            _ => &self.gateway_5xx,
        };
        counter.fetch_add(1, Ordering::Relaxed);
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
        for (class, counter) in [
            ("2xx", &self.gateway_2xx),
            ("3xx", &self.gateway_3xx),
            ("4xx", &self.gateway_4xx),
            ("5xx", &self.gateway_5xx),
        ] {
            out.push_str(&format!(
                "stsgate_gateway_responses_total{{class=\"{class}\"}} {}\n",
                counter.load(Ordering::Relaxed)
            ));
        }
        out
    }
}
