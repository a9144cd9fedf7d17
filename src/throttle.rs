//! Rate limits (`[[rate_limits]]`): token buckets per access key, principal, source address,
//! bucket or HTTP API route, for the kinds of request a rule names. Each rule keeps at most
//! `max_keys` buckets (the least recently used go first; a bucket idle long enough to be full
//! again is dropped, which changes nothing), so memory is bounded whatever the keys. State is per
//! replica and carries over a config reload for a rule that did not change.
//!
//! Pure of HTTP: the protocols say what they know of a request ([`Facts`]) and render a
//! [`Throttled`] in their own shape (S3 `503 SlowDown`, STS `400 Throttling`, HTTP APIs
//! `429 TooManyRequestsException`).

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::{RateBy, RateRule, RequestKind};

/// What a protocol knows of a request when the limits are checked (after authentication).
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub kind: RequestKind,
    pub access_key: Option<&'a str>,
    /// The caller's ARN (a session's role ARN for role sessions: a role's sessions share it).
    pub principal: Option<&'a str>,
    pub source: IpAddr,
    pub bucket: Option<&'a str>,
    /// The HTTP API backend's name.
    pub route: Option<&'a str>,
}

/// A refusal: the rule that refused and when a token will be there again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttled {
    pub rule: String,
    pub retry_after: Duration,
}

impl Throttled {
    /// `Retry-After` (whole seconds, at least 1) and `x-amz-retry-after` (milliseconds).
    pub fn headers(&self) -> [(&'static str, String); 2] {
        let ms = self.retry_after.as_millis().max(1);
        [
            ("retry-after", ms.div_ceil(1000).to_string()),
            ("x-amz-retry-after", ms.to_string()),
        ]
    }
}

/// One key's bucket.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A rule at run time: its buckets and how often it refused.
pub struct RuleState {
    pub rule: RateRule,
    buckets: moka::sync::Cache<String, Arc<Mutex<Bucket>>>,
    pub throttled: AtomicU64,
}

impl RuleState {
    fn new(rule: RateRule) -> RuleState {
        // A bucket idle for the time it takes to refill is full: dropping it changes nothing.
        let refill = Duration::from_secs_f64(rule.burst / rule.rate);
        RuleState {
            buckets: moka::sync::Cache::builder()
                .max_capacity(rule.max_keys)
                .time_to_idle(refill + Duration::from_secs(1))
                .build(),
            rule,
            throttled: AtomicU64::new(0),
        }
    }

    /// The key this rule counts the request under, if the rule applies to it.
    fn key(&self, f: &Facts<'_>) -> Option<String> {
        let r = &self.rule;
        if !r.requests.is_empty() && !r.requests.contains(&f.kind) {
            return None;
        }
        let key = match r.by {
            RateBy::AccessKey => f.access_key?.to_string(),
            RateBy::Principal => f.principal?.to_string(),
            RateBy::SourceIp => f.source.to_string(),
            RateBy::Bucket => f.bucket?.to_string(),
            RateBy::Route => f.route?.to_string(),
        };
        if let Some(glob) = &r.matching
            && !glob.matches(&key)
        {
            return None;
        }
        Some(key)
    }

    /// Takes a token for `key`, or says when one will be there.
    fn take(&self, key: String, now: Instant) -> Result<(), Duration> {
        let (rate, burst) = (self.rule.rate, self.rule.burst);
        let bucket = self.buckets.get_with(key, || {
            Arc::new(Mutex::new(Bucket {
                tokens: burst,
                at: now,
            }))
        });
        let mut b = bucket.lock().unwrap_or_else(|p| p.into_inner());
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        Err(Duration::from_secs_f64((1.0 - b.tokens) / rate))
    }

    /// Takes a token in this replica's bucket for `key`, or refuses (and counts the refusal).
    pub fn take_local(&self, key: String, now: Instant) -> Result<(), Throttled> {
        self.take(key, now)
            .map_err(|retry_after| self.refused(retry_after))
    }

    /// Counts a refusal after `retry_after`.
    pub fn refused(&self, retry_after: Duration) -> Throttled {
        self.throttled.fetch_add(1, Ordering::Relaxed);
        Throttled {
            rule: self.rule.name.clone(),
            retry_after,
        }
    }

    /// Buckets held now (for tests and the bound).
    pub fn keys(&self) -> u64 {
        self.buckets.run_pending_tasks();
        self.buckets.entry_count()
    }
}

/// Every configured rule.
#[derive(Default)]
pub struct RateLimits {
    pub rules: Vec<Arc<RuleState>>,
}

impl RateLimits {
    /// The rules of a (re)loaded config; a rule that is the same as one of `previous` keeps its
    /// buckets and count.
    pub fn build(rules: &[RateRule], previous: Option<&RateLimits>) -> RateLimits {
        RateLimits {
            rules: rules
                .iter()
                .map(|r| {
                    previous
                        .and_then(|p| p.rules.iter().find(|s| s.rule == *r))
                        .cloned()
                        .unwrap_or_else(|| Arc::new(RuleState::new(r.clone())))
                })
                .collect(),
        }
    }

    /// Takes a token from every rule that applies, in config order; the first that has none
    /// refuses (tokens already taken from earlier rules stay taken). Shared rules are counted
    /// here too (see [`RateLimits::check_local`] for counting them elsewhere).
    pub fn check(&self, facts: &Facts<'_>, now: Instant) -> Result<(), Throttled> {
        for state in &self.rules {
            if let Some(key) = state.key(facts) {
                state.take_local(key, now)?;
            }
        }
        Ok(())
    }

    /// As [`RateLimits::check`] for the rules counted in this replica; the shared rules that
    /// apply are returned with their keys, for the caller to count in the shared store (and to
    /// fall back to [`RuleState::take_local`] when it cannot).
    pub fn check_local(
        &self,
        facts: &Facts<'_>,
        now: Instant,
    ) -> Result<Vec<(Arc<RuleState>, String)>, Throttled> {
        let mut shared = Vec::new();
        for state in &self.rules {
            let Some(key) = state.key(facts) else {
                continue;
            };
            if state.rule.shared {
                shared.push((state.clone(), key));
            } else {
                state.take_local(key, now)?;
            }
        }
        Ok(shared)
    }

    /// `stsgate_throttled_total` and `stsgate_rate_limit_keys`.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# HELP stsgate_throttled_total Requests refused by a rate limit, by rule.\n# TYPE stsgate_throttled_total counter\n",
        );
        for s in &self.rules {
            out.push_str(&format!(
                "stsgate_throttled_total{{rule=\"{}\"}} {}\n",
                s.rule.name,
                s.throttled.load(Ordering::Relaxed)
            ));
        }
        out.push_str("# HELP stsgate_rate_limit_keys Keys a rate limit rule holds a bucket for (at most its max_keys).\n# TYPE stsgate_rate_limit_keys gauge\n");
        for s in &self.rules {
            out.push_str(&format!(
                "stsgate_rate_limit_keys{{rule=\"{}\"}} {}\n",
                s.rule.name,
                s.buckets.entry_count()
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests;
