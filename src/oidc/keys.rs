//! A provider's signing keys, read from a JWKS document (RFC 7517). Only public keys of the
//! families a web identity token may use are kept (RSA, EC P-256/P-384); symmetric (`oct`) keys
//! are never kept, so an HS256 token can never find a key. A key that is for encryption
//! (`"use": "enc"`) is skipped, and one that names its `alg` is used with that algorithm only.

use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

use super::TokenError;

/// One verification key.
struct Key {
    kid: Option<String>,
    /// The algorithm the JWK pins, if it names one.
    alg: Option<Algorithm>,
    family: jsonwebtoken::AlgorithmFamily,
    decoding: DecodingKey,
}

/// A provider's keys.
pub struct KeySet {
    keys: Vec<Key>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self
            .keys
            .iter()
            .map(|k| k.kid.as_deref().unwrap_or("-"))
            .collect();
        write!(f, "KeySet({kids:?})")
    }
}

impl KeySet {
    /// Reads a JWKS document: `{"keys": [...]}`. Keys it cannot use are skipped; a document
    /// with none it can use is an error.
    pub fn parse(json: &[u8]) -> Result<KeySet, String> {
        let doc: serde_json::Value =
            serde_json::from_slice(json).map_err(|e| format!("the JWKS is not JSON: {e}"))?;
        let entries = doc
            .get("keys")
            .and_then(|k| k.as_array())
            .ok_or("the JWKS has no \"keys\" array")?;
        let keys: Vec<Key> = entries.iter().filter_map(usable).collect();
        if keys.is_empty() {
            return Err(format!(
                "none of the JWKS's {} keys is an RSA or EC (P-256, P-384) signing key",
                entries.len()
            ));
        }
        Ok(KeySet { keys })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether a key with this `kid` is in the set.
    pub fn has(&self, kid: Option<&str>) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == kid)
    }

    /// The key for a token's `kid` and `alg`: same `kid` (a token without one finds a key only
    /// when exactly one key fits), the algorithm's key type, and the JWK's own `alg` if it
    /// names one.
    pub fn find(&self, kid: Option<&str>, alg: Algorithm) -> Result<&DecodingKey, TokenError> {
        let fits = |k: &&Key| k.family == alg.family() && k.alg.is_none_or(|a| a == alg);
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .filter(fits)
                .find(|k| k.kid.as_deref() == Some(kid))
                .map(|k| &k.decoding)
                .ok_or(TokenError::UnknownKey),
            None => {
                let mut candidates = self.keys.iter().filter(fits);
                match (candidates.next(), candidates.next()) {
                    (Some(k), None) => Ok(&k.decoding),
                    _ => Err(TokenError::UnknownKey),
                }
            }
        }
    }
}

/// The key of one JWK entry, if it is a public signing key of a family we verify.
fn usable(entry: &serde_json::Value) -> Option<Key> {
    let jwk: Jwk = serde_json::from_value(entry.clone()).ok()?;
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption) | Some(PublicKeyUse::Other(_))
    ) {
        return None;
    }
    // A JWK that pins an algorithm we do not take (HS*, PS*, EdDSA, an encryption one) is
    // not used at all.
    let alg = match jwk.common.key_algorithm {
        Some(a) => Some(super::algorithm(&a.to_string())?),
        None => None,
    };
    let decoding = DecodingKey::from_jwk(&jwk).ok()?;
    let family = decoding.family();
    if !matches!(
        family,
        jsonwebtoken::AlgorithmFamily::Rsa | jsonwebtoken::AlgorithmFamily::Ec
    ) {
        return None;
    }
    Some(Key {
        kid: jwk.common.key_id.clone(),
        alg,
        family,
        decoding,
    })
}
