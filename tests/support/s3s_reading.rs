//! A second, independent reading of what a backend receives: the `s3s` crate's own S3 router
//! (the one s3s-fs runs) parses each request the recorder gets, verifies its signature with the
//! recorder's key, and says which operation, bucket and key it understood. The recorder
//! compares that with stsgate's classification of the same bytes: two parsers that must agree
//! on every request the gateway forwards.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use s3s::access::{S3Access, S3AccessContext};
use s3s::path::S3Path;

use super::recorder::RECORDER_KEY;

/// What a parser understood a request to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub operation: String,
    pub bucket: Option<String>,
    pub key: Option<String>,
}

/// An S3 implementation that implements nothing: every operation answers NotImplemented after
/// routing and the access check, which is all this needs.
struct Nothing;

#[async_trait::async_trait]
impl s3s::S3 for Nothing {}

/// Records the access check's view of the request.
struct Witness(Arc<Mutex<Option<Reading>>>);

#[async_trait::async_trait]
impl S3Access for Witness {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> s3s::S3Result<()> {
        let (bucket, key) = match cx.s3_path() {
            S3Path::Root => (None, None),
            S3Path::Bucket { bucket } => (Some(bucket.to_string()), None),
            S3Path::Object { bucket, key } => (Some(bucket.to_string()), Some(key.to_string())),
        };
        *self.0.lock().unwrap() = Some(Reading {
            operation: cx.s3_op().name().to_string(),
            bucket,
            key,
        });
        Ok(())
    }
}

/// s3s's reading of a request, or why s3s refused it before its access check.
pub async fn s3s_reading(parts: &http::request::Parts, body: Bytes) -> Result<Reading, String> {
    let slot = Arc::new(Mutex::new(None));
    let mut builder = s3s::service::S3ServiceBuilder::new(Nothing);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(
        RECORDER_KEY.0,
        RECORDER_KEY.1,
    ));
    builder.set_access(Witness(slot.clone()));
    let service = builder.build();
    let mut req = http::Request::builder()
        .method(parts.method.clone())
        .uri(parts.uri.clone());
    *req.headers_mut().unwrap() = parts.headers.clone();
    let req = req.body(s3s::Body::from(body)).unwrap();
    let outcome = service.call(req).await;
    let reading = slot.lock().unwrap().take();
    match reading {
        Some(r) => Ok(r),
        None => Err(match outcome {
            Ok(resp) => format!("s3s answered {} before its access check", resp.status()),
            Err(e) => format!("s3s refused the request before its access check: {e:?}"),
        }),
    }
}

/// stsgate's reading of the same request, as a backend would get it (path style).
pub fn stsgate_reading(parts: &http::request::Parts) -> Result<Reading, String> {
    let host = parts.headers.get("host").and_then(|v| v.to_str().ok());
    let target = stsgate::s3::address(host, parts.uri.path(), &[]).map_err(|e| e.message)?;
    let query = stsgate::sts::parse_form(parts.uri.query().unwrap_or("")).map_err(|e| e.message)?;
    let c = stsgate::s3::classify(parts.method.as_str(), &target, &query, &parts.headers)
        .map_err(|e| e.message)?;
    Ok(Reading {
        operation: c.operation.to_string(),
        bucket: c.target.bucket,
        key: c.target.key,
    })
}
