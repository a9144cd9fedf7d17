//! Trailing (and header) checksums S3 clients send: `x-amz-checksum-<algorithm>`, base64 of the
//! big-endian digest.

use sha1::Sha1;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl ChecksumAlgorithm {
    /// From a header name such as `x-amz-checksum-crc32c` (case-insensitive).
    pub fn from_header_name(name: &str) -> Option<ChecksumAlgorithm> {
        let alg = name
            .get(..15)
            .filter(|p| p.eq_ignore_ascii_case("x-amz-checksum-"))
            .map(|_| &name[15..])?;
        Some(match alg.to_ascii_lowercase().as_str() {
            "crc32" => ChecksumAlgorithm::Crc32,
            "crc32c" => ChecksumAlgorithm::Crc32c,
            "crc64nvme" => ChecksumAlgorithm::Crc64Nvme,
            "sha1" => ChecksumAlgorithm::Sha1,
            "sha256" => ChecksumAlgorithm::Sha256,
            _ => return None,
        })
    }

    /// The name S3 uses in messages (`CRC32C`, `SHA256`, …).
    pub fn label(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "CRC32",
            ChecksumAlgorithm::Crc32c => "CRC32C",
            ChecksumAlgorithm::Crc64Nvme => "CRC64NVME",
            ChecksumAlgorithm::Sha1 => "SHA1",
            ChecksumAlgorithm::Sha256 => "SHA256",
        }
    }

    pub fn header_name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "x-amz-checksum-crc32",
            ChecksumAlgorithm::Crc32c => "x-amz-checksum-crc32c",
            ChecksumAlgorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            ChecksumAlgorithm::Sha1 => "x-amz-checksum-sha1",
            ChecksumAlgorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }
}

/// An incremental checksum.
#[derive(Clone)]
pub enum Checksum {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Crc64Nvme(crc64fast_nvme::Digest),
    Sha1(Sha1),
    Sha256(Sha256),
}

impl Checksum {
    pub fn new(alg: ChecksumAlgorithm) -> Checksum {
        match alg {
            ChecksumAlgorithm::Crc32 => Checksum::Crc32(crc32fast::Hasher::new()),
            ChecksumAlgorithm::Crc32c => Checksum::Crc32c(0),
            ChecksumAlgorithm::Crc64Nvme => Checksum::Crc64Nvme(crc64fast_nvme::Digest::new()),
            ChecksumAlgorithm::Sha1 => Checksum::Sha1(Sha1::new()),
            ChecksumAlgorithm::Sha256 => Checksum::Sha256(Sha256::new()),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Checksum::Crc32(h) => h.update(data),
            Checksum::Crc32c(c) => *c = crc32c::crc32c_append(*c, data),
            Checksum::Crc64Nvme(d) => d.write(data),
            Checksum::Sha1(h) => h.update(data),
            Checksum::Sha256(h) => h.update(data),
        }
    }

    /// The big-endian digest bytes.
    pub fn finalize(self) -> Vec<u8> {
        match self {
            Checksum::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
            Checksum::Crc32c(c) => c.to_be_bytes().to_vec(),
            Checksum::Crc64Nvme(d) => d.sum64().to_be_bytes().to_vec(),
            Checksum::Sha1(h) => h.finalize().to_vec(),
            Checksum::Sha256(h) => h.finalize().to_vec(),
        }
    }

    /// The digest in the base64 form S3 puts in headers and trailers.
    pub fn finalize_base64(self) -> String {
        data_encoding::BASE64.encode(&self.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(alg: ChecksumAlgorithm, data: &[u8]) -> String {
        let mut c = Checksum::new(alg);
        for piece in data.chunks(7) {
            c.update(piece);
        }
        c.finalize_base64()
    }

    #[test]
    fn known_values() {
        // S3 documentation trailer example: 66560 bytes of 'a' → x-amz-checksum-crc32c:sOO8/Q==
        assert_eq!(b64(ChecksumAlgorithm::Crc32c, &[b'a'; 66560]), "sOO8/Q==");
        // Standard check values of "123456789" (CRC catalogue).
        assert_eq!(
            b64(ChecksumAlgorithm::Crc32, b"123456789"),
            data_encoding::BASE64.encode(&0xCBF4_3926u32.to_be_bytes())
        );
        assert_eq!(
            b64(ChecksumAlgorithm::Crc32c, b"123456789"),
            data_encoding::BASE64.encode(&0xE306_9283u32.to_be_bytes())
        );
        assert_eq!(
            b64(ChecksumAlgorithm::Crc64Nvme, b"123456789"),
            data_encoding::BASE64.encode(&0xAE8B_1486_0A79_9888u64.to_be_bytes())
        );
        assert_eq!(
            b64(ChecksumAlgorithm::Sha1, b"abc"),
            "qZk+NkcGgWq6PiVxeFDCbJzQ2J0="
        );
        assert_eq!(
            b64(ChecksumAlgorithm::Sha256, b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn header_names() {
        assert_eq!(
            ChecksumAlgorithm::from_header_name("X-Amz-Checksum-CRC64NVME"),
            Some(ChecksumAlgorithm::Crc64Nvme)
        );
        assert_eq!(
            ChecksumAlgorithm::from_header_name("x-amz-checksum-md5"),
            None
        );
        assert_eq!(ChecksumAlgorithm::from_header_name("x-amz"), None);
        for alg in [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme,
            ChecksumAlgorithm::Sha1,
            ChecksumAlgorithm::Sha256,
        ] {
            assert_eq!(
                ChecksumAlgorithm::from_header_name(alg.header_name()),
                Some(alg)
            );
        }
    }
}
