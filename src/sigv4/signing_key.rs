//! Signing-key derivation and its cache.
//!
//! kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
//! It depends only on (secret, date, region, service), so it is derived once per day per
//! credential and kept as a keyed HMAC state: each signature then costs one HMAC finish.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// A derived signing key, ready to sign.
#[derive(Clone)]
pub struct SigningKey {
    keyed: HmacSha256,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl SigningKey {
    pub fn derive(secret: &str, date: &str, region: &str, service: &str) -> SigningKey {
        let mut k_secret = Vec::with_capacity(4 + secret.len());
        k_secret.extend_from_slice(b"AWS4");
        k_secret.extend_from_slice(secret.as_bytes());
        let k_date = hmac(&k_secret, date.as_bytes());
        let k_region = hmac(&k_date, region.as_bytes());
        let k_service = hmac(&k_region, service.as_bytes());
        let k_signing = hmac(&k_service, b"aws4_request");
        SigningKey {
            keyed: HmacSha256::new_from_slice(&k_signing).expect("HMAC accepts any key length"),
        }
    }

    /// HMAC-SHA256 of `data` under this key.
    pub fn sign(&self, data: &[u8]) -> [u8; 32] {
        let mut mac = self.keyed.clone();
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// Signs `data` and compares with `expected` in constant time.
    pub fn verify(&self, data: &[u8], expected: &[u8; 32]) -> bool {
        bool::from(self.sign(data).ct_eq(expected))
    }
}

/// Derived keys by (secret, date, region, service). A miss only costs a derivation.
#[derive(Clone)]
pub struct SigningKeyCache {
    /// `None`: derive every time (what verifiers without a cache do; used as a baseline).
    cache: Option<moka::sync::Cache<Vec<u8>, Arc<SigningKey>>>,
}

impl Default for SigningKeyCache {
    fn default() -> Self {
        Self::new(100_000)
    }
}

impl SigningKeyCache {
    pub fn new(capacity: u64) -> Self {
        // A scope date is valid for a day (plus clock skew); nothing needs a key longer.
        let cache = moka::sync::Cache::builder()
            .max_capacity(capacity)
            .time_to_live(Duration::from_secs(26 * 3600))
            .build();
        SigningKeyCache { cache: Some(cache) }
    }

    /// A cache that never keeps anything: every lookup derives the key (a baseline for
    /// benchmarks, and what verifiers without a cache do).
    pub fn disabled() -> Self {
        SigningKeyCache { cache: None }
    }

    pub fn get(&self, secret: &str, date: &str, region: &str, service: &str) -> Arc<SigningKey> {
        let Some(cache) = &self.cache else {
            return Arc::new(SigningKey::derive(secret, date, region, service));
        };
        // Length-prefixed parts: no two different tuples share a key, whatever bytes they hold.
        // Built on the stack; only a miss allocates the owned key.
        let mut buf = [0u8; 512];
        let mut len = 0;
        let mut fits = true;
        for part in [secret, date, region, service] {
            let prefix = part.len().to_le_bytes();
            let needed = prefix.len() + part.len();
            if len + needed > buf.len() {
                fits = false;
                break;
            }
            buf[len..len + prefix.len()].copy_from_slice(&prefix);
            len += prefix.len();
            buf[len..len + part.len()].copy_from_slice(part.as_bytes());
            len += part.len();
        }
        if !fits {
            // Absurdly long inputs: derive without caching.
            return Arc::new(SigningKey::derive(secret, date, region, service));
        }
        let key = &buf[..len];
        if let Some(found) = cache.get(key) {
            return found;
        }
        let derived = Arc::new(SigningKey::derive(secret, date, region, service));
        cache.insert(key.to_vec(), derived.clone());
        derived
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivation_matches_the_aws_documentation_example() {
        // AWS General Reference "Examples of how to derive a signing key" (secret from the docs).
        let key = SigningKey::derive(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        let k_signing = {
            let k_date = hmac(b"AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", b"20120215");
            let k_region = hmac(&k_date, b"us-east-1");
            let k_service = hmac(&k_region, b"iam");
            hmac(&k_service, b"aws4_request")
        };
        assert_eq!(
            hex::encode(k_signing),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
        assert_eq!(key.sign(b"x"), hmac(&k_signing, b"x"));
    }

    #[test]
    fn cache_returns_the_same_key_and_separates_inputs() {
        let cache = SigningKeyCache::new(10);
        let a = cache.get("secret", "20260101", "us-east-1", "s3");
        let b = cache.get("secret", "20260101", "us-east-1", "s3");
        assert!(Arc::ptr_eq(&a, &b));
        // Length prefixes keep different splits of the same bytes apart.
        let c = cache.get("secret2026", "0101", "us-east-1", "s3");
        assert_ne!(a.sign(b"m"), c.sign(b"m"));
    }
}
