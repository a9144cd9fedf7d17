//! Attempt limits of the unsigned AssumeRoleWithWebIdentity: failures are counted per source
//! address and per provider in a fixed window; at the limit, that address (or provider) is
//! locked out for the lockout time, and every attempt it makes is refused the same way,
//! whatever its token, so a lockout tells nothing about a token. Refused attempts are not
//! counted again (a client retrying through a lockout does not extend it). State is per
//! replica, in memory.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::WebIdentityLimits;

#[derive(Debug, Default)]
struct Window {
    start: Option<Instant>,
    failures: u32,
    locked_until: Option<Instant>,
}

impl Window {
    fn locked(&self, now: Instant) -> bool {
        self.locked_until.is_some_and(|t| now < t)
    }

    /// Counts a failure; true when it reaches the limit and locks.
    fn fail(&mut self, now: Instant, max: u32, window: Duration, lockout: Duration) -> bool {
        if self.start.is_none_or(|s| now.duration_since(s) >= window) {
            self.start = Some(now);
            self.failures = 0;
        }
        self.failures += 1;
        if self.failures >= max {
            self.locked_until = Some(now + lockout);
            self.start = None;
            self.failures = 0;
            return true;
        }
        false
    }
}

/// Lockouts started, for the metrics.
#[derive(Debug, Default)]
pub struct LimitCounters {
    pub address_lockouts: AtomicU64,
    pub provider_lockouts: AtomicU64,
    /// Attempts refused because of a lockout.
    pub refused: AtomicU64,
}

pub struct AttemptLimits {
    limits: WebIdentityLimits,
    by_address: moka::sync::Cache<IpAddr, Arc<Mutex<Window>>>,
    by_provider: moka::sync::Cache<String, Arc<Mutex<Window>>>,
    pub counters: Arc<LimitCounters>,
}

impl AttemptLimits {
    pub fn new(limits: WebIdentityLimits) -> AttemptLimits {
        let idle = limits.window + limits.lockout;
        AttemptLimits {
            limits,
            by_address: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(idle)
                .build(),
            by_provider: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_idle(idle)
                .build(),
            counters: Arc::default(),
        }
    }

    /// The record of a reloaded config: lockouts and counters carry over, with new limits.
    pub fn carried(previous: &AttemptLimits, limits: WebIdentityLimits) -> AttemptLimits {
        AttemptLimits {
            limits,
            by_address: previous.by_address.clone(),
            by_provider: previous.by_provider.clone(),
            counters: previous.counters.clone(),
        }
    }

    /// Whether attempts from `address` (or, when known, for `provider`) are locked out; a
    /// refused attempt is counted.
    pub fn locked(&self, address: Option<IpAddr>, provider: Option<&str>) -> bool {
        let now = Instant::now();
        let by_address = address
            .and_then(|a| self.by_address.get(&a))
            .is_some_and(|w| w.lock().expect("not poisoned").locked(now));
        let by_provider = provider
            .and_then(|p| self.by_provider.get(p))
            .is_some_and(|w| w.lock().expect("not poisoned").locked(now));
        let locked = by_address || by_provider;
        if locked {
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
        }
        locked
    }

    /// Counts a failed attempt from `address` for `provider` (when the token named a known
    /// one).
    pub fn failed(&self, address: Option<IpAddr>, provider: Option<&str>) {
        let now = Instant::now();
        let l = &self.limits;
        if let Some(a) = address {
            let w = self.by_address.get_with(a, Arc::default);
            if w.lock().expect("not poisoned").fail(
                now,
                l.max_failures_per_address,
                l.window,
                l.lockout,
            ) {
                self.counters
                    .address_lockouts
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(address = %a, lockout_seconds = l.lockout.as_secs(), "web identity attempts locked out for this address");
            }
        }
        if let Some(p) = provider {
            let w = self.by_provider.get_with(p.to_string(), Arc::default);
            if w.lock().expect("not poisoned").fail(
                now,
                l.max_failures_per_provider,
                l.window,
                l.lockout,
            ) {
                self.counters
                    .provider_lockouts
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(provider = %p, lockout_seconds = l.lockout.as_secs(), "web identity attempts locked out for this provider");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_address: u32) -> WebIdentityLimits {
        WebIdentityLimits {
            max_failures_per_address: per_address,
            max_failures_per_provider: 1000,
            window: Duration::from_secs(60),
            lockout: Duration::from_secs(300),
        }
    }

    #[test]
    fn an_address_is_locked_at_the_limit_and_others_are_not() {
        let l = AttemptLimits::new(limits(3));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..2 {
            l.failed(Some(a), Some("p"));
            assert!(!l.locked(Some(a), Some("p")));
        }
        l.failed(Some(a), Some("p"));
        assert!(l.locked(Some(a), Some("p")));
        assert!(
            !l.locked(Some(b), Some("p")),
            "another address is not locked"
        );
        assert_eq!(l.counters.address_lockouts.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_provider_is_locked_at_its_own_limit() {
        let mut settings = limits(1000);
        settings.max_failures_per_provider = 2;
        let l = AttemptLimits::new(settings);
        l.failed(Some("10.0.0.1".parse().unwrap()), Some("p"));
        l.failed(Some("10.0.0.2".parse().unwrap()), Some("p"));
        assert!(l.locked(Some("10.0.0.3".parse().unwrap()), Some("p")));
        assert!(!l.locked(Some("10.0.0.3".parse().unwrap()), Some("q")));
    }
}
