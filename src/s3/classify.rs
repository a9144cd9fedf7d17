//! From an S3 REST request to the IAM action(s), resource ARN(s) and request condition keys it
//! needs (spec sigv4-s3.md §6). Pure: method, host, path, decoded query and headers in.
//!
//! Requests whose sub-resources could be read as different operations are refused with
//! `InvalidRequest`: the gateway must never authorize one action while the backend performs
//! another (MinIO and s3s disagree on several such combinations).

use http::HeaderMap;

use super::address::Target;
use super::copy_source::CopySource;
use super::error::{ClassifyError, invalid, invalid_argument, method_not_allowed};
use super::subresources::{BUCKET_CONFIG, KEYWORDS};

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
    /// Where the request points (decoded bucket and key).
    pub target: Target,
    /// The operation's own query parameters (decoded, in the order received): all the backend
    /// gets.
    pub params: Vec<(&'static str, String)>,
    /// The headers the backend gets (before the gateway's signature), from the operation's
    /// allowlist; `x-amz-copy-source` re-serialised.
    pub headers: HeaderMap,
}
/// Headers whose value is a request condition key (all `x-amz-*`, so always signed).
const HEADER_CONDITION_KEYS: &[(&str, &str)] = &[
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
    ("s3:object-lock-mode", "x-amz-object-lock-mode"),
    (
        "s3:object-lock-retain-until-date",
        "x-amz-object-lock-retain-until-date",
    ),
    ("s3:object-lock-legal-hold", "x-amz-object-lock-legal-hold"),
];

/// Classifies a request into the typed request the backend will get. `query` holds the decoded
/// (name, value) pairs of the request as received; `headers` the client's headers.
pub fn classify(
    method: &str,
    target: &Target,
    query: &[(String, String)],
    headers: &HeaderMap,
) -> Result<Classified, ClassifyError> {
    super::params::check_names(query)?;
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
    // A header given twice could be read as the first by one party and the last by another.
    for name in headers.keys() {
        if headers.get_all(name).iter().nth(1).is_some()
            && (name.as_str().starts_with("x-amz-") || name == http::header::RANGE)
        {
            return Err(invalid_argument(
                name.as_str(),
                format!("The header '{name}' is given more than once"),
            ));
        }
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let version = get("versionId");
    let mut keys: Vec<(&'static str, String)> = Vec::new();
    if let Some(v) = version {
        keys.push(("s3:VersionId", v.to_string()));
    }
    for (key, h) in HEADER_CONDITION_KEYS {
        if let Some(v) = header(h) {
            keys.push((key, v.to_string()));
        }
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
        target: target.clone(),
        params: Vec::new(),
        headers: HeaderMap::new(),
    };
    let versioned = |plain: &'static str, with_version: &'static str| {
        if version.is_some() {
            with_version
        } else {
            plain
        }
    };
    let copy_source = match header("x-amz-copy-source") {
        Some(raw) => Some(CopySource::parse(raw)?),
        None if headers.contains_key("x-amz-copy-source") => {
            return Err(invalid_argument(
                "x-amz-copy-source",
                "x-amz-copy-source is not valid ASCII",
            ));
        }
        None => None,
    };
    if let Some(source) = &copy_source {
        keys.push(("s3:x-amz-copy-source", source.condition_value()));
    }
    let kw = match keywords.as_slice() {
        [] => None,
        [k] => Some(*k),
        _ => {
            return Err(invalid(format!(
                "Ambiguous request: several sub-resources ({}) select different operations",
                keywords.join(", ")
            )));
        }
    };
    if has("partNumber")
        && kw != Some("uploadId")
        && !(matches!(method, "GET" | "HEAD") && kw.is_none() && target.key.is_some())
    {
        return Err(invalid(
            "partNumber is only valid together with uploadId, or on GET and HEAD of an object",
        ));
    }

    let mut classified = match (&target.bucket, &target.key) {
        (None, _) => match (method, kw) {
            ("GET", None) => one(
                "ListBuckets",
                "s3:ListAllMyBuckets",
                &Some(service_arn),
                keys,
            ),
            _ => return Err(method_not_allowed()),
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
            let config = kw.and_then(|k| BUCKET_CONFIG.iter().find(|(name, _)| *name == k));
            match (method, kw) {
                ("PUT", None) => {
                    let mut c = one("CreateBucket", "s3:CreateBucket", &bucket_arn, keys.clone());
                    let mut also = |action| {
                        c.checks.push(Check {
                            action,
                            resource: bucket_arn.clone().unwrap_or_default(),
                        })
                    };
                    if header("x-amz-acl").is_some()
                        || headers
                            .keys()
                            .any(|k| k.as_str().starts_with("x-amz-grant-"))
                    {
                        also("s3:PutBucketAcl");
                    }
                    if header("x-amz-bucket-object-lock-enabled")
                        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
                    {
                        also("s3:PutBucketObjectLockConfiguration");
                        also("s3:PutBucketVersioning");
                    }
                    if header("x-amz-object-ownership").is_some() {
                        also("s3:PutBucketOwnershipControls");
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
                ("GET", None) => return Err(invalid_argument("list-type", "list-type must be 2")),
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
                    checks: vec![],
                    per_key_delete: true,
                    ..one("DeleteObjects", "", &None, keys)
                },
                (_, Some(_)) if config.is_some() => {
                    let ops = config.map(|(_, ops)| ops).expect("checked above");
                    let slot = match method {
                        "GET" => ops[0],
                        "PUT" => ops[1],
                        "DELETE" => ops[2],
                        _ => None,
                    };
                    let Some((op, action)) = slot else {
                        return Err(method_not_allowed());
                    };
                    one(op, action, &bucket_arn, keys)
                }
                ("POST", None) => {
                    return Err(ClassifyError {
                        code: "NotImplemented",
                        message:
                            "Browser POST uploads (PostObject) are not supported by this gateway"
                                .into(),
                        argument: None,
                    });
                }
                (_, Some(k)) => {
                    return Err(invalid(format!(
                        "The sub-resource '{k}' is not supported by this gateway for {method} on a bucket"
                    )));
                }
                _ => return Err(method_not_allowed()),
            }
        }
        (Some(_), Some(_)) => {
            let put_addons = |c: &mut Classified| {
                let arn = object_arn.clone().unwrap_or_default();
                let mut also = |action| {
                    c.checks.push(Check {
                        action,
                        resource: arn.clone(),
                    })
                };
                if header("x-amz-acl").is_some()
                    || headers
                        .keys()
                        .any(|k| k.as_str().starts_with("x-amz-grant-"))
                {
                    also("s3:PutObjectAcl");
                }
                if headers.contains_key("x-amz-tagging") {
                    also("s3:PutObjectTagging");
                }
                if headers.contains_key("x-amz-object-lock-mode")
                    || headers.contains_key("x-amz-object-lock-retain-until-date")
                {
                    also("s3:PutObjectRetention");
                }
                if headers.contains_key("x-amz-object-lock-legal-hold") {
                    also("s3:PutObjectLegalHold");
                }
            };
            // Deleting or shortening object-lock retention in governance mode needs this too.
            let bypass_addon = |c: &mut Classified| {
                if bypasses_governance(headers) {
                    c.checks.push(Check {
                        action: "s3:BypassGovernanceRetention",
                        resource: object_arn.clone().unwrap_or_default(),
                    });
                }
            };
            let source = |c: &mut Classified| {
                let source = copy_source
                    .as_ref()
                    .expect("only called with a copy source");
                c.checks.push(Check {
                    action: if source.version_id.is_some() {
                        "s3:GetObjectVersion"
                    } else {
                        "s3:GetObject"
                    },
                    resource: source.arn(),
                });
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
                    source(&mut c);
                    copied_tags(
                        &mut c,
                        copy_source.as_ref(),
                        header("x-amz-tagging-directive"),
                    );
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
                    source(&mut c);
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
                _ => return Err(method_not_allowed()),
            }
        }
    };
    // The typed request: only the operation's own parameters and headers go on.
    classified.params = super::params::forwarded(classified.operation, method, query)?;
    classified.headers = super::headers::forwarded(classified.operation, headers)?;
    if let Some(source) = &copy_source {
        super::headers::set(
            &mut classified.headers,
            "x-amz-copy-source",
            &source.to_header(),
        )?;
    }
    Ok(classified)
}

/// CopyObject copies the source's tags unless `x-amz-tagging-directive: REPLACE` (COPY is the
/// default): as on S3, that reads the source's tags and writes the destination's, so it needs
/// `s3:GetObjectTagging` (`s3:GetObjectVersionTagging` for a source version) on the source and
/// `s3:PutObjectTagging` on the destination.
fn copied_tags(c: &mut Classified, source: Option<&CopySource>, directive: Option<&str>) {
    let Some(source) = source else { return };
    if directive.is_some_and(|d| d.trim().eq_ignore_ascii_case("REPLACE")) {
        return;
    }
    let destination = c.checks[0].resource.clone();
    c.checks.push(Check {
        action: if source.version_id.is_some() {
            "s3:GetObjectVersionTagging"
        } else {
            "s3:GetObjectTagging"
        },
        resource: source.arn(),
    });
    if !c.checks.iter().any(|k| k.action == "s3:PutObjectTagging") {
        c.checks.push(Check {
            action: "s3:PutObjectTagging",
            resource: destination,
        });
    }
}

/// `x-amz-bypass-governance-retention: true` (S3 reads the value case-insensitively).
pub fn bypasses_governance(headers: &HeaderMap) -> bool {
    headers
        .get("x-amz-bypass-governance-retention")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

#[cfg(test)]
mod tests;
