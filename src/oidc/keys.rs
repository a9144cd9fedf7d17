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

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7517 appendix A.1's P-256 public key, with a `use` and `kid` of our choice.
    fn ec(kid: &str, use_: &str, alg: Option<&str>) -> serde_json::Value {
        let mut k = serde_json::json!({"kty": "EC", "crv": "P-256",
            "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
            "y": "4Etl6SRW2YilurN5bmmU4Gv7NnkwNGkyRKukgqsM4r8",
            "use": use_, "kid": kid});
        if let Some(a) = alg {
            k["alg"] = serde_json::json!(a);
        }
        k
    }

    #[test]
    fn only_public_signing_keys_of_the_web_identity_families_are_kept() {
        let doc = serde_json::json!({"keys": [
            ec("sig", "sig", None),
            ec("enc", "enc", None),
            ec("pinned-hs", "sig", Some("HS256")),
            {"kty": "oct", "k": "c2VjcmV0", "kid": "oct"},
            {"kty": "EC", "crv": "P-256", "kid": "broken"},
        ]});
        let set = KeySet::parse(doc.to_string().as_bytes()).unwrap();
        assert_eq!(set.len(), 1, "{set:?}");
        assert!(set.has(Some("sig")));
        assert!(set.find(Some("sig"), Algorithm::ES256).is_ok());
        // The key type must fit the algorithm, and an unknown kid finds nothing.
        assert_eq!(
            set.find(Some("sig"), Algorithm::RS256).err(),
            Some(TokenError::UnknownKey)
        );
        assert_eq!(
            set.find(Some("oct"), Algorithm::ES256).err(),
            Some(TokenError::UnknownKey)
        );
        // No kid: found only when exactly one key fits.
        assert!(set.find(None, Algorithm::ES256).is_ok());
    }

    #[test]
    fn a_key_pinned_to_one_algorithm_is_used_with_it_only() {
        let doc = serde_json::json!({"keys": [ec("p", "sig", Some("ES384"))]});
        let set = KeySet::parse(doc.to_string().as_bytes()).unwrap();
        assert!(set.find(Some("p"), Algorithm::ES256).is_err());
        assert!(set.find(Some("p"), Algorithm::ES384).is_ok());
    }

    #[test]
    fn documents_without_a_usable_key_are_refused() {
        for doc in [
            "not json",
            "{}",
            r#"{"keys": "x"}"#,
            r#"{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}"#,
        ] {
            assert!(KeySet::parse(doc.as_bytes()).is_err(), "{doc}");
        }
    }
}
