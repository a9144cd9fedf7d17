//! From an S3 REST request to the IAM action(s), resource ARN(s) and request condition keys it
//! needs (spec sigv4-s3.md §6). Pure: method, host, path, decoded query and headers in.
//!
//! Requests whose sub-resources could be read as different operations are refused with
//! `InvalidRequest`: the gateway must never authorize one action while the backend performs
//! another (MinIO and s3s disagree on several such combinations).

use http::HeaderMap;

use super::copy_source::CopySource;
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
    /// Where the request points (decoded bucket and key).
    pub target: Target,
    /// The operation's own query parameters (decoded, in the order received): all the backend
    /// gets.
    pub params: Vec<(&'static str, String)>,
    /// The headers the backend gets (before the gateway's signature), from the operation's
    /// allowlist; `x-amz-copy-source` re-serialised.
    pub headers: HeaderMap,
}

/// Why a request could not be classified (always refused; `InvalidRequest` 400 unless noted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassifyError {
    pub code: &'static str,
    pub message: String,
    /// `InvalidArgument`: the header or parameter at fault (S3's `<ArgumentName>`).
    pub argument: Option<String>,
}

pub(crate) fn invalid(message: impl Into<String>) -> ClassifyError {
    ClassifyError {
        code: "InvalidRequest",
        message: message.into(),
        argument: None,
    }
}

fn method_not_allowed() -> ClassifyError {
    ClassifyError {
        code: "MethodNotAllowed",
        message: "The specified method is not allowed against this resource.".into(),
        argument: None,
    }
}

/// S3's `InvalidArgument`, naming the header or parameter (never echoing its value).
pub(crate) fn invalid_argument(name: &str, message: impl Into<String>) -> ClassifyError {
    ClassifyError {
        code: "InvalidArgument",
        message: message.into(),
        argument: Some(name.to_string()),
    }
}

/// Parts of a key that a supported backend gives a meaning inside its own key space, and why
/// (the README's "Names backends reserve" has what was looked for in each backend's source).
/// Compared ignoring ASCII case (MinIO compares case-insensitively on some platforms).
pub const RESERVED_KEY_PARTS: &[(&str, &str)] = &[(
    "__XLDIR__",
    "MinIO stores a folder object 'X/' as 'X__XLDIR__', so such a key names another object",
)];

/// The refusal of a key, prefix or marker that contains a [`RESERVED_KEY_PARTS`] entry; `what`
/// names the parameter or header (`key` for an object key).
pub fn check_reserved(what: &str, value: &str) -> Result<(), ClassifyError> {
    let lower = value.to_ascii_lowercase();
    for (part, why) in RESERVED_KEY_PARTS {
        if lower.contains(&part.to_ascii_lowercase()) {
            return Err(invalid_argument(
                what,
                format!("The {what} contains '{part}', which this gateway refuses: {why}"),
            ));
        }
    }
    Ok(())
}

/// Refuses an object key that a backend could read as another key: empty segments (`a//b`,
/// a leading `/`), `.` and `..` segments (s3s-fs resolves them on its file system, Garage trims
/// leading slashes), and control characters. A trailing `/` (a folder marker) is allowed.
/// `key` is decoded: percent-encoded forms (`%2e%2e`, `..%2f`) were decoded once before this.
pub fn check_key(key: &str) -> Result<(), ClassifyError> {
    if key.len() > 1024 {
        return Err(ClassifyError {
            code: "KeyTooLongError",
            message: "Your key is too long".into(),
            argument: None,
        });
    }
    if key.chars().any(char::is_control) {
        return Err(invalid(
            "The object key contains a control character; this gateway refuses such keys",
        ));
    }
    check_reserved("key", key)?;
    let segments: Vec<&str> = key.split('/').collect();
    let last = segments.len() - 1;
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "" if i == last && i > 0 => {}
            "" => {
                return Err(invalid(
                    "The object key has an empty path segment (a leading '/' or '//'); this gateway refuses keys that backends read differently",
                ));
            }
            "." | ".." => {
                return Err(invalid(
                    "The object key has a '.' or '..' segment; this gateway refuses keys that backends read differently",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Sub-resource keywords that select an operation.
pub(crate) const KEYWORDS: &[&str] = &[
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

/// Bucket names that a supported backend reserves for its own APIs: MinIO serves its admin API
/// (`/minio/admin/…`, authorized by the credentials stsgate re-signs with), metrics, health and
/// internode RPC under `/minio/`; Ceph's radosgw its admin API under `/admin/` (its
/// `rgw_admin_entry`), Swift under `/swift/` and Swift auth under `/auth/`. A request for such a
/// "bucket" is never an S3 request.
pub const RESERVED_BUCKETS: &[&str] = &["minio", "admin", "swift", "auth"];

/// Prefixes and suffixes S3 reserves in bucket names (for IDN, S3 access points and aliases,
/// directory and table buckets, Multi-Region Access Points and documentation examples).
const RESERVED_BUCKET_PREFIXES: &[&str] = &["xn--", "sthree-", "amzn-s3-demo-"];
const RESERVED_BUCKET_SUFFIXES: &[&str] = &["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

fn invalid_bucket(message: String) -> ClassifyError {
    ClassifyError {
        code: "InvalidBucketName",
        message,
        argument: None,
    }
}

/// Refuses a bucket name S3 would not accept, with S3's general-purpose naming rules: 3 to 63
/// lower-case letters, digits, `.` and `-`, starting and ending with a letter or digit, no `..`,
/// not shaped like an IPv4 address, none of S3's reserved prefixes and suffixes; and names a
/// backend reserves ([`RESERVED_BUCKETS`]).
pub fn check_bucket(b: &str) -> Result<(), ClassifyError> {
    if RESERVED_BUCKETS.contains(&b) {
        return Err(invalid_bucket(format!(
            "The bucket name '{b}' is reserved: a backend serves its own administration API under it"
        )));
    }
    let printable = || {
        b.chars()
            .take(64)
            .map(|c| if c.is_ascii_graphic() { c } else { '?' })
            .collect::<String>()
    };
    let edge_ok = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if b.len() < 3
        || b.len() > 63
        || !b
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
        || !edge_ok(b.bytes().next())
        || !edge_ok(b.bytes().last())
        || b.contains("..")
    {
        return Err(invalid_bucket(format!(
            "The specified bucket is not valid: {}",
            printable()
        )));
    }
    if b.parse::<std::net::Ipv4Addr>().is_ok()
        || (b.split('.').count() == 4
            && b.split('.').all(|p| p.bytes().all(|c| c.is_ascii_digit())))
    {
        return Err(invalid_bucket(format!(
            "The specified bucket is not valid: {} (a bucket name must not be an IP address)",
            printable()
        )));
    }
    if let Some(r) = RESERVED_BUCKET_PREFIXES.iter().find(|p| b.starts_with(**p)) {
        return Err(invalid_bucket(format!(
            "The specified bucket is not valid: {} (S3 reserves the prefix '{r}')",
            printable()
        )));
    }
    if let Some(r) = RESERVED_BUCKET_SUFFIXES.iter().find(|p| b.ends_with(**p)) {
        return Err(invalid_bucket(format!(
            "The specified bucket is not valid: {} (S3 reserves the suffix '{r}')",
            printable()
        )));
    }
    Ok(())
}

/// A host's name without its port, lower-cased: the one reading of the host that addressing
/// uses. A port is `:` and digits at the end; an IPv6 literal keeps its brackets.
pub fn host_name(host: &str) -> String {
    host_without_port(host).to_ascii_lowercase()
}

/// A host without its port (`:` and digits at the end; an IPv6 literal keeps its brackets), as
/// written. Routing, addressing and everything else read the port this one way.
pub fn host_without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |i| &host[..=i]);
    }
    host.rsplit_once(':')
        .filter(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(h, _)| h)
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
    let host = host.map(host_name);
    let virtual_hosted = host.as_deref().is_some_and(|h| {
        public_hosts
            .iter()
            .any(|b| h.len() > b.len() + 1 && h.ends_with(&format!(".{b}")))
    });
    if raw_first.contains('%') && !virtual_hosted {
        return Err(ClassifyError {
            code: "InvalidBucketName",
            message: "The bucket name in the path must not be percent-encoded".into(),
            argument: None,
        });
    }
    let decoded = percent_decode(path.as_bytes(), false)
        .map_err(|_| invalid("The request path contains an invalid percent-encoding"))?;
    let decoded =
        String::from_utf8(decoded).map_err(|_| invalid("The request path is not valid UTF-8"))?;
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
    if let Some(b) = &bucket {
        check_bucket(b)?;
    }
    if !key.is_empty() {
        check_key(key)?;
    }
    Ok(Target {
        bucket,
        key: (!key.is_empty()).then(|| key.to_string()),
    })
}

/// Classifies a request. `query` holds decoded (name, value) pairs.
/// Bucket sub-resources read, written and removed with GET, PUT and DELETE: the keyword and,
/// per method, the S3 operation and IAM action (`None`: the method is not allowed).
type ConfigOps = [Option<(&'static str, &'static str)>; 3];
const BUCKET_CONFIG: &[(&str, ConfigOps)] = &[
    (
        "tagging",
        [
            Some(("GetBucketTagging", "s3:GetBucketTagging")),
            Some(("PutBucketTagging", "s3:PutBucketTagging")),
            Some(("DeleteBucketTagging", "s3:PutBucketTagging")),
        ],
    ),
    (
        "versioning",
        [
            Some(("GetBucketVersioning", "s3:GetBucketVersioning")),
            Some(("PutBucketVersioning", "s3:PutBucketVersioning")),
            None,
        ],
    ),
    (
        "policy",
        [
            Some(("GetBucketPolicy", "s3:GetBucketPolicy")),
            Some(("PutBucketPolicy", "s3:PutBucketPolicy")),
            Some(("DeleteBucketPolicy", "s3:DeleteBucketPolicy")),
        ],
    ),
    (
        "acl",
        [
            Some(("GetBucketAcl", "s3:GetBucketAcl")),
            Some(("PutBucketAcl", "s3:PutBucketAcl")),
            None,
        ],
    ),
    (
        "lifecycle",
        [
            Some((
                "GetBucketLifecycleConfiguration",
                "s3:GetLifecycleConfiguration",
            )),
            Some((
                "PutBucketLifecycleConfiguration",
                "s3:PutLifecycleConfiguration",
            )),
            Some(("DeleteBucketLifecycle", "s3:PutLifecycleConfiguration")),
        ],
    ),
    (
        "cors",
        [
            Some(("GetBucketCors", "s3:GetBucketCORS")),
            Some(("PutBucketCors", "s3:PutBucketCORS")),
            Some(("DeleteBucketCors", "s3:PutBucketCORS")),
        ],
    ),
    (
        "encryption",
        [
            Some(("GetBucketEncryption", "s3:GetEncryptionConfiguration")),
            Some(("PutBucketEncryption", "s3:PutEncryptionConfiguration")),
            Some(("DeleteBucketEncryption", "s3:PutEncryptionConfiguration")),
        ],
    ),
    (
        "notification",
        [
            Some((
                "GetBucketNotificationConfiguration",
                "s3:GetBucketNotification",
            )),
            Some((
                "PutBucketNotificationConfiguration",
                "s3:PutBucketNotification",
            )),
            None,
        ],
    ),
    (
        "object-lock",
        [
            Some((
                "GetObjectLockConfiguration",
                "s3:GetBucketObjectLockConfiguration",
            )),
            Some((
                "PutObjectLockConfiguration",
                "s3:PutBucketObjectLockConfiguration",
            )),
            None,
        ],
    ),
    (
        "replication",
        [
            Some(("GetBucketReplication", "s3:GetReplicationConfiguration")),
            Some(("PutBucketReplication", "s3:PutReplicationConfiguration")),
            Some(("DeleteBucketReplication", "s3:PutReplicationConfiguration")),
        ],
    ),
    (
        "website",
        [
            Some(("GetBucketWebsite", "s3:GetBucketWebsite")),
            Some(("PutBucketWebsite", "s3:PutBucketWebsite")),
            Some(("DeleteBucketWebsite", "s3:DeleteBucketWebsite")),
        ],
    ),
    (
        "logging",
        [
            Some(("GetBucketLogging", "s3:GetBucketLogging")),
            Some(("PutBucketLogging", "s3:PutBucketLogging")),
            None,
        ],
    ),
    (
        "publicAccessBlock",
        [
            Some(("GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock")),
            Some(("PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock")),
            Some(("DeletePublicAccessBlock", "s3:PutBucketPublicAccessBlock")),
        ],
    ),
    (
        "ownershipControls",
        [
            Some((
                "GetBucketOwnershipControls",
                "s3:GetBucketOwnershipControls",
            )),
            Some((
                "PutBucketOwnershipControls",
                "s3:PutBucketOwnershipControls",
            )),
            Some((
                "DeleteBucketOwnershipControls",
                "s3:PutBucketOwnershipControls",
            )),
        ],
    ),
    (
        "accelerate",
        [
            Some((
                "GetBucketAccelerateConfiguration",
                "s3:GetAccelerateConfiguration",
            )),
            Some((
                "PutBucketAccelerateConfiguration",
                "s3:PutAccelerateConfiguration",
            )),
            None,
        ],
    ),
    (
        "requestPayment",
        [
            Some(("GetBucketRequestPayment", "s3:GetBucketRequestPayment")),
            Some(("PutBucketRequestPayment", "s3:PutBucketRequestPayment")),
            None,
        ],
    ),
];

/// Bucket configuration operations the gateway refuses (`501 NotImplemented`), and why: their
/// bodies name other resources (a target bucket, a destination and an IAM role, a queue or
/// topic) that the gateway would have to authorize and does not read, or, for PutBucketWebsite,
/// they open the bucket to anonymous web serving outside every bucket policy on backends that
/// serve websites (Garage). Only PutBucketWebsite can be enabled, per backend
/// (`allow_bucket_website`). S3 Inventory, Analytics and Metrics configurations are not
/// classified at all (refused as unsupported sub-resources).
pub const OFF_BY_DEFAULT: &[(&str, &str)] = &[
    (
        "PutBucketLogging",
        "its TargetBucket would receive the backend's log objects without the gateway authorizing s3:PutObject there",
    ),
    (
        "PutBucketReplication",
        "its Destination bucket and IAM role are not authorized by the gateway (s3:ReplicateObject, iam:PassRole)",
    ),
    (
        "PutBucketNotificationConfiguration",
        "its queues, topics and functions are resources the gateway does not authorize",
    ),
    (
        "PutBucketWebsite",
        "a backend that serves bucket websites serves them anonymously, outside every bucket policy; a backend's allow_bucket_website enables it",
    ),
];

/// The refusal of an [`OFF_BY_DEFAULT`] operation, unless it is PutBucketWebsite and
/// `website_allowed`.
pub fn check_enabled(operation: &str, website_allowed: bool) -> Result<(), ClassifyError> {
    let Some((_, why)) = OFF_BY_DEFAULT.iter().find(|(op, _)| *op == operation) else {
        return Ok(());
    };
    if operation == "PutBucketWebsite" && website_allowed {
        return Ok(());
    }
    Err(ClassifyError {
        code: "NotImplemented",
        message: format!("{operation} is not forwarded by this gateway: {why}"),
        argument: None,
    })
}

/// The sub-resource keyword of a bucket configuration operation (`PutBucketTagging` → `tagging`).
pub(crate) fn bucket_config_keyword(operation: &str) -> Option<&'static &'static str> {
    BUCKET_CONFIG.iter().find_map(|(keyword, ops)| {
        ops.iter()
            .flatten()
            .any(|(op, _)| *op == operation)
            .then_some(keyword)
    })
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
