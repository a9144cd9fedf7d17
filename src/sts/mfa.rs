//! TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps, one step of tolerance either side) with
//! single-use codes: a code that verified once cannot verify again for the same device.

use std::collections::HashMap;
use std::sync::Mutex;

use totp_rs::{Algorithm, Builder};

/// Remembers used (device, time step) pairs until their window has passed.
#[derive(Default)]
pub struct MfaVerifier {
    used: Mutex<HashMap<(String, u64), u64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaError {
    /// Not a valid code for the device now.
    Invalid,
    /// A valid code that was already used.
    Reused,
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
    /// Checks `code` for the device `serial` at `unix` seconds and marks it used.
    pub fn verify(
        &self,
        serial: &str,
        seed_base32: &str,
        code: &str,
        unix: u64,
    ) -> Result<(), MfaError> {
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MfaError::Invalid);
        }
        let totp = totp(seed_base32).ok_or(MfaError::Invalid)?;
        let step = totp.check(code, unix).ok_or(MfaError::Invalid)?;
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        let now_step = unix / 30;
        used.retain(|_, until| *until >= now_step);
        if used.insert((serial.to_string(), step), step + 2).is_some() {
            return Err(MfaError::Reused);
        }
        Ok(())
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

    #[test]
    fn codes_verify_once_within_the_window() {
        let v = MfaVerifier::default();
        let now = 1_800_000_000;
        let code = current_code(SEED, now).unwrap();
        assert_eq!(
            v.verify("arn:aws:iam::111122223333:mfa/x", SEED, &code, now),
            Ok(())
        );
        assert_eq!(
            v.verify("arn:aws:iam::111122223333:mfa/x", SEED, &code, now),
            Err(MfaError::Reused)
        );
        // The previous step's code is still accepted (clock drift), the one before is not.
        let previous = current_code(SEED, now - 30).unwrap();
        assert_eq!(
            v.verify("arn:aws:iam::111122223333:mfa/x", SEED, &previous, now),
            Ok(())
        );
        let old = current_code(SEED, now - 90).unwrap();
        assert_eq!(
            v.verify("arn:aws:iam::111122223333:mfa/x", SEED, &old, now),
            Err(MfaError::Invalid)
        );
        assert_eq!(
            v.verify("arn:aws:iam::111122223333:mfa/x", SEED, "12345", now),
            Err(MfaError::Invalid)
        );
    }
}
