//! The headers each S3 operation may carry to the backend.
//!
//! An allowlist: the backend's signature covers every header it gets, so a header the gateway
//! does not understand must never reach it. Three outcomes per client header:
//! - forwarded: in the operation's list below;
//! - dropped: authentication and protocol headers (replaced by the gateway's own), client
//!   telemetry, and ordinary HTTP headers that no S3 operation reads (`accept`, `user-agent`);
//! - refused with `InvalidArgument`: backend control headers (`x-minio-*`, MinIO's
//!   `x-amz-meta-snowball-*` archive extraction, …) and every `x-amz-*` header the operation
//!   does not take, since backends read those as commands.

use http::{HeaderMap, HeaderName, HeaderValue};

use super::error::{ClassifyError, invalid_argument};

/// Prefixes of headers that some backend treats as a command (MinIO: `x-minio-force-delete`
/// deletes a whole prefix, `x-minio-extract` reads inside archives, `snowball` metadata unpacks a
/// tar to arbitrary keys). Refused whatever the operation.
const VENDOR_COMMANDS: &[&str] = &[
    "x-minio-",
    "x-amz-meta-snowball-",
    "x-amz-meta-minio-",
    "x-amz-meta-x-minio-",
    "x-rgw-",
    "x-ceph-",
    "x-garage-",
];

/// Authentication, framing and SDK bookkeeping: understood, consumed here, never forwarded.
const CONSUMED: &[&str] = &[
    "authorization",
    "host",
    "content-length",
    "transfer-encoding",
    "expect",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-security-token",
    "x-amz-decoded-content-length",
    "x-amz-trailer",
    "x-amz-sdk-checksum-algorithm",
    "x-amz-user-agent",
    "amz-sdk-invocation-id",
    "amz-sdk-request",
];

/// Accepted on every operation.
const ANY: &[&str] = &["x-amz-expected-bucket-owner", "x-amz-request-payer"];

pub(crate) const CHECKSUMS: &[&str] = &[
    "content-md5",
    "x-amz-checksum-crc32",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-crc64nvme",
    "x-amz-checksum-sha1",
    "x-amz-checksum-sha256",
];

const SSE_C: &[&str] = &[
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-server-side-encryption-customer-key",
    "x-amz-server-side-encryption-customer-key-md5",
];

const READ: &[&str] = &[
    "range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "x-amz-checksum-mode",
];

const GRANTS: &[&str] = &[
    "x-amz-acl",
    "x-amz-grant-read",
    "x-amz-grant-read-acp",
    "x-amz-grant-write",
    "x-amz-grant-write-acp",
    "x-amz-grant-full-control",
];

/// What a new object may be written with (PutObject, CopyObject, CreateMultipartUpload).
const NEW_OBJECT: &[&str] = &[
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "content-type",
    "expires",
    "x-amz-storage-class",
    "x-amz-tagging",
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-context",
    "x-amz-server-side-encryption-bucket-key-enabled",
    "x-amz-website-redirect-location",
    "x-amz-object-lock-mode",
    "x-amz-object-lock-retain-until-date",
    "x-amz-object-lock-legal-hold",
];

const COPY_SOURCE: &[&str] = &[
    "x-amz-copy-source",
    "x-amz-copy-source-if-match",
    "x-amz-copy-source-if-none-match",
    "x-amz-copy-source-if-modified-since",
    "x-amz-copy-source-if-unmodified-since",
    "x-amz-copy-source-server-side-encryption-customer-algorithm",
    "x-amz-copy-source-server-side-encryption-customer-key",
    "x-amz-copy-source-server-side-encryption-customer-key-md5",
    "x-amz-source-expected-bucket-owner",
];

/// A body the backend parses (configuration documents, tag sets, ACLs).
const DOCUMENT: &[&str] = &["content-type"];

/// The header lists `operation` takes, and whether it takes `x-amz-meta-*`.
fn allowed(operation: &str) -> (&'static [&'static [&'static str]], bool) {
    match operation {
        "GetObject" | "HeadObject" => (&[READ, SSE_C, &["x-amz-part-number"]], false),
        "PutObject" => (
            &[
                NEW_OBJECT,
                GRANTS,
                CHECKSUMS,
                SSE_C,
                &["if-match", "if-none-match"],
            ],
            true,
        ),
        "CopyObject" => (
            &[
                NEW_OBJECT,
                GRANTS,
                SSE_C,
                COPY_SOURCE,
                &[
                    "x-amz-metadata-directive",
                    "x-amz-tagging-directive",
                    "x-amz-checksum-algorithm",
                    "if-match",
                    "if-none-match",
                ],
            ],
            true,
        ),
        "CreateMultipartUpload" => (
            &[
                NEW_OBJECT,
                GRANTS,
                SSE_C,
                &["x-amz-checksum-algorithm", "x-amz-checksum-type"],
            ],
            true,
        ),
        "UploadPart" => (&[CHECKSUMS, SSE_C], false),
        "UploadPartCopy" => (&[COPY_SOURCE, SSE_C, &["x-amz-copy-source-range"]], false),
        "CompleteMultipartUpload" => (
            &[
                CHECKSUMS,
                SSE_C,
                DOCUMENT,
                &[
                    "if-match",
                    "if-none-match",
                    "x-amz-checksum-type",
                    "x-amz-mp-object-size",
                ],
            ],
            false,
        ),
        "ListObjects" | "ListObjectsV2" | "ListObjectVersions" => {
            (&[&["x-amz-optional-object-attributes"]], false)
        }
        "DeleteObject" => (
            &[&["x-amz-bypass-governance-retention", "x-amz-mfa", "if-match"]],
            false,
        ),
        // The body is re-serialised by the gateway: the client's checksums describe bytes the
        // backend never gets, so they are accepted (the signed SHA-256 was verified) and
        // replaced by the gateway's own Content-MD5 when forwarding.
        "DeleteObjects" => (
            &[
                CHECKSUMS,
                DOCUMENT,
                &["x-amz-bypass-governance-retention", "x-amz-mfa"],
            ],
            false,
        ),
        "PutObjectRetention" => (
            &[CHECKSUMS, DOCUMENT, &["x-amz-bypass-governance-retention"]],
            false,
        ),
        "PutObjectAcl" | "PutBucketAcl" => (&[CHECKSUMS, DOCUMENT, GRANTS], false),
        "GetObjectAttributes" => (
            &[
                SSE_C,
                &[
                    "x-amz-object-attributes",
                    "x-amz-max-parts",
                    "x-amz-part-number-marker",
                ],
            ],
            false,
        ),
        "SelectObjectContent" => (&[SSE_C, CHECKSUMS, DOCUMENT], false),
        "CreateBucket" => (
            &[
                GRANTS,
                DOCUMENT,
                &["x-amz-bucket-object-lock-enabled", "x-amz-object-ownership"],
            ],
            false,
        ),
        // Every other write carries a document (tag set, configuration, legal hold, restore).
        op if op.starts_with("Put") || op == "RestoreObject" => (&[CHECKSUMS, DOCUMENT], false),
        _ => (&[], false),
    }
}

/// The headers forwarded for `operation`: the client's headers filtered through its allowlist,
/// `aws-chunked` removed from `Content-Encoding` (the gateway decodes that envelope itself).
pub fn forwarded(operation: &str, from: &HeaderMap) -> Result<HeaderMap, ClassifyError> {
    let (lists, metadata) = allowed(operation);
    let mut out = HeaderMap::with_capacity(from.len());
    for (name, value) in from {
        let n = name.as_str();
        if VENDOR_COMMANDS.iter().any(|p| n.starts_with(p)) {
            return Err(invalid_argument(
                n,
                format!("The header '{n}' is a backend control header; this gateway refuses it"),
            ));
        }
        if CONSUMED.contains(&n) {
            continue;
        }
        let is_metadata = n.starts_with("x-amz-meta-") && n.len() > "x-amz-meta-".len();
        let listed =
            ANY.contains(&n) || lists.iter().any(|l| l.contains(&n)) || (metadata && is_metadata);
        if listed {
            if n == "content-encoding" {
                if let Some(v) = without_aws_chunked(value) {
                    out.append(name.clone(), v);
                }
                continue;
            }
            out.append(name.clone(), value.clone());
        } else if n.starts_with("x-amz-") {
            return Err(invalid_argument(
                n,
                format!("The header '{n}' is not valid for {operation} through this gateway"),
            ));
        }
        // Any other header (accept, user-agent, origin, …) is read by no S3 operation: dropped.
    }
    Ok(out)
}

/// `Content-Encoding` without the `aws-chunked` coding (`None` if nothing else is left).
fn without_aws_chunked(value: &HeaderValue) -> Option<HeaderValue> {
    let text = value.to_str().ok()?;
    let rest: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    if rest.is_empty() {
        return None;
    }
    HeaderValue::from_str(&rest.join(",")).ok()
}

/// Replaces `name` with `value` (used for headers the gateway re-serialises).
pub fn set(headers: &mut HeaderMap, name: &'static str, value: &str) -> Result<(), ClassifyError> {
    let v = HeaderValue::from_str(value)
        .map_err(|_| invalid_argument(name, format!("The header '{name}' is not valid")))?;
    headers.insert(HeaderName::from_static(name), v);
    Ok(())
}
