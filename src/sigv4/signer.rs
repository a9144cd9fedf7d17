//! Signs outgoing requests (to backends) with header auth, sharing the verifier's
//! canonicalisation so that what we sign is exactly what a SigV4 verifier recomputes.

use std::sync::Arc;

use http::{HeaderMap, HeaderValue};

use super::AmzDate;
use super::canonical::{PathForm, RequestParts, write_canonical_request, write_string_to_sign};
use super::encoding::UriMode;
use super::error::SigV4Error;
use super::signing_key::SigningKeyCache;

/// Credentials and scope for signing requests to one backend.
#[derive(Clone)]
pub struct Signer {
    pub access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    pub region: String,
    pub service: String,
    cache: SigningKeyCache,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

/// Headers that are never signed: a hop (or a client library) may change them.
const UNSIGNED: &[&str] = &[
    "authorization",
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-amzn-trace-id",
];

impl Signer {
    pub fn new(
        access_key_id: &str,
        secret_access_key: &str,
        session_token: Option<&str>,
        region: &str,
        service: &str,
        cache: SigningKeyCache,
    ) -> Signer {
        Signer {
            access_key_id: access_key_id.to_string(),
            secret_access_key: secret_access_key.to_string(),
            session_token: session_token.map(str::to_string),
            region: region.to_string(),
            service: service.to_string(),
            cache,
        }
    }

    /// Adds `x-amz-date`, `x-amz-content-sha256` (S3), `x-amz-security-token` (temporary
    /// credentials) and `Authorization` to `headers`. `host` must already be set. Every header
    /// present is signed except the hop-by-hop ones in [`UNSIGNED`]. Returns the signature, the
    /// seed for aws-chunked bodies.
    pub fn sign(
        &self,
        method: &str,
        path: &str,
        query: &str,
        headers: &mut HeaderMap,
        payload_hash: &str,
        now: AmzDate,
    ) -> Result<[u8; 32], SigV4Error> {
        if !headers.contains_key(http::header::HOST) {
            return Err(SigV4Error::InvalidRequest(
                "cannot sign a request without a Host header".into(),
            ));
        }
        headers.remove(http::header::AUTHORIZATION);
        let header = |v: &str| {
            HeaderValue::from_str(v).map_err(|_| {
                SigV4Error::InvalidRequest("a signing header value is not valid".into())
            })
        };
        headers.insert("x-amz-date", header(now.as_str())?);
        if self.service == "s3" {
            headers.insert("x-amz-content-sha256", header(payload_hash)?);
        }
        match &self.session_token {
            Some(token) => {
                headers.insert("x-amz-security-token", header(token)?);
            }
            None => {
                headers.remove("x-amz-security-token");
            }
        }
        let mut signed: Vec<&str> = headers
            .keys()
            .map(|k| k.as_str())
            .filter(|k| !UNSIGNED.contains(k))
            .collect();
        signed.sort_unstable();
        signed.dedup();
        let mode = if self.service == "s3" {
            UriMode::S3
        } else {
            UriMode::Normalized
        };
        let parts = RequestParts {
            method,
            path,
            query,
            headers,
            authority: None,
        };
        let mut canonical = Vec::with_capacity(512);
        write_canonical_request(
            &mut canonical,
            &parts,
            PathForm::Canonical(mode),
            false,
            &signed,
            payload_hash,
        )?;
        let date = now.date_str().to_string();
        let scope = format!("{date}/{}/{}/aws4_request", self.region, self.service);
        let mut sts = Vec::with_capacity(160);
        write_string_to_sign(&mut sts, &now, &scope, &canonical);
        let key: Arc<_> =
            self.cache
                .get(&self.secret_access_key, &date, &self.region, &self.service);
        let signature = key.sign(&sts);
        let value = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={}, Signature={}",
            self.access_key_id,
            signed.join(";"),
            hex::encode(signature)
        );
        headers.insert(http::header::AUTHORIZATION, header(&value)?);
        Ok(signature)
    }
}
