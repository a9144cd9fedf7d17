//! `x-amz-content-sha256`: the payload modes, and verification of a hex SHA-256 body.

use sha2::{Digest, Sha256};

use super::error::SigV4Error;

/// SHA-256 of the empty string, hex.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// How the body is covered by the signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadMode {
    /// The raw body, whose SHA-256 must equal this value.
    Sha256([u8; 32]),
    /// The raw body, not covered (integrity left to TLS).
    Unsigned,
    /// aws-chunked with a chunk-signature chain; `trailer` adds a signed trailer.
    StreamingSigned { trailer: bool },
    /// aws-chunked without chunk signatures, with a trailing checksum.
    StreamingUnsignedTrailer,
}

impl PayloadMode {
    pub fn parse(value: &str) -> Result<PayloadMode, SigV4Error> {
        match value {
            "UNSIGNED-PAYLOAD" => Ok(PayloadMode::Unsigned),
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" => {
                Ok(PayloadMode::StreamingSigned { trailer: false })
            }
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => {
                Ok(PayloadMode::StreamingSigned { trailer: true })
            }
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => Ok(PayloadMode::StreamingUnsignedTrailer),
            v if v.starts_with("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD") => Err(
                SigV4Error::NotImplemented("SigV4a streaming payloads are not supported".into()),
            ),
            v => {
                let mut hash = [0u8; 32];
                if v.len() == 64
                    && v.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                    && hex::decode_to_slice(v, &mut hash).is_ok()
                {
                    Ok(PayloadMode::Sha256(hash))
                } else {
                    // 403 SignatureDoesNotMatch, as MinIO's Mint suite expects for a bad value (§4.1).
                    Err(SigV4Error::SignatureDoesNotMatch(Box::default()))
                }
            }
        }
    }

    pub fn is_streaming(self) -> bool {
        matches!(
            self,
            PayloadMode::StreamingSigned { .. } | PayloadMode::StreamingUnsignedTrailer
        )
    }
}

/// Hashes a raw body as it streams and compares with the declared SHA-256 at the end.
pub struct HashedPayload {
    hasher: Sha256,
    expected: [u8; 32],
}

impl HashedPayload {
    pub fn new(expected: [u8; 32]) -> Self {
        HashedPayload {
            hasher: Sha256::new(),
            expected,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.hasher.update(data);
    }

    /// Compares once the whole body has been seen. The caller must not release the body's last
    /// bytes to a backend before this returns `Ok`.
    pub fn finish(self) -> Result<(), SigV4Error> {
        let computed: [u8; 32] = self.hasher.finalize().into();
        if bool::from(subtle::ConstantTimeEq::ct_eq(
            &computed[..],
            &self.expected[..],
        )) {
            Ok(())
        } else {
            Err(SigV4Error::XAmzContentSHA256Mismatch {
                client: hex::encode(self.expected),
                computed: hex::encode(computed),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(
            PayloadMode::parse("UNSIGNED-PAYLOAD").unwrap(),
            PayloadMode::Unsigned
        );
        assert_eq!(
            PayloadMode::parse("STREAMING-UNSIGNED-PAYLOAD-TRAILER").unwrap(),
            PayloadMode::StreamingUnsignedTrailer
        );
        assert!(matches!(
            PayloadMode::parse(EMPTY_SHA256).unwrap(),
            PayloadMode::Sha256(_)
        ));
        assert_eq!(
            PayloadMode::parse("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD")
                .unwrap_err()
                .code(),
            "NotImplemented"
        );
        assert_eq!(
            PayloadMode::parse(&EMPTY_SHA256.to_uppercase())
                .unwrap_err()
                .code(),
            "SignatureDoesNotMatch"
        );
        assert_eq!(
            PayloadMode::parse("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
                .unwrap_err()
                .code(),
            "SignatureDoesNotMatch"
        );
    }

    #[test]
    fn hashed_payload() {
        let mut ok = HashedPayload::new(Sha256::digest(b"hello world").into());
        ok.update(b"hello ");
        ok.update(b"world");
        assert!(ok.finish().is_ok());
        let mut bad = HashedPayload::new(Sha256::digest(b"hello world").into());
        bad.update(b"hello there");
        let e = bad.finish().unwrap_err();
        assert_eq!((e.code(), e.status()), ("XAmzContentSHA256Mismatch", 400));
    }
}
