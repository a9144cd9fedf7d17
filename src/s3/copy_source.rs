//! `x-amz-copy-source`: parsed once, checked like a request's own bucket and key, and
//! re-serialised by the gateway, so the backend copies exactly the object that was authorized.
//!
//! MinIO parses the header as a URL (`//bucket/key` names a host, `http://…/bucket/key` a path);
//! Garage trims leading slashes. Only `bucket/key` and `/bucket/key`, URL-encoded, with an
//! optional `?versionId=`, are accepted.

use super::address::{check_bucket, check_key};
use super::error::{ClassifyError, invalid_argument};
use crate::sigv4::encoding::{percent_decode, uri_encode};

/// A copy source, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySource {
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
}

const HEADER: &str = "x-amz-copy-source";

impl CopySource {
    pub fn parse(raw: &str) -> Result<CopySource, ClassifyError> {
        let bad = |why: &str| {
            invalid_argument(
                HEADER,
                format!(
                    "x-amz-copy-source must be <bucket>/<key>[?versionId=<id>], URL-encoded: {why}"
                ),
            )
        };
        if raw.starts_with("//") || raw.contains("://") {
            return Err(bad("a URL or a '//' prefix is not accepted"));
        }
        let (path, version_id) = match raw.split_once('?') {
            Some((p, q)) => match q.strip_prefix("versionId=") {
                Some(v) if !v.is_empty() && !v.contains(['&', '?', '=']) => {
                    let v = decode(v).ok_or_else(|| bad("the version id is not valid"))?;
                    (p, Some(v))
                }
                _ => return Err(bad("the only parameter it takes is versionId")),
            },
            None => (raw, None),
        };
        let path = path.strip_prefix('/').unwrap_or(path);
        // The bucket must read the same before and after decoding, as in a request path.
        let (raw_bucket, raw_key) = path.split_once('/').ok_or_else(|| bad("it names no key"))?;
        if raw_bucket.contains('%') {
            return Err(bad("the bucket must not be percent-encoded"));
        }
        let key =
            decode(raw_key).ok_or_else(|| bad("the key is not valid percent-encoded UTF-8"))?;
        if key.is_empty() {
            return Err(bad("it names no key"));
        }
        check_bucket(raw_bucket)?;
        check_key(&key)?;
        if version_id
            .as_deref()
            .is_some_and(|v| v.chars().any(char::is_control))
        {
            return Err(bad("the version id contains a control character"));
        }
        Ok(CopySource {
            bucket: raw_bucket.to_string(),
            key,
            version_id,
        })
    }

    /// The header value the backend gets: `bucket/key` encoded by the gateway.
    pub fn to_header(&self) -> String {
        let mut out = format!("{}/{}", self.bucket, uri_encode(self.key.as_bytes(), true));
        if let Some(v) = &self.version_id {
            out.push_str("?versionId=");
            out.push_str(&uri_encode(v.as_bytes(), false));
        }
        out
    }

    /// The `s3:x-amz-copy-source` condition value: `bucket/key` as decoded.
    pub fn condition_value(&self) -> String {
        format!("{}/{}", self.bucket, self.key)
    }

    pub fn arn(&self) -> String {
        format!("arn:aws:s3:::{}/{}", self.bucket, self.key)
    }
}

fn decode(text: &str) -> Option<String> {
    percent_decode(text.as_bytes(), false)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
}
