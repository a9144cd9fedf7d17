//! The S3 operation table: which operation a request is, by where it points (service, bucket,
//! object), its method, its sub-resource keyword and a few conditions, and the IAM action and
//! extra checks it needs. `classify` reads it; the README's operation list is checked against it
//! (`tests/readme_operations.rs`). Bucket configuration sub-resources (tagging, policy, cors, …)
//! have a table of their own ([`super::subresources`]).

/// Where an operation points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Service,
    Bucket,
    Object,
}

/// What a row needs besides scope, method and keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Always,
    /// An `x-amz-copy-source` header.
    CopySource,
    NoCopySource,
    /// `partNumber` with a copy source (UploadPartCopy) or without (UploadPart).
    PartCopy,
    Part,
    /// `list-type=2`, or no `list-type` at all.
    ListV2,
    ListV1,
    /// `select-type=2`.
    SelectV2,
}

/// How a row's IAM action is picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Fixed(&'static str),
    /// The first without `versionId`, the second with one.
    Versioned(&'static str, &'static str),
    /// The checks come from the body (DeleteObjects: one per key).
    PerKey,
}

/// Checks (or condition keys) a row adds to its action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extra {
    /// `s3:prefix`, `s3:delimiter`, `s3:max-keys` from the query.
    ListKeys,
    /// A new object's ACL, tags, retention and legal hold (`s3:PutObjectAcl`, …).
    NewObject,
    /// A new bucket's ACL, object lock and ownership.
    NewBucket,
    /// Reading the copy source (`s3:GetObject[Version]` on it).
    SourceRead,
    /// The copy source's tags, unless replaced.
    CopiedTags,
    /// `s3:BypassGovernanceRetention` when the request asks to bypass governance mode.
    Bypass,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    pub scope: Scope,
    pub method: &'static str,
    pub keyword: Option<&'static str>,
    pub when: When,
    /// The S3 operation name (`GetObject`, `ListObjectsV2`, …).
    pub name: &'static str,
    pub action: Action,
    pub extras: &'static [Extra],
}

const fn op(
    scope: Scope,
    method: &'static str,
    keyword: Option<&'static str>,
    when: When,
    name: &'static str,
    action: Action,
    extras: &'static [Extra],
) -> Operation {
    Operation {
        scope,
        method,
        keyword,
        when,
        name,
        action,
        extras,
    }
}

use Action::{Fixed, PerKey, Versioned};
use Extra::*;
use Scope::{Bucket, Object, Service};
use When::*;

/// Every operation except the bucket configuration ones, first match wins.
#[rustfmt::skip]
pub const OPERATIONS: &[Operation] = &[
    op(Service, "GET", None, Always, "ListBuckets", Fixed("s3:ListAllMyBuckets"), &[]),
    op(Bucket, "PUT", None, Always, "CreateBucket", Fixed("s3:CreateBucket"), &[NewBucket]),
    op(Bucket, "DELETE", None, Always, "DeleteBucket", Fixed("s3:DeleteBucket"), &[]),
    op(Bucket, "HEAD", None, Always, "HeadBucket", Fixed("s3:ListBucket"), &[]),
    op(Bucket, "GET", None, ListV2, "ListObjectsV2", Fixed("s3:ListBucket"), &[ListKeys]),
    op(Bucket, "GET", None, ListV1, "ListObjects", Fixed("s3:ListBucket"), &[ListKeys]),
    op(Bucket, "GET", Some("versions"), Always, "ListObjectVersions", Fixed("s3:ListBucketVersions"), &[ListKeys]),
    op(Bucket, "GET", Some("uploads"), Always, "ListMultipartUploads", Fixed("s3:ListBucketMultipartUploads"), &[]),
    op(Bucket, "GET", Some("location"), Always, "GetBucketLocation", Fixed("s3:GetBucketLocation"), &[]),
    op(Bucket, "GET", Some("policyStatus"), Always, "GetBucketPolicyStatus", Fixed("s3:GetBucketPolicyStatus"), &[]),
    op(Bucket, "POST", Some("delete"), Always, "DeleteObjects", PerKey, &[]),
    op(Object, "GET", None, Always, "GetObject", Versioned("s3:GetObject", "s3:GetObjectVersion"), &[]),
    op(Object, "HEAD", None, Always, "HeadObject", Versioned("s3:GetObject", "s3:GetObjectVersion"), &[]),
    op(Object, "PUT", None, CopySource, "CopyObject", Fixed("s3:PutObject"), &[NewObject, SourceRead, CopiedTags]),
    op(Object, "PUT", None, NoCopySource, "PutObject", Fixed("s3:PutObject"), &[NewObject]),
    op(Object, "DELETE", None, Always, "DeleteObject", Versioned("s3:DeleteObject", "s3:DeleteObjectVersion"), &[Bypass]),
    op(Object, "POST", Some("uploads"), Always, "CreateMultipartUpload", Fixed("s3:PutObject"), &[NewObject]),
    op(Object, "PUT", Some("uploadId"), PartCopy, "UploadPartCopy", Fixed("s3:PutObject"), &[SourceRead]),
    op(Object, "PUT", Some("uploadId"), Part, "UploadPart", Fixed("s3:PutObject"), &[]),
    op(Object, "POST", Some("uploadId"), Always, "CompleteMultipartUpload", Fixed("s3:PutObject"), &[]),
    op(Object, "DELETE", Some("uploadId"), Always, "AbortMultipartUpload", Fixed("s3:AbortMultipartUpload"), &[]),
    op(Object, "GET", Some("uploadId"), Always, "ListParts", Fixed("s3:ListMultipartUploadParts"), &[]),
    op(Object, "GET", Some("tagging"), Always, "GetObjectTagging", Versioned("s3:GetObjectTagging", "s3:GetObjectVersionTagging"), &[]),
    op(Object, "PUT", Some("tagging"), Always, "PutObjectTagging", Versioned("s3:PutObjectTagging", "s3:PutObjectVersionTagging"), &[]),
    op(Object, "DELETE", Some("tagging"), Always, "DeleteObjectTagging", Versioned("s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"), &[]),
    op(Object, "GET", Some("acl"), Always, "GetObjectAcl", Versioned("s3:GetObjectAcl", "s3:GetObjectVersionAcl"), &[]),
    op(Object, "PUT", Some("acl"), Always, "PutObjectAcl", Versioned("s3:PutObjectAcl", "s3:PutObjectVersionAcl"), &[]),
    op(Object, "GET", Some("retention"), Always, "GetObjectRetention", Fixed("s3:GetObjectRetention"), &[]),
    op(Object, "PUT", Some("retention"), Always, "PutObjectRetention", Fixed("s3:PutObjectRetention"), &[Bypass]),
    op(Object, "GET", Some("legal-hold"), Always, "GetObjectLegalHold", Fixed("s3:GetObjectLegalHold"), &[]),
    op(Object, "PUT", Some("legal-hold"), Always, "PutObjectLegalHold", Fixed("s3:PutObjectLegalHold"), &[]),
    op(Object, "GET", Some("attributes"), Always, "GetObjectAttributes", Versioned("s3:GetObjectAttributes", "s3:GetObjectVersionAttributes"), &[]),
    op(Object, "POST", Some("select"), SelectV2, "SelectObjectContent", Fixed("s3:GetObject"), &[]),
    op(Object, "POST", Some("restore"), Always, "RestoreObject", Fixed("s3:RestoreObject"), &[]),
];

/// The facts of a request the table's conditions read.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub copy_source: bool,
    pub part_number: bool,
    pub list_type: Option<&'a str>,
    pub select_type: Option<&'a str>,
}

impl When {
    fn holds(self, f: &Facts<'_>) -> bool {
        match self {
            When::Always => true,
            When::CopySource => f.copy_source,
            When::NoCopySource => !f.copy_source,
            When::PartCopy => f.part_number && f.copy_source,
            When::Part => f.part_number && !f.copy_source,
            When::ListV2 => f.list_type == Some("2"),
            When::ListV1 => f.list_type.is_none(),
            When::SelectV2 => f.select_type == Some("2"),
        }
    }
}

/// The row a request matches, if any.
pub fn find(
    scope: Scope,
    method: &str,
    keyword: Option<&str>,
    facts: &Facts<'_>,
) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|o| {
        o.scope == scope && o.method == method && o.keyword == keyword && o.when.holds(facts)
    })
}

/// Every operation name the gateway classifies: this table's and the bucket configuration
/// table's (for the README's list and its test).
pub fn names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = OPERATIONS.iter().map(|o| o.name).collect();
    names.extend(super::subresources::config_operation_names());
    names
}

/// The README's list of operations, generated from the tables (`README.md` holds it between
/// the `operations` markers; a test checks the two are the same).
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| operation | request | IAM action (checked on the bucket or object ARN) |\n|---|---|---|\n",
    );
    let target = |scope: Scope| match scope {
        Scope::Service => "/",
        Scope::Bucket => "/bucket",
        Scope::Object => "/bucket/key",
    };
    for o in OPERATIONS {
        let request = format!(
            "`{} {}{}`{}",
            o.method,
            target(o.scope),
            o.keyword.map(|k| format!("?{k}")).unwrap_or_default(),
            match o.when {
                When::Always => "",
                When::CopySource => " with `x-amz-copy-source`",
                When::NoCopySource => "",
                When::PartCopy => " with `partNumber` and `x-amz-copy-source`",
                When::Part => " with `partNumber`",
                When::ListV2 => " with `list-type=2`",
                When::ListV1 => "",
                When::SelectV2 => " with `select-type=2`",
            }
        );
        let action = match o.action {
            Action::Fixed(a) => format!("`{a}`"),
            Action::Versioned(a, v) => format!("`{a}` (`{v}` with `versionId`)"),
            Action::PerKey => "`s3:DeleteObject[Version]` per key in the body".to_string(),
        };
        out.push_str(&format!("| {} | {request} | {action} |\n", o.name));
    }
    for (keyword, ops) in super::subresources::BUCKET_CONFIG {
        for (method, slot) in ["GET", "PUT", "DELETE"].iter().zip(ops.iter()) {
            if let Some((name, action)) = slot {
                out.push_str(&format!(
                    "| {name} | `{method} /bucket?{keyword}` | `{action}` |\n"
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_readme_lists_exactly_the_operations_of_the_table() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
            .expect("README.md");
        let begin = "<!-- operations:begin -->\n";
        let listed = readme
            .split_once(begin)
            .and_then(|(_, rest)| rest.split_once("<!-- operations:end -->"))
            .map(|(table, _)| table)
            .expect("README.md has the operations markers");
        let generated = super::markdown_table();
        assert!(
            listed == generated,
            "README.md's operation list is not the table's; put this between the markers:\n{generated}"
        );
        let mut names = super::names();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "an operation name appears twice");
    }
}
