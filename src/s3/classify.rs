//! From an S3 REST request to the IAM action(s), resource ARN(s) and request condition keys it
//! needs (spec sigv4-s3.md §6). Pure: method, host, path, decoded query and headers in.
//!
//! Requests whose sub-resources could be read as different operations are refused with
//! `InvalidRequest`: the gateway must never authorize one action while the backend performs
//! another (MinIO and s3s disagree on several such combinations).

use http::HeaderMap;

use crate::sigv4::encoding::percent_decode;

/// Where a request points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub bucket: Option<String>,
    /// The decoded object key (`None` for bucket and service requests).
    pub key: Option<String>,
}

/// One authorization a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub action: &'static str,
    pub resource: String,
}

/// A classified request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    /// The S3 operation name (`GetObject`, `ListObjectsV2`, …).
    pub operation: &'static str,
    /// Every check must pass.
    pub checks: Vec<Check>,
    /// Request-derived condition keys, in addition to the global ones.
    pub condition_keys: Vec<(&'static str, String)>,
    /// DeleteObjects: the body names the keys, each needing `s3:DeleteObject[Version]`.
    pub per_key_delete: bool,
}

/// Why a request could not be classified (always refused; `InvalidRequest` 400 unless noted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassifyError {
    pub code: &'static str,
    pub message: String,
}

fn invalid(message: impl Into<String>) -> ClassifyError {
    ClassifyError {
        code: "InvalidRequest",
        message: message.into(),
    }
}

/// Sub-resource keywords that select an operation.
const KEYWORDS: &[&str] = &[
    "acl",
    "attributes",
    "cors",
    "delete",
    "encryption",
    "legal-hold",
    "lifecycle",
    "location",
    "logging",
    "notification",
    "object-lock",
    "policy",
    "policyStatus",
    "publicAccessBlock",
    "ownershipControls",
    "replication",
    "requestPayment",
    "restore",
    "retention",
    "select",
    "tagging",
    "torrent",
    "uploads",
    "versioning",
    "versions",
    "website",
    "accelerate",
    "analytics",
    "inventory",
    "metrics",
    "intelligent-tiering",
    "uploadId",
];

/// Parameters that never change the operation.
fn is_neutral(name: &str) -> bool {
    matches!(
        name,
        "versionId"
            | "partNumber"
            | "select-type"
            | "list-type"
            | "prefix"
            | "delimiter"
            | "max-keys"
            | "marker"
            | "continuation-token"
            | "start-after"
            | "fetch-owner"
            | "encoding-type"
            | "key-marker"
            | "version-id-marker"
            | "upload-id-marker"
            | "max-uploads"
            | "max-parts"
            | "part-number-marker"
            | "x-id"
            | "id"
    ) || name.starts_with("response-")
        || name.starts_with("X-Amz-")
        || name.starts_with("x-amz-")
}

/// Splits host and path into bucket and key. `public_hosts` enable virtual-hosted style
/// (`<bucket>.<host>`); otherwise the first path segment is the bucket.
pub fn address(
    host: Option<&str>,
    path: &str,
    public_hosts: &[String],
) -> Result<Target, ClassifyError> {
    // The bucket segment must read the same whether a backend splits the path before or after
    // decoding it. (In a virtual-hosted request the first segment belongs to the key.)
    let raw_first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    let host_name = host.map(|h| h.split(':').next().unwrap_or("").to_ascii_lowercase());
    let virtual_hosted = host_name.as_deref().is_some_and(|h| {
        public_hosts
            .iter()
            .any(|b| h.len() > b.len() + 1 && h.ends_with(&format!(".{b}")))
    });
    if raw_first.contains('%') && !virtual_hosted {
        return Err(ClassifyError {
            code: "InvalidBucketName",
            message: "The bucket name in the path must not be percent-encoded".into(),
        });
    }
    let decoded = percent_decode(path.as_bytes(), false)
        .map_err(|_| invalid("The request path contains an invalid percent-encoding"))?;
    let decoded =
        String::from_utf8(decoded).map_err(|_| invalid("The request path is not valid UTF-8"))?;
    let host = host.map(|h| {
        h.rsplit_once(':')
            .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
            .map_or(h, |(h, _)| h)
            .to_ascii_lowercase()
    });
    let virtual_bucket = host.as_deref().and_then(|h| {
        public_hosts.iter().find_map(|base| {
            h.strip_suffix(base.as_str())
                .and_then(|b| b.strip_suffix('.'))
                .filter(|b| !b.is_empty())
        })
    });
    let rest = decoded.strip_prefix('/').unwrap_or(&decoded);
    let (bucket, key) = match virtual_bucket {
        Some(b) => (Some(b.to_string()), rest),
        None => match rest.split_once('/') {
            Some((b, k)) => (Some(b.to_string()), k),
            None if rest.is_empty() => (None, ""),
            None => (Some(rest.to_string()), ""),
        },
    };
    if let Some(b) = &bucket
        && (b.len() < 3
            || b.len() > 63
            || !b
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-'))
    {
        return Err(ClassifyError {
            code: "InvalidBucketName",
            message: format!("The specified bucket is not valid: {b}"),
        });
    }
    if key.len() > 1024 {
        return Err(ClassifyError {
            code: "KeyTooLongError",
            message: "Your key is too long".into(),
        });
    }
    Ok(Target {
        bucket,
        key: (!key.is_empty()).then(|| key.to_string()),
    })
}

/// Classifies a request. `query` holds decoded (name, value) pairs.
pub fn classify(
    method: &str,
    target: &Target,
    query: &[(String, String)],
    headers: &HeaderMap,
) -> Result<Classified, ClassifyError> {
    let has = |name: &str| query.iter().any(|(k, _)| k == name);
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let keywords: Vec<&str> = query
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| KEYWORDS.contains(k))
        .collect();
    for (name, _) in query {
        if !KEYWORDS.contains(&name.as_str()) && !is_neutral(name) {
            return Err(invalid(format!(
                "The query parameter '{name}' is not supported by this gateway"
            )));
        }
    }
    // A repeated parameter could be read differently by the backend than here.
    for (i, (name, _)) in query.iter().enumerate() {
        if query[..i].iter().any(|(n, _)| n == name) {
            return Err(invalid(format!(
                "The query parameter '{name}' is given more than once"
            )));
        }
    }
    let mut distinct = keywords.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() != keywords.len() {
        return Err(invalid("A sub-resource parameter is given more than once"));
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let version = get("versionId");
    let mut keys: Vec<(&'static str, String)> = Vec::new();
    if let Some(v) = version {
        keys.push(("s3:VersionId", v.to_string()));
    }
    let mut add_header_key = |key: &'static str, header_name: &str| {
        if let Some(v) = header(header_name) {
            keys.push((key, v.to_string()));
        }
    };
    for (key, h) in [
        ("s3:x-amz-acl", "x-amz-acl"),
        ("s3:x-amz-grant-read", "x-amz-grant-read"),
        ("s3:x-amz-grant-write", "x-amz-grant-write"),
        ("s3:x-amz-grant-read-acp", "x-amz-grant-read-acp"),
        ("s3:x-amz-grant-write-acp", "x-amz-grant-write-acp"),
        ("s3:x-amz-grant-full-control", "x-amz-grant-full-control"),
        (
            "s3:x-amz-server-side-encryption",
            "x-amz-server-side-encryption",
        ),
        (
            "s3:x-amz-server-side-encryption-aws-kms-key-id",
            "x-amz-server-side-encryption-aws-kms-key-id",
        ),
        ("s3:x-amz-storage-class", "x-amz-storage-class"),
        (
            "s3:x-amz-website-redirect-location",
            "x-amz-website-redirect-location",
        ),
        ("s3:x-amz-metadata-directive", "x-amz-metadata-directive"),
        ("s3:x-amz-copy-source", "x-amz-copy-source"),
        ("s3:x-amz-content-sha256", "x-amz-content-sha256"),
        ("s3:object-lock-mode", "x-amz-object-lock-mode"),
        (
            "s3:object-lock-retain-until-date",
            "x-amz-object-lock-retain-until-date",
        ),
        ("s3:object-lock-legal-hold", "x-amz-object-lock-legal-hold"),
    ] {
        add_header_key(key, h);
    }

    let service_arn = "arn:aws:s3:::*".to_string();
    let bucket_arn = target.bucket.as_ref().map(|b| format!("arn:aws:s3:::{b}"));
    let object_arn = match (&target.bucket, &target.key) {
        (Some(b), Some(k)) => Some(format!("arn:aws:s3:::{b}/{k}")),
        _ => None,
    };
    let one = |operation: &'static str,
               action: &'static str,
               resource: &Option<String>,
               keys: Vec<(&'static str, String)>| Classified {
        operation,
        checks: vec![Check {
            action,
            resource: resource.clone().unwrap_or_default(),
        }],
        condition_keys: keys,
        per_key_delete: false,
    };
    let versioned = |plain: &'static str, with_version: &'static str| {
        if version.is_some() {
            with_version
        } else {
            plain
        }
    };
    let copy_source = header("x-amz-copy-source");
    let kw = match keywords.as_slice() {
        [] => None,
        [k] => Some(*k),
        // The documented pair: UploadPart / UploadPartCopy / ListParts carry uploadId alone.
        _ => {
            return Err(invalid(format!(
                "Ambiguous request: several sub-resources ({}) select different operations",
                keywords.join(", ")
            )));
        }
    };
    if (has("partNumber")) && kw != Some("uploadId") {
        return Err(invalid("partNumber is only valid together with uploadId"));
    }

    let classified = match (&target.bucket, &target.key) {
        (None, _) => match (method, kw) {
            ("GET", None) => one(
                "ListBuckets",
                "s3:ListAllMyBuckets",
                &Some(service_arn),
                keys,
            ),
            _ => {
                return Err(ClassifyError {
                    code: "MethodNotAllowed",
                    message: "The specified method is not allowed against this resource.".into(),
                });
            }
        },
        (Some(_), None) => {
            let list_keys = |mut keys: Vec<(&'static str, String)>| {
                for (k, name) in [
                    ("s3:prefix", "prefix"),
                    ("s3:delimiter", "delimiter"),
                    ("s3:max-keys", "max-keys"),
                ] {
                    if let Some(v) = get(name) {
                        keys.push((k, v.to_string()));
                    }
                }
                keys
            };
            let config = |get_action: &'static str,
                          put_action: &'static str,
                          delete_action: &'static str,
                          name: &'static str|
             -> Result<Classified, ClassifyError> {
                let (op, action): (&'static str, &'static str) = match method {
                    "GET" => (name, get_action),
                    "PUT" => (name, put_action),
                    "DELETE" => (name, delete_action),
                    _ => {
                        return Err(ClassifyError {
                            code: "MethodNotAllowed",
                            message: "The specified method is not allowed against this resource."
                                .into(),
                        });
                    }
                };
                Ok(one(op, action, &bucket_arn, keys.clone()))
            };
            match (method, kw) {
                ("PUT", None) => {
                    let mut c = one("CreateBucket", "s3:CreateBucket", &bucket_arn, keys.clone());
                    if header("x-amz-acl").is_some()
                        || headers
                            .keys()
                            .any(|k| k.as_str().starts_with("x-amz-grant-"))
                    {
                        c.checks.push(Check {
                            action: "s3:PutBucketAcl",
                            resource: bucket_arn.clone().unwrap_or_default(),
                        });
                    }
                    if header("x-amz-bucket-object-lock-enabled")
                        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
                    {
                        c.checks.push(Check {
                            action: "s3:PutBucketObjectLockConfiguration",
                            resource: bucket_arn.clone().unwrap_or_default(),
                        });
                        c.checks.push(Check {
                            action: "s3:PutBucketVersioning",
                            resource: bucket_arn.clone().unwrap_or_default(),
                        });
                    }
                    if header("x-amz-object-ownership").is_some() {
                        c.checks.push(Check {
                            action: "s3:PutBucketOwnershipControls",
                            resource: bucket_arn.clone().unwrap_or_default(),
                        });
                    }
                    c
                }
                ("DELETE", None) => one("DeleteBucket", "s3:DeleteBucket", &bucket_arn, keys),
                ("HEAD", None) => one("HeadBucket", "s3:ListBucket", &bucket_arn, keys),
                ("GET", None) if get("list-type") == Some("2") => one(
                    "ListObjectsV2",
                    "s3:ListBucket",
                    &bucket_arn,
                    list_keys(keys),
                ),
                ("GET", None) if get("list-type").is_none() => {
                    one("ListObjects", "s3:ListBucket", &bucket_arn, list_keys(keys))
                }
                ("GET", None) => return Err(invalid("list-type must be 2")),
                ("GET", Some("versions")) => one(
                    "ListObjectVersions",
                    "s3:ListBucketVersions",
                    &bucket_arn,
                    list_keys(keys),
                ),
                ("GET", Some("uploads")) => one(
                    "ListMultipartUploads",
                    "s3:ListBucketMultipartUploads",
                    &bucket_arn,
                    keys,
                ),
                ("GET", Some("location")) => one(
                    "GetBucketLocation",
                    "s3:GetBucketLocation",
                    &bucket_arn,
                    keys,
                ),
                ("GET", Some("policyStatus")) => one(
                    "GetBucketPolicyStatus",
                    "s3:GetBucketPolicyStatus",
                    &bucket_arn,
                    keys,
                ),
                ("POST", Some("delete")) => Classified {
                    operation: "DeleteObjects",
                    checks: vec![],
                    condition_keys: keys,
                    per_key_delete: true,
                },
                (_, Some("tagging")) => config(
                    "s3:GetBucketTagging",
                    "s3:PutBucketTagging",
                    "s3:PutBucketTagging",
                    "BucketTagging",
                )?,
                (_, Some("versioning")) if method != "DELETE" => config(
                    "s3:GetBucketVersioning",
                    "s3:PutBucketVersioning",
                    "",
                    "BucketVersioning",
                )?,
                (_, Some("policy")) => config(
                    "s3:GetBucketPolicy",
                    "s3:PutBucketPolicy",
                    "s3:DeleteBucketPolicy",
                    "BucketPolicy",
                )?,
                (_, Some("acl")) if method != "DELETE" => {
                    config("s3:GetBucketAcl", "s3:PutBucketAcl", "", "BucketAcl")?
                }
                (_, Some("lifecycle")) => config(
                    "s3:GetLifecycleConfiguration",
                    "s3:PutLifecycleConfiguration",
                    "s3:PutLifecycleConfiguration",
                    "BucketLifecycle",
                )?,
                (_, Some("cors")) => config(
                    "s3:GetBucketCORS",
                    "s3:PutBucketCORS",
                    "s3:PutBucketCORS",
                    "BucketCors",
                )?,
                (_, Some("encryption")) => config(
                    "s3:GetEncryptionConfiguration",
                    "s3:PutEncryptionConfiguration",
                    "s3:PutEncryptionConfiguration",
                    "BucketEncryption",
                )?,
                (_, Some("notification")) if method != "DELETE" => config(
                    "s3:GetBucketNotification",
                    "s3:PutBucketNotification",
                    "",
                    "BucketNotification",
                )?,
                (_, Some("object-lock")) if method != "DELETE" => config(
                    "s3:GetBucketObjectLockConfiguration",
                    "s3:PutBucketObjectLockConfiguration",
                    "",
                    "ObjectLockConfiguration",
                )?,
                (_, Some("replication")) => config(
                    "s3:GetReplicationConfiguration",
                    "s3:PutReplicationConfiguration",
                    "s3:PutReplicationConfiguration",
                    "BucketReplication",
                )?,
                (_, Some("website")) => config(
                    "s3:GetBucketWebsite",
                    "s3:PutBucketWebsite",
                    "s3:DeleteBucketWebsite",
                    "BucketWebsite",
                )?,
                (_, Some("logging")) if method != "DELETE" => config(
                    "s3:GetBucketLogging",
                    "s3:PutBucketLogging",
                    "",
                    "BucketLogging",
                )?,
                (_, Some("publicAccessBlock")) => config(
                    "s3:GetBucketPublicAccessBlock",
                    "s3:PutBucketPublicAccessBlock",
                    "s3:PutBucketPublicAccessBlock",
                    "PublicAccessBlock",
                )?,
                (_, Some("ownershipControls")) => config(
                    "s3:GetBucketOwnershipControls",
                    "s3:PutBucketOwnershipControls",
                    "s3:PutBucketOwnershipControls",
                    "BucketOwnershipControls",
                )?,
                (_, Some("accelerate")) if method != "DELETE" => config(
                    "s3:GetAccelerateConfiguration",
                    "s3:PutAccelerateConfiguration",
                    "",
                    "BucketAccelerate",
                )?,
                (_, Some("requestPayment")) if method != "DELETE" => config(
                    "s3:GetBucketRequestPayment",
                    "s3:PutBucketRequestPayment",
                    "",
                    "BucketRequestPayment",
                )?,
                ("POST", None) => {
                    return Err(ClassifyError {
                        code: "NotImplemented",
                        message:
                            "Browser POST uploads (PostObject) are not supported by this gateway"
                                .into(),
                    });
                }
                (_, Some(k)) => {
                    return Err(invalid(format!(
                        "The sub-resource '{k}' is not supported by this gateway for {method} on a bucket"
                    )));
                }
                _ => {
                    return Err(ClassifyError {
                        code: "MethodNotAllowed",
                        message: "The specified method is not allowed against this resource."
                            .into(),
                    });
                }
            }
        }
        (Some(_), Some(_)) => {
            let put_addons = |c: &mut Classified| {
                let arn = object_arn.clone().unwrap_or_default();
                if header("x-amz-acl").is_some()
                    || headers
                        .keys()
                        .any(|k| k.as_str().starts_with("x-amz-grant-"))
                {
                    c.checks.push(Check {
                        action: "s3:PutObjectAcl",
                        resource: arn.clone(),
                    });
                }
                if header("x-amz-tagging").is_some() {
                    c.checks.push(Check {
                        action: "s3:PutObjectTagging",
                        resource: arn.clone(),
                    });
                }
                if header("x-amz-object-lock-mode").is_some()
                    || header("x-amz-object-lock-retain-until-date").is_some()
                {
                    c.checks.push(Check {
                        action: "s3:PutObjectRetention",
                        resource: arn.clone(),
                    });
                }
                if header("x-amz-object-lock-legal-hold").is_some() {
                    c.checks.push(Check {
                        action: "s3:PutObjectLegalHold",
                        resource: arn,
                    });
                }
            };
            // Deleting or shortening object-lock retention in governance mode needs this too.
            let bypass_addon = |c: &mut Classified| {
                if header("x-amz-bypass-governance-retention")
                    .is_some_and(|v| v.eq_ignore_ascii_case("true"))
                {
                    c.checks.push(Check {
                        action: "s3:BypassGovernanceRetention",
                        resource: object_arn.clone().unwrap_or_default(),
                    });
                }
            };
            let source = |c: &mut Classified| -> Result<(), ClassifyError> {
                let raw = copy_source.unwrap_or_default();
                let (path, source_version) = match raw.split_once("?versionId=") {
                    Some((p, v)) => (p, Some(v)),
                    None => (raw, None),
                };
                let decoded = percent_decode(path.trim_start_matches('/').as_bytes(), false)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok());
                let Some((bucket, key)) = decoded
                    .as_deref()
                    .and_then(|d| d.split_once('/'))
                    .filter(|(b, k)| !b.is_empty() && !k.is_empty())
                else {
                    return Err(invalid(
                        "x-amz-copy-source must be <bucket>/<key>[?versionId=<id>]",
                    ));
                };
                let action = if source_version.is_some() {
                    "s3:GetObjectVersion"
                } else {
                    "s3:GetObject"
                };
                c.checks.push(Check {
                    action,
                    resource: format!("arn:aws:s3:::{bucket}/{key}"),
                });
                Ok(())
            };
            match (method, kw) {
                ("GET", None) => one(
                    "GetObject",
                    versioned("s3:GetObject", "s3:GetObjectVersion"),
                    &object_arn,
                    keys,
                ),
                ("HEAD", None) => one(
                    "HeadObject",
                    versioned("s3:GetObject", "s3:GetObjectVersion"),
                    &object_arn,
                    keys,
                ),
                ("PUT", None) if copy_source.is_some() => {
                    let mut c = one("CopyObject", "s3:PutObject", &object_arn, keys);
                    put_addons(&mut c);
                    source(&mut c)?;
                    c
                }
                ("PUT", None) => {
                    let mut c = one("PutObject", "s3:PutObject", &object_arn, keys);
                    put_addons(&mut c);
                    c
                }
                ("DELETE", None) => {
                    let mut c = one(
                        "DeleteObject",
                        versioned("s3:DeleteObject", "s3:DeleteObjectVersion"),
                        &object_arn,
                        keys,
                    );
                    bypass_addon(&mut c);
                    c
                }
                ("POST", Some("uploads")) => {
                    let mut c = one("CreateMultipartUpload", "s3:PutObject", &object_arn, keys);
                    put_addons(&mut c);
                    c
                }
                ("PUT", Some("uploadId")) if has("partNumber") && copy_source.is_some() => {
                    let mut c = one("UploadPartCopy", "s3:PutObject", &object_arn, keys);
                    source(&mut c)?;
                    c
                }
                ("PUT", Some("uploadId")) if has("partNumber") => {
                    one("UploadPart", "s3:PutObject", &object_arn, keys)
                }
                ("POST", Some("uploadId")) => {
                    one("CompleteMultipartUpload", "s3:PutObject", &object_arn, keys)
                }
                ("DELETE", Some("uploadId")) => one(
                    "AbortMultipartUpload",
                    "s3:AbortMultipartUpload",
                    &object_arn,
                    keys,
                ),
                ("GET", Some("uploadId")) => one(
                    "ListParts",
                    "s3:ListMultipartUploadParts",
                    &object_arn,
                    keys,
                ),
                ("GET", Some("tagging")) => one(
                    "GetObjectTagging",
                    versioned("s3:GetObjectTagging", "s3:GetObjectVersionTagging"),
                    &object_arn,
                    keys,
                ),
                ("PUT", Some("tagging")) => one(
                    "PutObjectTagging",
                    versioned("s3:PutObjectTagging", "s3:PutObjectVersionTagging"),
                    &object_arn,
                    keys,
                ),
                ("DELETE", Some("tagging")) => one(
                    "DeleteObjectTagging",
                    versioned("s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"),
                    &object_arn,
                    keys,
                ),
                ("GET", Some("acl")) => one(
                    "GetObjectAcl",
                    versioned("s3:GetObjectAcl", "s3:GetObjectVersionAcl"),
                    &object_arn,
                    keys,
                ),
                ("PUT", Some("acl")) => one(
                    "PutObjectAcl",
                    versioned("s3:PutObjectAcl", "s3:PutObjectVersionAcl"),
                    &object_arn,
                    keys,
                ),
                ("GET", Some("retention")) => one(
                    "GetObjectRetention",
                    "s3:GetObjectRetention",
                    &object_arn,
                    keys,
                ),
                ("PUT", Some("retention")) => {
                    let mut c = one(
                        "PutObjectRetention",
                        "s3:PutObjectRetention",
                        &object_arn,
                        keys,
                    );
                    bypass_addon(&mut c);
                    c
                }
                ("GET", Some("legal-hold")) => one(
                    "GetObjectLegalHold",
                    "s3:GetObjectLegalHold",
                    &object_arn,
                    keys,
                ),
                ("PUT", Some("legal-hold")) => one(
                    "PutObjectLegalHold",
                    "s3:PutObjectLegalHold",
                    &object_arn,
                    keys,
                ),
                ("GET", Some("attributes")) => one(
                    "GetObjectAttributes",
                    versioned("s3:GetObjectAttributes", "s3:GetObjectVersionAttributes"),
                    &object_arn,
                    keys,
                ),
                ("POST", Some("select")) if get("select-type") == Some("2") => {
                    one("SelectObjectContent", "s3:GetObject", &object_arn, keys)
                }
                ("POST", Some("restore")) => {
                    one("RestoreObject", "s3:RestoreObject", &object_arn, keys)
                }
                (_, Some(k)) => {
                    return Err(invalid(format!(
                        "The sub-resource '{k}' is not supported by this gateway for {method} on an object"
                    )));
                }
                _ => {
                    return Err(ClassifyError {
                        code: "MethodNotAllowed",
                        message: "The specified method is not allowed against this resource."
                            .into(),
                    });
                }
            }
        }
    };
    Ok(classified)
}

#[cfg(test)]
mod tests;
