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
    cache: moka::sync::Cache<String, Arc<SigningKey>>,
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
        SigningKeyCache { cache }
    }

    pub fn get(&self, secret: &str, date: &str, region: &str, service: &str) -> Arc<SigningKey> {
        // Length-prefixed parts: no two different tuples share a key, whatever bytes they hold.
        let mut key =
            String::with_capacity(secret.len() + date.len() + region.len() + service.len() + 16);
        for part in [secret, date, region, service] {
            key.push_str(&part.len().to_string());
            key.push(':');
            key.push_str(part);
        }
        if let Some(found) = self.cache.get(&key) {
            return found;
        }
        let derived = Arc::new(SigningKey::derive(secret, date, region, service));
        self.cache.insert(key, derived.clone());
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
        // Length prefixes keep ("a:b", "c") and ("a", "b:c")-style splits apart.
        let c = cache.get("secret4:2026", "0101", "us-east-1", "s3");
        assert_ne!(a.sign(b"m"), c.sign(b"m"));
    }
}
