//! AWS Signature Version 4: verification of header, presigned and streaming requests, and the
//! signer used to re-sign requests for backends. Pure: works on request parts and body bytes,
//! never on sockets, and knows nothing of policies or STS.
//!
//! One file per artefact: [`authorization`] (the header), [`verify`] (header and presigned
//! checks), [`canonical`] (canonical request, string to sign), [`encoding`] (URI and query
//! rules), [`amz_date`], [`signing_key`] (derivation and cache), [`payload`]
//! (`x-amz-content-sha256`), [`chunked`] (aws-chunked decoding, chunk and trailer signatures),
//! [`checksum`] (trailing checksums), [`signer`] (outgoing requests), [`error`].

pub mod amz_date;
pub mod authorization;
pub mod canonical;
pub mod checksum;
pub mod chunked;
pub mod encoding;
pub mod error;
pub mod payload;
pub mod signer;
pub mod signing_key;
pub mod verify;

pub use amz_date::AmzDate;
pub use canonical::RequestParts;
pub use chunked::{ChunkedDecoder, ChunkedParams};
pub use encoding::UriMode;
pub use error::SigV4Error;
pub use payload::{EMPTY_SHA256, HashedPayload, PayloadMode};
pub use signer::Signer;
pub use signing_key::{SigningKey, SigningKeyCache};
pub use verify::{
    AuthKind, ParsedAuth, ScopedError, SigningContext, VerifyPolicy, check_region,
    parse_request_auth, parse_request_auth_scoped, verify_signature,
};
