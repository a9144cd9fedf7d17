//! The query parameters each S3 operation may carry, and their values.
//!
//! The backend gets only these, rebuilt by the gateway: a parameter that the operation does not
//! take is refused, never passed on. MinIO, for one, reads `x-amz-*` query parameters as if they
//! were headers (`?x-amz-tagging=` would tag an object without `s3:PutObjectTagging`), and
//! honours `versionId` on a PUT.

use super::error::{ClassifyError, invalid_argument};

/// Presigned-URL authentication: consumed by the signature check, never forwarded.
pub const PRESIGN_PARAMS: &[&str] = &[
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
    "X-Amz-Content-Sha256",
];

/// Client-side hints that select nothing on the server (aws-sdk-rust's `x-id=GetObject`): accepted
/// on any operation, never forwarded.
const CLIENT_HINTS: &[&str] = &["x-id"];

/// The six `response-*` overrides S3 takes on GetObject and HeadObject.
const RESPONSE_OVERRIDES: &[&str] = &[
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
];

const LIST_V1: &[&str] = &["prefix", "delimiter", "marker", "max-keys", "encoding-type"];
const LIST_V2: &[&str] = &[
    "list-type",
    "prefix",
    "delimiter",
    "continuation-token",
    "start-after",
    "fetch-owner",
    "max-keys",
    "encoding-type",
];
const LIST_VERSIONS: &[&str] = &[
    "versions",
    "prefix",
    "delimiter",
    "key-marker",
    "version-id-marker",
    "max-keys",
    "encoding-type",
];
const LIST_UPLOADS: &[&str] = &[
    "uploads",
    "prefix",
    "delimiter",
    "key-marker",
    "upload-id-marker",
    "max-uploads",
    "encoding-type",
];
const LIST_BUCKETS: &[&str] = &[
    "max-buckets",
    "continuation-token",
    "prefix",
    "bucket-region",
];

/// The parameters `operation` takes besides the `response-*` overrides. The sub-resource keyword
/// that selected the operation is always among them.
fn operation_params(operation: &str) -> &'static [&'static str] {
    match operation {
        "ListBuckets" => LIST_BUCKETS,
        "ListObjects" => LIST_V1,
        "ListObjectsV2" => LIST_V2,
        "ListObjectVersions" => LIST_VERSIONS,
        "ListMultipartUploads" => LIST_UPLOADS,
        "GetObject" | "HeadObject" => &["versionId", "partNumber"],
        "DeleteObject" => &["versionId"],
        "CreateMultipartUpload" => &["uploads"],
        "UploadPart" | "UploadPartCopy" => &["uploadId", "partNumber"],
        "CompleteMultipartUpload" | "AbortMultipartUpload" => &["uploadId"],
        "ListParts" => &[
            "uploadId",
            "max-parts",
            "part-number-marker",
            "encoding-type",
        ],
        "GetObjectTagging" | "PutObjectTagging" | "DeleteObjectTagging" => {
            &["tagging", "versionId"]
        }
        "GetObjectAcl" | "PutObjectAcl" => &["acl", "versionId"],
        "GetObjectRetention" | "PutObjectRetention" => &["retention", "versionId"],
        "GetObjectLegalHold" | "PutObjectLegalHold" => &["legal-hold", "versionId"],
        "GetObjectAttributes" => &["attributes", "versionId"],
        "SelectObjectContent" => &["select", "select-type"],
        "RestoreObject" => &["restore", "versionId"],
        "DeleteObjects" => &["delete"],
        "GetBucketLocation" => &["location"],
        "GetBucketPolicyStatus" => &["policyStatus"],
        _ => match super::subresources::bucket_config_keyword(operation) {
            Some(keyword) => std::slice::from_ref(keyword),
            None => &[],
        },
    }
}

/// Every parameter name the gateway knows (for an error that says "not for this operation"
/// rather than "unknown").
fn is_known(name: &str) -> bool {
    super::subresources::KEYWORDS.contains(&name)
        || RESPONSE_OVERRIDES.contains(&name)
        || [LIST_V1, LIST_V2, LIST_VERSIONS, LIST_UPLOADS, LIST_BUCKETS]
            .iter()
            .any(|l| l.contains(&name))
        || matches!(
            name,
            "versionId"
                | "partNumber"
                | "max-parts"
                | "part-number-marker"
                | "select-type"
                | "uploadId"
        )
}

/// Refuses what no operation takes, before the operation is known: `x-amz-*` names in any case
/// (other than the presign parameters), unknown names, control characters, repeated names.
pub fn check_names(query: &[(String, String)]) -> Result<(), ClassifyError> {
    for (i, (name, value)) in query.iter().enumerate() {
        let shown = printable(name);
        if name.chars().chain(value.chars()).any(char::is_control) {
            return Err(invalid_argument(
                &shown,
                format!("The query parameter '{shown}' contains a control character"),
            ));
        }
        if query[..i].iter().any(|(n, _)| n == name) {
            return Err(invalid_argument(
                &shown,
                format!("The query parameter '{shown}' is given more than once"),
            ));
        }
        if PRESIGN_PARAMS.contains(&name.as_str()) || CLIENT_HINTS.contains(&name.as_str()) {
            continue;
        }
        if name.to_ascii_lowercase().starts_with("x-amz-") {
            return Err(invalid_argument(
                &shown,
                format!(
                    "The query parameter '{shown}' is not accepted: x-amz-* values must be sent as signed headers"
                ),
            ));
        }
        if !is_known(name) {
            return Err(invalid_argument(
                &shown,
                format!("The query parameter '{shown}' is not supported by this gateway"),
            ));
        }
    }
    Ok(())
}

/// The parameters forwarded for `operation`, checked: every other name is refused (the presign
/// parameters and client hints are dropped), and values that S3 types are validated.
pub fn forwarded(
    operation: &str,
    method: &str,
    query: &[(String, String)],
) -> Result<Vec<(&'static str, String)>, ClassifyError> {
    let allowed = operation_params(operation);
    let overrides: &[&'static str] = if matches!(operation, "GetObject" | "HeadObject") {
        RESPONSE_OVERRIDES
    } else {
        &[]
    };
    let mut out = Vec::with_capacity(query.len());
    for (name, value) in query {
        if PRESIGN_PARAMS.contains(&name.as_str()) || CLIENT_HINTS.contains(&name.as_str()) {
            continue;
        }
        let Some(&known) = allowed
            .iter()
            .chain(overrides.iter())
            .find(|n| **n == name.as_str())
        else {
            let shown = printable(name);
            return Err(invalid_argument(
                &shown,
                if name == "versionId" && matches!(method, "PUT" | "POST") {
                    format!(
                        "versionId is not accepted on {method} ({operation}): an object version cannot be chosen when writing"
                    )
                } else {
                    format!("The query parameter '{shown}' is not valid for {operation}")
                },
            ));
        };
        check_value(known, value)?;
        out.push((known, value.clone()));
    }
    Ok(out)
}

fn check_value(name: &'static str, value: &str) -> Result<(), ClassifyError> {
    let bad = |what: &str| {
        Err(invalid_argument(
            name,
            format!("The value of the query parameter '{name}' {what}"),
        ))
    };
    let number = |max: u64| value.parse::<u64>().ok().filter(|n| *n <= max);
    match name {
        // Sub-resource keywords carry no value (`?tagging` or `?tagging=`).
        _ if super::subresources::KEYWORDS.contains(&name) && name != "uploadId" => {
            if value.is_empty() {
                Ok(())
            } else {
                bad("must be empty")
            }
        }
        "uploadId" | "versionId" if value.is_empty() => bad("must not be empty"),
        "partNumber" => match number(10_000) {
            Some(n) if n >= 1 => Ok(()),
            _ => bad("must be an integer from 1 to 10000"),
        },
        "max-keys" | "max-parts" | "max-uploads" | "max-buckets" | "part-number-marker" => {
            match number(u64::from(u32::MAX)) {
                Some(_) => Ok(()),
                None => bad("must be a non-negative integer"),
            }
        }
        "list-type" if value != "2" => bad("must be 2"),
        "encoding-type" if value != "url" => bad("must be url"),
        "fetch-owner" if !matches!(value, "true" | "false") => bad("must be true or false"),
        "select-type" if value != "2" => bad("must be 2"),
        // Listings name keys too: a prefix or marker must not reach what a key may not.
        "prefix" | "marker" | "start-after" | "key-marker" => {
            super::address::check_reserved(name, value)
        }
        _ => Ok(()),
    }
}

/// A name as it may appear in an error message: printable ASCII, at most 64 characters.
fn printable(name: &str) -> String {
    name.chars()
        .take(64)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}
