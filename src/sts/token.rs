//! Session tokens: self-contained AES-256-GCM envelopes, and the keyring that seals them.
//!
//! Wire form (URL-safe base64, no padding): `version (1) | key-id length (1) | key id | nonce (12)
//! | ciphertext+tag`. The version and key id are authenticated as associated data. The plaintext
//! is the session's claims (JSON): everything a replica needs to serve a request, so no database
//! is involved. Sub-keys are derived with HKDF-SHA256 under distinct labels, so a token key never
//! opens an authorization message and vice versa.
//!
//! The keyring also *binds* values the gateway hands out and must recognise later (multipart
//! upload ids): `version | key-id length | key id | value | tag`, where the tag is an HMAC-SHA256
//! (truncated to 16 bytes) over the header, a caller-given scope and the value. Binding is
//! deterministic, so the same value in the same scope always reads the same to a client.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use data_encoding::BASE64URL_NOPAD;
use serde::{Deserialize, Serialize};

use crate::config::Keyring as KeyringConfig;

const VERSION: u8 = 1;

/// What a sealed blob is for; each purpose has its own derived key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    SessionToken,
    AuthorizationMessage,
}

/// The HKDF label of the binding sub-key (see [`Keyring::bind`]).
const BINDING_LABEL: &[u8] = b"stsgate bound value v1";

/// Length of a binding's tag: 128 bits, truncated from HMAC-SHA256.
const BINDING_TAG: usize = 16;

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::SessionToken => b"stsgate session token v1",
            Purpose::AuthorizationMessage => b"stsgate authorization message v1",
        }
    }
}

struct KeyEntry {
    id: String,
    token: Aes256Gcm,
    message: Aes256Gcm,
    binding: [u8; 32],
}

/// Sealing keys: one active for minting, all of them for opening.
pub struct Keyring {
    active: usize,
    keys: Vec<KeyEntry>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("active", &self.keys[self.active].id)
            .field("keys", &self.keys.len())
            .finish()
    }
}

/// Why a blob could not be opened. Deliberately not more specific: a caller learns nothing
/// about which check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenError;

fn sub_key(master: &[u8; 32], label: &[u8]) -> [u8; 32] {
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(b"stsgate keyring"), master);
    let mut okm = [0u8; 32];
    hk.expand(label, &mut okm)
        .expect("32 bytes is a valid HKDF output length");
    okm
}

fn derive(master: &[u8; 32], purpose: Purpose) -> Aes256Gcm {
    Aes256Gcm::new_from_slice(&sub_key(master, purpose.label())).expect("32-byte key")
}

/// The binding tag of `header | scope | value` (each length-prefixed, so no two splits of the
/// same bytes give the same input).
fn binding_mac(
    key: &[u8; 32],
    header: &[u8],
    scope: &[&[u8]],
    value: &[u8],
) -> hmac::Hmac<sha2::Sha256> {
    use hmac::{KeyInit as _, Mac as _};
    let mut mac =
        <hmac::Hmac<sha2::Sha256>>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(header);
    for part in scope.iter().chain(std::iter::once(&value)) {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac
}

impl Keyring {
    pub fn from_config(config: &KeyringConfig) -> Keyring {
        let keys: Vec<KeyEntry> = config
            .keys
            .iter()
            .map(|k| KeyEntry {
                id: k.id.clone(),
                token: derive(&k.key, Purpose::SessionToken),
                message: derive(&k.key, Purpose::AuthorizationMessage),
                binding: sub_key(&k.key, BINDING_LABEL),
            })
            .collect();
        let active = keys
            .iter()
            .position(|k| k.id == config.active)
            .expect("config validation guarantees the active key exists");
        Keyring { active, keys }
    }

    fn cipher(entry: &KeyEntry, purpose: Purpose) -> &Aes256Gcm {
        match purpose {
            Purpose::SessionToken => &entry.token,
            Purpose::AuthorizationMessage => &entry.message,
        }
    }

    /// Seals `plaintext` with the active key.
    pub fn seal(&self, purpose: Purpose, plaintext: &[u8]) -> String {
        let entry = &self.keys[self.active];
        let header = Self::header(entry);
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).expect("the operating system's random source failed");
        let ciphertext = Self::cipher(entry, purpose)
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &header,
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut blob = header;
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        BASE64URL_NOPAD.encode(&blob)
    }

    fn header(entry: &KeyEntry) -> Vec<u8> {
        let id = entry.id.as_bytes();
        let mut header = Vec::with_capacity(2 + id.len());
        header.push(VERSION);
        header.push(u8::try_from(id.len()).expect("key ids are at most 64 bytes"));
        header.extend_from_slice(id);
        header
    }

    /// Binds `value` to `scope` with the active key: the result carries `value` (not secret,
    /// only authenticated) and opens with [`Keyring::unbind`] under exactly the same scope.
    pub fn bind(&self, scope: &[&[u8]], value: &[u8]) -> String {
        let entry = &self.keys[self.active];
        let mut blob = Self::header(entry);
        let mac = binding_mac(&entry.binding, &blob, scope, value);
        blob.extend_from_slice(value);
        blob.extend_from_slice(&hmac::Mac::finalize(mac).into_bytes()[..BINDING_TAG]);
        BASE64URL_NOPAD.encode(&blob)
    }

    /// The value a blob of [`Keyring::bind`] carries, if any key of the keyring bound it to
    /// this `scope`. The tag is compared in constant time.
    pub fn unbind(&self, scope: &[&[u8]], text: &str) -> Result<Vec<u8>, OpenError> {
        let blob = BASE64URL_NOPAD
            .decode(text.as_bytes())
            .map_err(|_| OpenError)?;
        let (entry, header, rest) = self.split(&blob, BINDING_TAG)?;
        let (value, tag) = rest.split_at(rest.len() - BINDING_TAG);
        hmac::Mac::verify_truncated_left(binding_mac(&entry.binding, header, scope, value), tag)
            .map_err(|_| OpenError)?;
        Ok(value.to_vec())
    }

    /// A blob's key (by the id in its header), its header (`version | id length | id`) and
    /// the rest, which must hold at least `min_rest` bytes.
    fn split<'b>(
        &self,
        blob: &'b [u8],
        min_rest: usize,
    ) -> Result<(&KeyEntry, &'b [u8], &'b [u8]), OpenError> {
        let (&version, rest) = blob.split_first().ok_or(OpenError)?;
        let (&id_len, rest) = rest.split_first().ok_or(OpenError)?;
        let id_len = usize::from(id_len);
        if version != VERSION || rest.len() < id_len + min_rest {
            return Err(OpenError);
        }
        let (id, rest) = rest.split_at(id_len);
        let entry = self
            .keys
            .iter()
            .find(|k| k.id.as_bytes() == id)
            .ok_or(OpenError)?;
        Ok((entry, &blob[..2 + id_len], rest))
    }

    /// Opens a blob sealed by any key of the keyring.
    pub fn open(&self, purpose: Purpose, text: &str) -> Result<Vec<u8>, OpenError> {
        let blob = BASE64URL_NOPAD
            .decode(text.as_bytes())
            .map_err(|_| OpenError)?;
        let (entry, header, rest) = self.split(&blob, 12 + 16)?;
        let (nonce, ciphertext) = rest.split_at(12);
        Self::cipher(entry, purpose)
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: header,
                },
            )
            .map_err(|_| OpenError)
    }
}

/// Everything a temporary credential carries. Serialized as JSON inside the sealed token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// `ASIA…`: the request's access key id must equal it.
    pub access_key_id: String,
    pub secret_access_key: String,
    pub account: String,
    /// `AssumedRole` or `User` (GetSessionToken).
    pub principal_type: String,
    /// The caller ARN: session ARN for role sessions, user ARN for GetSessionToken sessions.
    pub arn: String,
    /// `aws:userid`: `AROA…:<session>` or the user's `AIDA…`.
    pub user_id: String,
    /// The role (with path) for role sessions.
    pub role_arn: Option<String>,
    pub role_name: Option<String>,
    pub session_name: Option<String>,
    /// The user name, for GetSessionToken sessions.
    pub user_name: Option<String>,
    /// Unix seconds.
    pub issued_at: i64,
    pub expires_at: i64,
    /// Unix seconds of the MFA authentication, when MFA was used.
    pub mfa_at: Option<i64>,
    pub source_identity: Option<String>,
    /// The inline session policy, as given.
    pub session_policy: Option<String>,
    /// Managed session policies (ARNs in the role's account).
    #[serde(default)]
    pub policy_arns: Vec<String>,
    /// True when the session was created from temporary credentials (role chaining).
    pub chained: bool,
    /// The user whose GetSessionToken session this one was chained from (directly or not):
    /// revoking the user's sessions revokes these too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_user: Option<String>,
    /// Session tags (case-preserving keys, unique ignoring case), inherited transitive ones
    /// included: `aws:PrincipalTag/<key>` for the session, over the role's own tags.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// Keys of `tags` that pass to sessions created from this one.
    #[serde(default)]
    pub transitive_tag_keys: Vec<String>,
    /// AssumeRoleWithWebIdentity sessions: the OIDC provider's ARN (`aws:FederatedProvider`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federated_provider: Option<String>,
    /// AssumeRoleWithWebIdentity sessions: the web identity keys that stay available to the
    /// session's requests (`<provider>:aud`, `:sub`, `:amr`), with their values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub web_identity_keys: Vec<(String, Vec<String>)>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KeyringKey;

    fn keyring(active: &str, ids: &[(&str, u8)]) -> Keyring {
        let keys = ids
            .iter()
            .map(|(id, b)| KeyringKey {
                id: id.to_string(),
                key: [*b; 32],
            })
            .collect();
        Keyring::from_config(&KeyringConfig {
            active: active.into(),
            keys,
            ephemeral: false,
        })
    }

    #[test]
    fn round_trip_and_purpose_separation() {
        let k = keyring("a", &[("a", 1)]);
        let blob = k.seal(Purpose::SessionToken, b"claims");
        assert_eq!(k.open(Purpose::SessionToken, &blob).unwrap(), b"claims");
        assert_eq!(k.open(Purpose::AuthorizationMessage, &blob), Err(OpenError));
        assert!(
            blob.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "URL-safe: {blob}"
        );
        assert_ne!(
            k.seal(Purpose::SessionToken, b"claims"),
            blob,
            "fresh nonce every time"
        );
    }

    #[test]
    fn tampering_with_any_byte_fails() {
        let k = keyring("a", &[("a", 1)]);
        let blob = BASE64URL_NOPAD
            .decode(
                k.seal(Purpose::SessionToken, b"some session claims")
                    .as_bytes(),
            )
            .unwrap();
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x01;
            assert_eq!(
                k.open(Purpose::SessionToken, &BASE64URL_NOPAD.encode(&bad)),
                Err(OpenError),
                "byte {i}"
            );
        }
        for len in 0..blob.len() {
            assert_eq!(
                k.open(Purpose::SessionToken, &BASE64URL_NOPAD.encode(&blob[..len])),
                Err(OpenError),
                "truncated to {len}"
            );
        }
        assert_eq!(k.open(Purpose::SessionToken, "not base64!"), Err(OpenError));
    }

    #[test]
    fn a_bound_value_opens_only_in_its_scope_and_is_deterministic() {
        let k = keyring("a", &[("a", 1)]);
        let scope: &[&[u8]] = &[b"backend", b"bucket", b"tmp/loot"];
        let id = k.bind(scope, b"backend-upload-1");
        assert_eq!(k.unbind(scope, &id).unwrap(), b"backend-upload-1");
        assert_eq!(k.bind(scope, b"backend-upload-1"), id, "deterministic");
        for other in [
            &[&b"backend"[..], b"bucket", b"private/victim"][..],
            &[b"backend", b"other", b"tmp/loot"],
            &[b"other-backend", b"bucket", b"tmp/loot"],
            // The same bytes split differently.
            &[b"backend", b"bucket", b"tmp/", b"loot"],
            &[b"backendbucket", b"tmp/loot"],
        ] {
            assert_eq!(k.unbind(other, &id), Err(OpenError), "{other:?}");
        }
        let blob = BASE64URL_NOPAD.decode(id.as_bytes()).unwrap();
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x20;
            assert_eq!(
                k.unbind(scope, &BASE64URL_NOPAD.encode(&bad)),
                Err(OpenError),
                "byte {i}"
            );
        }
        for len in 0..blob.len() {
            assert_eq!(
                k.unbind(scope, &BASE64URL_NOPAD.encode(&blob[..len])),
                Err(OpenError)
            );
        }
        // A rotated keyring still opens it; another key's material does not.
        let rotated = keyring("b", &[("a", 1), ("b", 2)]);
        assert_eq!(rotated.unbind(scope, &id).unwrap(), b"backend-upload-1");
        assert_eq!(keyring("a", &[("a", 9)]).unbind(scope, &id), Err(OpenError));
    }

    #[test]
    fn rotation_keeps_old_tokens_valid_and_foreign_keys_fail() {
        let old = keyring("k1", &[("k1", 1)]);
        let token = old.seal(Purpose::SessionToken, b"x");
        let rotated = keyring("k2", &[("k1", 1), ("k2", 2)]);
        assert_eq!(rotated.open(Purpose::SessionToken, &token).unwrap(), b"x");
        let new_token = rotated.seal(Purpose::SessionToken, b"y");
        assert_eq!(
            old.open(Purpose::SessionToken, &new_token),
            Err(OpenError),
            "old replicas cannot open new-key tokens"
        );
        // Same key id, different key material: a foreign token.
        let foreign = keyring("k1", &[("k1", 9)]);
        assert_eq!(foreign.open(Purpose::SessionToken, &token), Err(OpenError));
    }
}
