//! Access key ids in AWS's format, which encodes the owning account.
//!
//! An id is a four-letter prefix (`AKIA` long-term, `ASIA` temporary) followed by 16 base32
//! characters of 10 bytes: a 48-bit big-endian integer `2^47 | account << 7 | random7`, then four
//! random bytes. Tools that decode real AWS ids (and our `GetAccessKeyInfo`) therefore read the
//! account straight from the id, without a lookup.

use data_encoding::BASE32_NOPAD;

/// Whether a key is long-term (user) or temporary (STS session).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    LongTerm,
    Temporary,
}

impl KeyKind {
    pub fn prefix(self) -> &'static str {
        match self {
            KeyKind::LongTerm => "AKIA",
            KeyKind::Temporary => "ASIA",
        }
    }
}

/// The largest account id that fits the 40-bit field (every 12-digit id does).
const ACCOUNT_MASK: u64 = (1 << 40) - 1;

/// Builds an access key id for `account` (a 12-digit id) with the given random bytes.
pub fn encode_access_key_id(kind: KeyKind, account: u64, random: [u8; 5]) -> String {
    debug_assert!(account <= 999_999_999_999);
    let z: u64 = (1 << 47) | ((account & ACCOUNT_MASK) << 7) | u64::from(random[0] & 0x7f);
    let mut bytes = [0u8; 10];
    bytes[..6].copy_from_slice(&z.to_be_bytes()[2..]);
    bytes[6..].copy_from_slice(&random[1..]);
    let mut id = String::with_capacity(20);
    id.push_str(kind.prefix());
    id.push_str(&BASE32_NOPAD.encode(&bytes));
    id
}

/// Creates a fresh random access key id for `account`.
pub fn new_access_key_id(kind: KeyKind, account: u64) -> String {
    let mut random = [0u8; 5];
    getrandom::fill(&mut random).expect("the operating system's random source failed");
    encode_access_key_id(kind, account, random)
}

/// Creates a fresh 40-character secret access key (30 random bytes, base64 alphabet like AWS).
pub fn new_secret_access_key() -> String {
    let mut bytes = [0u8; 30];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    data_encoding::BASE64.encode(&bytes)
}

/// Decodes an access key id: its kind and the account it encodes.
///
/// Returns `None` for ids that are not 20 characters of the new-style base32 form.
pub fn decode_access_key_id(id: &str) -> Option<(KeyKind, u64)> {
    // Work on bytes: the id comes from requests, and slicing a str could split a character.
    let id = id.as_bytes();
    if id.len() != 20 {
        return None;
    }
    let kind = match &id[..4] {
        b"AKIA" => KeyKind::LongTerm,
        b"ASIA" => KeyKind::Temporary,
        _ => return None,
    };
    let bytes = BASE32_NOPAD.decode(&id[4..]).ok()?;
    let mut z = [0u8; 8];
    z[2..].copy_from_slice(&bytes[..6]);
    let z = u64::from_be_bytes(z);
    if z & (1 << 47) == 0 {
        return None;
    }
    Some((kind, (z >> 7) & ACCOUNT_MASK))
}

/// Formats an account id as AWS does: 12 digits, zero-padded.
pub fn format_account(account: u64) -> String {
    format!("{account:012}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_published_examples() {
        // Values from public write-ups of the format (see spec sts-iam.md §3.2).
        assert_eq!(
            decode_access_key_id("AKIARZPUZDIKGB2VALC4"),
            Some((KeyKind::LongTerm, 123456789012))
        );
        assert_eq!(
            decode_access_key_id("ASIAY34FZKBOKMUTVV7A"),
            Some((KeyKind::Temporary, 609629065308))
        );
        assert_eq!(
            decode_access_key_id("ASIAQAAAAAAAGMKEM7X5"),
            Some((KeyKind::Temporary, 0))
        );
        assert_eq!(
            decode_access_key_id("ASIARTX3GSDSVIISEM2E"),
            Some((KeyKind::Temporary, 111122223333))
        );
    }

    #[test]
    fn round_trips_every_kind_and_edge_account() {
        for account in [0, 1, 111122223333, 999_999_999_999] {
            for kind in [KeyKind::LongTerm, KeyKind::Temporary] {
                let id = new_access_key_id(kind, account);
                assert_eq!(id.len(), 20);
                assert!(id.starts_with(kind.prefix()));
                assert_eq!(decode_access_key_id(&id), Some((kind, account)), "{id}");
            }
        }
    }

    #[test]
    fn rejects_other_shapes() {
        assert_eq!(decode_access_key_id("AKIAIOSFODNN7EXAMPLE"), None); // old-style id (digits 0/1/8/9)
        assert_eq!(decode_access_key_id("AKIA"), None);
        assert_eq!(decode_access_key_id("AROARTX3GSDSVIISEM2E"), None);
        assert_eq!(decode_access_key_id("AKIAAAAAAAAAAAAAAAAA"), None); // flag bit clear
        assert_eq!(decode_access_key_id("AKI\u{e9}AAAAAAAAAAAAAAA"), None); // 20 bytes, multi-byte char at 3..5
    }

    #[test]
    fn secrets_are_40_chars() {
        let s = new_secret_access_key();
        assert_eq!(s.len(), 40);
        assert_ne!(s, new_secret_access_key());
    }
}
