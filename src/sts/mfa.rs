//! TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps, one step of tolerance either side) with
//! single-use codes and attempt limits.
//!
//! A 6-digit code falls to ~500,000 guesses on average; unthrottled, that is seconds. So every
//! failure (wrong code, reused code, unknown device) counts against both the device and the
//! caller, and `max_failures` within `window` lock both out for `lockout`: every attempt is then
//! refused exactly as a wrong code is (the correct code too), so the limit is no oracle. The
//! state (used codes, failures, lockouts) is an [`MfaStore`]: this process's, or Redis shared by
//! every replica (`super::shared`), where any failure to answer refuses the attempt.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use totp_rs::{Algorithm, Builder};

use crate::config::MfaLimits;

/// Where MFA checks remember used codes, failures and lockouts: this process, or a Redis
/// shared by every replica (`[shared_state] redis`). Times are Unix seconds.
pub enum MfaStore {
    Local(LocalMfaState),
    Shared(Box<super::shared::RedisState>),
}

pub use super::shared::Unavailable;

impl MfaStore {
    /// Whether any of `subjects` is locked out at `now`.
    async fn any_locked(&self, subjects: &[String], now: u64) -> Result<bool, Unavailable> {
        match self {
            MfaStore::Local(s) => Ok(subjects.iter().any(|x| s.is_locked(x, now))),
            MfaStore::Shared(r) => r.any_locked(subjects).await,
        }
    }

    /// Marks the code of `step` used for `device` until `until`; false if it already was.
    async fn use_code(
        &self,
        device: &str,
        step: u64,
        until: u64,
        now: u64,
    ) -> Result<bool, Unavailable> {
        match self {
            MfaStore::Local(s) => Ok(s.use_code(device, step, until, now)),
            MfaStore::Shared(r) => r.use_code(device, step, until).await,
        }
    }

    /// Counts a failure of `subject` at `now`; returns its failures within `window` seconds.
    async fn add_failure(&self, subject: &str, now: u64, window: u64) -> Result<u32, Unavailable> {
        match self {
            MfaStore::Local(s) => Ok(s.add_failure(subject, now, window)),
            MfaStore::Shared(r) => r.add_failure(subject, now, window).await,
        }
    }

    /// Forgets the failures of `subjects` (after a success).
    async fn clear_failures(&self, subjects: &[String]) -> Result<(), Unavailable> {
        match self {
            MfaStore::Local(s) => {
                subjects.iter().for_each(|x| s.clear_failures(x));
                Ok(())
            }
            MfaStore::Shared(r) => r.clear_failures(subjects).await,
        }
    }

    /// Locks `subject` out until `until`.
    async fn lock(&self, subject: &str, until: u64) -> Result<(), Unavailable> {
        match self {
            MfaStore::Local(s) => {
                s.lock(subject, until);
                Ok(())
            }
            MfaStore::Shared(r) => r.lock(subject, until).await,
        }
    }
}

/// The state of one process (lost on restart; `[shared_state] redis` shares it instead).
#[derive(Default)]
pub struct LocalMfaState {
    inner: Mutex<LocalInner>,
}

#[derive(Default)]
struct LocalInner {
    used: HashMap<(String, u64), u64>,
    failures: HashMap<String, Vec<u64>>,
    locked: HashMap<String, u64>,
}

impl LocalMfaState {
    fn use_code(&self, device: &str, step: u64, until: u64, now: u64) -> bool {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        s.used.retain(|_, u| *u >= now);
        s.used.insert((device.to_string(), step), until).is_none()
    }

    fn add_failure(&self, subject: &str, now: u64, window: u64) -> u32 {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        // Forget subjects whose failures are all out of the window (bounded memory).
        if s.failures.len() > 10_000 {
            s.failures
                .retain(|_, times| times.last().is_some_and(|t| t + window > now));
        }
        let times = s.failures.entry(subject.to_string()).or_default();
        times.retain(|t| t + window > now);
        times.push(now);
        u32::try_from(times.len()).unwrap_or(u32::MAX)
    }

    fn clear_failures(&self, subject: &str) {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        s.failures.remove(subject);
    }

    fn lock(&self, subject: &str, until: u64) {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let now_floor = until.saturating_sub(86_400 * 2);
        s.locked.retain(|_, u| *u > now_floor);
        s.locked.insert(subject.to_string(), until);
    }

    fn is_locked(&self, subject: &str, now: u64) -> bool {
        let s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        s.locked.get(subject).is_some_and(|until| *until > now)
    }
}

/// Counts of MFA outcomes, for `/metrics`.
#[derive(Default)]
pub struct MfaCounters {
    pub invalid: AtomicU64,
    pub reused: AtomicU64,
    pub unknown_device: AtomicU64,
    /// Attempts refused because the device or caller was locked out.
    pub locked_out: AtomicU64,
    /// Lockouts started.
    pub lockouts: AtomicU64,
    /// Shared state store operations that failed (each MFA attempt it hit was refused).
    pub unavailable: AtomicU64,
}

/// Verifies codes, remembers used ones, and enforces the attempt limits.
pub struct MfaVerifier {
    state: Arc<MfaStore>,
    limits: MfaLimits,
    pub counters: Arc<MfaCounters>,
}

impl Default for MfaVerifier {
    fn default() -> Self {
        MfaVerifier::new(
            Arc::new(MfaStore::Local(LocalMfaState::default())),
            MfaLimits::default(),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaError {
    /// Not a valid code for the device now.
    Invalid,
    /// A valid code that was already used.
    Reused,
    /// The device or the caller is locked out after too many failures.
    LockedOut,
    /// The shared state store cannot be reached: the code is neither checked nor spent.
    Unavailable,
}

fn totp(seed_base32: &str) -> Option<totp_rs::Totp> {
    let seed = data_encoding::BASE32_NOPAD
        .decode(seed_base32.as_bytes())
        .ok()?;
    Some(
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(6)
            .with_step_duration(30)
            .with_skew(1)
            .with_secret(seed)
            .build_noncompliant(),
    )
}

/// The current code of a device (for `stsgate mfa-code` and tests).
pub fn current_code(seed_base32: &str, unix: u64) -> Option<String> {
    totp(seed_base32).map(|t| t.generate(unix).to_string())
}

impl MfaVerifier {
    /// A verifier over the state and counters of `previous` (a config reload keeps used codes,
    /// failure counts and lockouts), with new limits.
    pub fn carried(previous: &MfaVerifier, limits: MfaLimits) -> MfaVerifier {
        MfaVerifier {
            state: previous.state.clone(),
            limits,
            counters: previous.counters.clone(),
        }
    }

    pub fn new(state: Arc<MfaStore>, limits: MfaLimits) -> MfaVerifier {
        MfaVerifier {
            state,
            limits,
            counters: Arc::default(),
        }
    }

    /// Whether the state is shared through Redis.
    pub fn shared(&self) -> bool {
        matches!(*self.state, MfaStore::Shared(_))
    }

    /// Counts a shared-state failure and returns the error that refuses the attempt.
    fn unavailable(&self, serial: &str, caller: &str) -> MfaError {
        self.counters.unavailable.fetch_add(1, Ordering::Relaxed);
        tracing::error!(
            device = serial,
            caller,
            "MFA attempt refused: the shared state store (Redis) is unreachable, so the code cannot be checked for reuse"
        );
        MfaError::Unavailable
    }

    /// Checks `code` for the device `serial` of `caller` at `unix` seconds and marks it used.
    ///
    /// Fails closed: when the shared store cannot answer whether the caller is locked out or the
    /// code was used, the attempt is refused with [`MfaError::Unavailable`].
    pub async fn verify(
        &self,
        serial: &str,
        caller: &str,
        seed_base32: &str,
        code: &str,
        unix: u64,
    ) -> Result<(), MfaError> {
        let subjects = [format!("device:{serial}"), format!("caller:{caller}")];
        match self.state.any_locked(&subjects, unix).await {
            Ok(false) => {}
            Ok(true) => {
                self.counters.locked_out.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    device = serial,
                    caller,
                    "MFA attempt refused: locked out after too many failures"
                );
                return Err(MfaError::LockedOut);
            }
            Err(Unavailable) => return Err(self.unavailable(serial, caller)),
        }
        let checked = (|| {
            if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            totp(seed_base32)?.check(code, unix)
        })();
        let outcome = match checked {
            None => Err(MfaError::Invalid),
            // A code stays usable for one step after its own (the tolerance above).
            Some(step) => match self
                .state
                .use_code(serial, step, (step + 2) * 30, unix)
                .await
            {
                Ok(true) => Ok(()),
                Ok(false) => Err(MfaError::Reused),
                Err(Unavailable) => return Err(self.unavailable(serial, caller)),
            },
        };
        match outcome {
            Ok(()) => {
                // The code is spent; failing to forget old failures only leaves them to expire.
                if self.state.clear_failures(&subjects).await.is_err() {
                    self.counters.unavailable.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        device = serial,
                        caller,
                        "MFA failures could not be cleared in the shared state store"
                    );
                }
                Ok(())
            }
            Err(e) => {
                let counter = match e {
                    MfaError::Reused => &self.counters.reused,
                    _ => &self.counters.invalid,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                self.fail(&subjects, serial, caller, unix).await;
                Err(e)
            }
        }
    }

    /// Counts a failure for a device the caller does not have (a guessed serial).
    pub async fn unknown_device(&self, serial: &str, caller: &str, unix: u64) {
        self.counters.unknown_device.fetch_add(1, Ordering::Relaxed);
        self.fail(&[format!("caller:{caller}")], serial, caller, unix)
            .await;
    }

    async fn fail(&self, subjects: &[String], serial: &str, caller: &str, unix: u64) {
        let window = self.limits.window.as_secs();
        let mut worst = 0;
        for s in subjects {
            let n = match self.state.add_failure(s, unix, window).await {
                Ok(n) => n,
                Err(Unavailable) => {
                    // The attempt is refused anyway; it just cannot be counted.
                    self.counters.unavailable.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(
                        device = serial,
                        caller,
                        "MFA failure could not be counted: the shared state store (Redis) is unreachable"
                    );
                    continue;
                }
            };
            worst = worst.max(n);
            if n >= self.limits.max_failures
                && self
                    .state
                    .lock(s, unix + self.limits.lockout.as_secs())
                    .await
                    .is_err()
            {
                self.counters.unavailable.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    subject = s.as_str(),
                    "MFA lockout could not be recorded: the shared state store (Redis) is unreachable"
                );
            }
        }
        if worst >= self.limits.max_failures {
            self.counters.lockouts.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                device = serial,
                caller,
                failures = worst,
                lockout_seconds = self.limits.lockout.as_secs(),
                "MFA locked out after too many failures"
            );
        } else {
            tracing::warn!(
                device = serial,
                caller,
                failures = worst,
                "MFA code refused"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = "CIJYCW5LZJLZYII233IF6F5N7IIJRE6D";

    #[test]
    fn rfc6238_sha1_vector() {
        // RFC 6238 appendix B: secret "12345678901234567890", T = 59 → 94287082 (8 digits),
        // so the 6-digit code is 287082.
        let seed = data_encoding::BASE32_NOPAD.encode(b"12345678901234567890");
        assert_eq!(current_code(&seed, 59).unwrap(), "287082");
    }

    #[tokio::test]
    async fn codes_verify_once_within_the_window() {
        let v = MfaVerifier::default();
        let now = 1_800_000_000;
        let code = current_code(SEED, now).unwrap();
        assert_eq!(
            v.verify(
                "arn:aws:iam::111122223333:mfa/x",
                "arn:aws:iam::111122223333:user/u",
                SEED,
                &code,
                now
            )
            .await,
            Ok(())
        );
        assert_eq!(
            v.verify(
                "arn:aws:iam::111122223333:mfa/x",
                "arn:aws:iam::111122223333:user/u",
                SEED,
                &code,
                now
            )
            .await,
            Err(MfaError::Reused)
        );
        // The previous step's code is still accepted (clock drift), the one before is not.
        let previous = current_code(SEED, now - 30).unwrap();
        assert_eq!(
            v.verify(
                "arn:aws:iam::111122223333:mfa/x",
                "arn:aws:iam::111122223333:user/u",
                SEED,
                &previous,
                now
            )
            .await,
            Ok(())
        );
        let old = current_code(SEED, now - 90).unwrap();
        assert_eq!(
            v.verify(
                "arn:aws:iam::111122223333:mfa/x",
                "arn:aws:iam::111122223333:user/u",
                SEED,
                &old,
                now
            )
            .await,
            Err(MfaError::Invalid)
        );
        assert_eq!(
            v.verify(
                "arn:aws:iam::111122223333:mfa/x",
                "arn:aws:iam::111122223333:user/u",
                SEED,
                "12345",
                now
            )
            .await,
            Err(MfaError::Invalid)
        );
    }
}

#[cfg(test)]
mod limit_tests {
    use super::*;

    const SEED: &str = "CIJYCW5LZJLZYII233IF6F5N7IIJRE6D";
    const DEVICE: &str = "arn:aws:iam::111122223333:mfa/x";
    const USER: &str = "arn:aws:iam::111122223333:user/u";

    fn verifier() -> MfaVerifier {
        MfaVerifier::new(
            Arc::new(MfaStore::Local(LocalMfaState::default())),
            MfaLimits {
                max_failures: 5,
                window: std::time::Duration::from_secs(300),
                lockout: std::time::Duration::from_secs(900),
            },
        )
    }

    /// A code that is wrong now: the correct one with its last digit changed.
    fn wrong(now: u64) -> String {
        let mut c = current_code(SEED, now).unwrap().into_bytes();
        c[5] = if c[5] == b'9' { b'0' } else { c[5] + 1 };
        String::from_utf8(c).unwrap()
    }

    #[tokio::test]
    async fn five_failures_lock_the_device_and_the_right_code_is_refused_too() {
        let v = verifier();
        let now = 1_800_000_000;
        for i in 0..5 {
            assert_eq!(
                v.verify(DEVICE, USER, SEED, &wrong(now), now + i).await,
                Err(MfaError::Invalid)
            );
        }
        let right = current_code(SEED, now + 10).unwrap();
        assert_eq!(
            v.verify(DEVICE, USER, SEED, &right, now + 10).await,
            Err(MfaError::LockedOut)
        );
        assert_eq!(v.counters.lockouts.load(Ordering::Relaxed), 1);
        assert_eq!(v.counters.locked_out.load(Ordering::Relaxed), 1);
        // Still locked just before the lockout ends; the right code works after it.
        let late = now + 4 + 899;
        assert_eq!(
            v.verify(DEVICE, USER, SEED, &current_code(SEED, late).unwrap(), late)
                .await,
            Err(MfaError::LockedOut)
        );
        let after = now + 4 + 900;
        assert_eq!(
            v.verify(
                DEVICE,
                USER,
                SEED,
                &current_code(SEED, after).unwrap(),
                after
            )
            .await,
            Ok(())
        );
    }

    #[tokio::test]
    async fn failures_outside_the_window_do_not_add_up_and_a_success_resets_them() {
        let v = verifier();
        let now = 1_800_000_000;
        for i in 0..4 {
            assert_eq!(
                v.verify(DEVICE, USER, SEED, &wrong(now), now + i * 100)
                    .await,
                Err(MfaError::Invalid)
            );
        }
        // The first failure (at now) has left the 300 s window: 4 in the window, not locked.
        let t = now + 400;
        assert_eq!(
            v.verify(DEVICE, USER, SEED, &current_code(SEED, t).unwrap(), t)
                .await,
            Ok(())
        );
        for i in 0..4 {
            assert_eq!(
                v.verify(DEVICE, USER, SEED, &wrong(t + 40), t + 40 + i)
                    .await,
                Err(MfaError::Invalid)
            );
        }
        let t2 = t + 60;
        assert_eq!(
            v.verify(DEVICE, USER, SEED, &current_code(SEED, t2).unwrap(), t2)
                .await,
            Ok(()),
            "the success reset the count"
        );
    }

    #[tokio::test]
    async fn the_caller_is_limited_across_devices_and_guessed_serials() {
        let v = verifier();
        let now = 1_800_000_000;
        for i in 0..3 {
            v.unknown_device(
                &format!("arn:aws:iam::111122223333:mfa/guess{i}"),
                USER,
                now,
            )
            .await;
        }
        for i in 0..2 {
            assert_eq!(
                v.verify(DEVICE, USER, SEED, &wrong(now), now + i).await,
                Err(MfaError::Invalid)
            );
        }
        let right = current_code(SEED, now + 5).unwrap();
        assert_eq!(
            v.verify(DEVICE, USER, SEED, &right, now + 5).await,
            Err(MfaError::LockedOut)
        );
        // Another user of the same device... the device itself has 2 failures only: not locked.
        let other = "arn:aws:iam::111122223333:user/other";
        assert_eq!(v.verify(DEVICE, other, SEED, &right, now + 5).await, Ok(()));
    }
}
