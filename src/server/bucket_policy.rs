//! The gateway's own answers to the bucket policy and bucket CORS operations: both live in the
//! gateway's config, so the backend's own are never read or changed through the gateway.
//! GetBucketPolicy, GetBucketPolicyStatus and GetBucketCors answer from the config;
//! Put/DeleteBucketPolicy and Put/DeleteBucketCors write or remove the file of a bucket with
//! `manage_policy` / `manage_cors` (then reload), and are refused for any other.

use bytes::Bytes;
use http::{Response, StatusCode, header};
use hyper::body::Incoming;

use super::s3_reply::{S3Error, read_signed_body, render};
use super::{GatewayBody, State, boxed};
use crate::sigv4::PayloadMode;

/// The answer to a bucket policy operation (already authorized), or `None` for any other.
#[allow(clippy::too_many_arguments)]
pub(super) async fn answer(
    state: &State,
    buckets: &crate::config::Buckets,
    classified: &crate::s3::Classified,
    caller_account: Option<&str>,
    body_slot: &mut Option<Incoming>,
    mode: PayloadMode,
    head: bool,
    request_id: &str,
) -> Option<Response<GatewayBody>> {
    let bucket = classified.target.bucket.as_deref()?;
    let facts = buckets.lookup(bucket);
    let entry = facts.entry;
    let managed = match classified.operation {
        "PutBucketPolicy" | "DeleteBucketPolicy" => entry.and_then(|e| e.managed_file.as_ref()),
        "PutBucketCors" | "DeleteBucketCors" => entry.and_then(|e| e.managed_cors_file.as_ref()),
        _ => None,
    };
    if let Some(file) = managed {
        // As S3: only the owner's account may change a bucket's policy, whatever it grants.
        if classified.operation.ends_with("Policy") && caller_account != Some(facts.owner) {
            return Some(render(S3Error::NotBucketOwner, head, request_id));
        }
        let change = Change {
            state,
            bucket,
            file,
            operation: classified.operation,
            head,
            request_id,
        };
        return Some(
            change
                .apply(body_slot, mode)
                .await
                .unwrap_or_else(|refused| *refused),
        );
    }
    read(classified.operation, bucket, entry, head, request_id)
}

/// A change of a managed bucket policy file.
struct Change<'a> {
    state: &'a State,
    bucket: &'a str,
    file: &'a std::path::Path,
    operation: &'static str,
    head: bool,
    request_id: &'a str,
}

impl Change<'_> {
    fn refuse(&self, e: S3Error) -> Box<Response<GatewayBody>> {
        Box::new(render(e, self.head, self.request_id))
    }

    /// Writes (PutBucketPolicy, from the signed body) or removes the file, then asks for a
    /// reload: `204 No Content`.
    async fn apply(
        &self,
        body_slot: &mut Option<Incoming>,
        mode: PayloadMode,
    ) -> Result<Response<GatewayBody>, Box<Response<GatewayBody>>> {
        let written = if self.operation.starts_with("Put") {
            let text = self.document_text(body_slot, mode).await?;
            write_atomically(self.file, &text)
        } else {
            match std::fs::remove_file(self.file) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        };
        if let Err(e) = written {
            tracing::error!(bucket = self.bucket, file = %self.file.display(), error = %e, operation = self.operation, "the bucket's file cannot be written");
            return Err(self.refuse(S3Error::PolicyNotStored));
        }
        tracing::info!(bucket = self.bucket, operation = self.operation, file = %self.file.display(), "bucket configuration changed; reloading the config");
        self.state.reload_now.notify_one();
        Ok(Response::builder()
            .status(StatusCode::NO_CONTENT)
            .header("x-amz-request-id", self.request_id)
            .body(boxed(http_body_util::Empty::new()))
            .expect("static response parts"))
    }

    /// The PutBucketPolicy or PutBucketCors body: signed, UTF-8, a document the config would
    /// accept.
    async fn document_text(
        &self,
        body_slot: &mut Option<Incoming>,
        mode: PayloadMode,
    ) -> Result<String, Box<Response<GatewayBody>>> {
        let Some(body) = body_slot.take() else {
            return Err(self.refuse(S3Error::BodyAlreadyRead));
        };
        let cors = self.operation == "PutBucketCors";
        let bytes = read_signed_body(
            body,
            mode,
            if cors {
                crate::cors::MAX_DOCUMENT
            } else {
                MAX_BUCKET_POLICY
            },
            self.state.config.limits.body_read_timeout,
            self.operation,
            self.request_id,
        )
        .await?;
        let malformed = |message: String| {
            self.refuse(if cors {
                S3Error::MalformedCors(message)
            } else {
                S3Error::MalformedPolicy(message)
            })
        };
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| malformed("The document is not UTF-8".into()))?;
        if cors {
            // Only the XML S3 takes here (the config also reads aws-cli's JSON).
            if !text.trim_start().starts_with('<') {
                return Err(malformed("The XML you provided was not well-formed or did not validate against our published schema".into()));
            }
            crate::cors::CorsConfig::parse(&text).map_err(malformed)?;
        } else {
            check_bucket_policy(&text, self.bucket).map_err(malformed)?;
        }
        Ok(text)
    }
}

/// GetBucketPolicy and GetBucketPolicyStatus from the config; Put/DeleteBucketPolicy of a bucket
/// the config does not let the gateway manage are refused.
fn read(
    operation: &str,
    bucket: &str,
    entry: Option<&crate::config::BucketEntry>,
    head: bool,
    request_id: &str,
) -> Option<Response<GatewayBody>> {
    let ok = |content_type: &'static str, body: String| {
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, content_type)
            .header("x-amz-request-id", request_id)
            .body(boxed(http_body_util::Full::new(if head {
                Bytes::new()
            } else {
                Bytes::from(body)
            })))
            .expect("static response parts")
    };
    match operation {
        "GetBucketPolicy" => Some(match entry.and_then(|e| e.policy_text.clone()) {
            Some(text) => ok("application/json", text),
            None => render(
                S3Error::NoSuchBucketPolicy {
                    bucket: bucket.to_string(),
                },
                head,
                request_id,
            ),
        }),
        "GetBucketPolicyStatus" => Some(ok(
            "application/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PolicyStatus xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><IsPublic>{}</IsPublic></PolicyStatus>",
                entry.is_some_and(|e| e.public)
            ),
        )),
        "GetBucketCors" => Some(match entry.and_then(|e| e.cors.as_ref()) {
            Some(rules) => ok("application/xml", rules.to_xml()),
            None => render(
                S3Error::NoSuchCorsConfiguration {
                    bucket: bucket.to_string(),
                },
                head,
                request_id,
            ),
        }),
        "PutBucketPolicy" | "DeleteBucketPolicy" | "PutBucketCors" | "DeleteBucketCors" => {
            let operation = match operation {
                "PutBucketPolicy" => "PutBucketPolicy",
                "DeleteBucketPolicy" => "DeleteBucketPolicy",
                "PutBucketCors" => "PutBucketCors",
                _ => "DeleteBucketCors",
            };
            Some(render(S3Error::NotManaged { operation }, head, request_id))
        }
        _ => None,
    }
}

/// Largest bucket policy (S3's limit is 20 KB).
const MAX_BUCKET_POLICY: usize = 20 * 1024;

/// A bucket policy as the config would accept it, whose resources are all in `bucket`.
fn check_bucket_policy(text: &str, bucket: &str) -> Result<(), String> {
    use crate::policy::{CompiledPolicy, PolicyDocument, PolicyKind};
    let doc = PolicyDocument::parse(text, PolicyKind::Resource).map_err(|e| e.to_string())?;
    CompiledPolicy::compile("bucket policy", &doc, PolicyKind::Resource)
        .map_err(|e| e.to_string())?;
    let arn = format!("arn:aws:s3:::{bucket}");
    let inside = |r: &String| r == &arn || r.starts_with(&format!("{arn}/"));
    for s in &doc.statements {
        let ok = s
            .resource
            .as_ref()
            .is_some_and(|r| !r.negated && r.patterns.iter().all(inside));
        if !ok {
            return Err("Policy has invalid resource".to_string());
        }
    }
    Ok(())
}

/// Writes `text` to `file` through a temporary file and a rename, so the reload never reads half.
fn write_atomically(file: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut tmp = file.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, file)
}
