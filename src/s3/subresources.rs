//! Sub-resource keywords and the bucket configuration operations they select (one table of
//! keyword → Get/Put/Delete operation and IAM action), and the ones the gateway does not forward.

use super::error::ClassifyError;

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

/// Bucket sub-resources read, written and removed with GET, PUT and DELETE: the keyword and,
/// Bucket sub-resources read, written and removed with GET, PUT and DELETE: the keyword and,
/// per method, the S3 operation and IAM action (`None`: the method is not allowed).
pub(crate) type ConfigOps = [Option<(&'static str, &'static str)>; 3];
pub(crate) const BUCKET_CONFIG: &[(&str, ConfigOps)] = &[
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

/// Every operation name of the bucket configuration table.
pub fn config_operation_names() -> impl Iterator<Item = &'static str> {
    BUCKET_CONFIG
        .iter()
        .flat_map(|(_, ops)| ops.iter().flatten().map(|(name, _)| *name))
}
