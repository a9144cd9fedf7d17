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
use super::operations::{self, Extra, Facts, Operation, Scope};
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
    refuse_repeated_headers(headers)?;
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

    let copy_source = copy_source(headers)?;
    if let Some(source) = &copy_source {
        keys.push(("s3:x-amz-copy-source", source.condition_value()));
    }
    let kw = one_keyword(&keywords)?;
    if has("partNumber")
        && kw != Some("uploadId")
        && !(matches!(method, "GET" | "HEAD") && kw.is_none() && target.key.is_some())
    {
        return Err(invalid(
            "partNumber is only valid together with uploadId, or on GET and HEAD of an object",
        ));
    }

    let scope = match (&target.bucket, &target.key) {
        (None, _) => Scope::Service,
        (Some(_), None) => Scope::Bucket,
        (Some(_), Some(_)) => Scope::Object,
    };
    let facts = Facts {
        copy_source: copy_source.is_some(),
        part_number: has("partNumber"),
        list_type: get("list-type"),
        select_type: get("select-type"),
    };
    let row = match operations::find(scope, method, kw, &facts) {
        Some(row) => *row,
        None => no_row(scope, method, kw, get("list-type"))?,
    };
    let inputs = Inputs {
        target,
        headers,
        query,
        version,
        copy_source: copy_source.as_ref(),
    };
    let mut classified = build(&row, &inputs, keys);
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

/// A header given twice could be read as the first by one party and the last by another:
/// a repeated `x-amz-*` or `Range` header is refused.
fn refuse_repeated_headers(headers: &HeaderMap) -> Result<(), ClassifyError> {
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
    Ok(())
}

/// The request's one sub-resource keyword, if any; several select different operations.
fn one_keyword<'k>(keywords: &[&'k str]) -> Result<Option<&'k str>, ClassifyError> {
    match keywords {
        [] => Ok(None),
        [k] => Ok(Some(*k)),
        _ => Err(invalid(format!(
            "Ambiguous request: several sub-resources ({}) select different operations",
            keywords.join(", ")
        ))),
    }
}

/// The parsed `x-amz-copy-source`, if the request has one.
fn copy_source(headers: &HeaderMap) -> Result<Option<CopySource>, ClassifyError> {
    match headers.get("x-amz-copy-source") {
        None => Ok(None),
        Some(v) => match v.to_str() {
            Ok(raw) => Ok(Some(CopySource::parse(raw)?)),
            Err(_) => Err(invalid_argument(
                "x-amz-copy-source",
                "x-amz-copy-source is not valid ASCII",
            )),
        },
    }
}

/// A bucket configuration operation (its own table), or the refusal of a request no row of the
/// operation table matches.
fn no_row(
    scope: Scope,
    method: &str,
    kw: Option<&str>,
    list_type: Option<&str>,
) -> Result<Operation, ClassifyError> {
    let config = kw.and_then(|k| BUCKET_CONFIG.iter().find(|(name, _)| *name == k));
    match (scope, method, kw) {
        (Scope::Bucket, "GET", None) if list_type.is_some() => {
            Err(invalid_argument("list-type", "list-type must be 2"))
        }
        (Scope::Bucket, _, Some(_)) if config.is_some() => {
            let ops = config.map(|(_, ops)| ops).expect("checked above");
            let slot = match method {
                "GET" => ops[0],
                "PUT" => ops[1],
                "DELETE" => ops[2],
                _ => None,
            };
            let (name, action) = slot.ok_or_else(method_not_allowed)?;
            Ok(Operation {
                scope,
                method: "",
                keyword: None,
                when: operations::When::Always,
                name,
                action: operations::Action::Fixed(action),
                extras: &[],
            })
        }
        // A browser upload (PostObject) is served before classification when its body is a
        // form; any other POST to a bucket is one that is not.
        (Scope::Bucket, "POST", None) => Err(ClassifyError {
            code: "MalformedPOSTRequest",
            message: "The body of your POST request is not well-formed multipart/form-data.".into(),
            argument: None,
        }),
        (Scope::Bucket | Scope::Object, _, Some(k)) => Err(invalid(format!(
            "The sub-resource '{k}' is not supported by this gateway for {method} on {}",
            if scope == Scope::Bucket {
                "a bucket"
            } else {
                "an object"
            }
        ))),
        _ => Err(method_not_allowed()),
    }
}

/// What building a classified request from its row reads.
struct Inputs<'a> {
    target: &'a Target,
    headers: &'a HeaderMap,
    query: &'a [(String, String)],
    version: Option<&'a str>,
    copy_source: Option<&'a CopySource>,
}

/// The classified request of a table row: its action on its resource, then its extras.
fn build(row: &Operation, i: &Inputs<'_>, keys: Vec<(&'static str, String)>) -> Classified {
    let resource = match (row.scope, &i.target.bucket, &i.target.key) {
        (Scope::Service, _, _) => "arn:aws:s3:::*".to_string(),
        (Scope::Bucket, Some(b), _) => format!("arn:aws:s3:::{b}"),
        (Scope::Object, Some(b), Some(k)) => format!("arn:aws:s3:::{b}/{k}"),
        _ => String::new(),
    };
    let action = match row.action {
        operations::Action::Fixed(a) => Some(a),
        operations::Action::Versioned(plain, versioned) => Some(if i.version.is_some() {
            versioned
        } else {
            plain
        }),
        operations::Action::PerKey => None,
    };
    let mut c = Classified {
        operation: row.name,
        checks: action
            .map(|action| {
                vec![Check {
                    action,
                    resource: resource.clone(),
                }]
            })
            .unwrap_or_default(),
        condition_keys: keys,
        per_key_delete: row.action == operations::Action::PerKey,
        target: i.target.clone(),
        params: Vec::new(),
        headers: HeaderMap::new(),
    };
    for extra in row.extras {
        apply(*extra, &mut c, &resource, i);
    }
    c
}

/// Adds one of a row's extras to the classified request.
fn apply(extra: Extra, c: &mut Classified, resource: &str, i: &Inputs<'_>) {
    let headers = i.headers;
    let also = |c: &mut Classified, action: &'static str, resource: &str| {
        c.checks.push(Check {
            action,
            resource: resource.to_string(),
        })
    };
    let acl = || {
        headers.contains_key("x-amz-acl")
            || headers
                .keys()
                .any(|k| k.as_str().starts_with("x-amz-grant-"))
    };
    match extra {
        Extra::ListKeys => {
            for (key, name) in [
                ("s3:prefix", "prefix"),
                ("s3:delimiter", "delimiter"),
                ("s3:max-keys", "max-keys"),
            ] {
                if let Some((_, v)) = i.query.iter().find(|(k, _)| k == name) {
                    c.condition_keys.push((key, v.clone()));
                }
            }
        }
        Extra::NewObject => {
            if acl() {
                also(c, "s3:PutObjectAcl", resource);
            }
            if headers.contains_key("x-amz-tagging") {
                also(c, "s3:PutObjectTagging", resource);
            }
            if headers.contains_key("x-amz-object-lock-mode")
                || headers.contains_key("x-amz-object-lock-retain-until-date")
            {
                also(c, "s3:PutObjectRetention", resource);
            }
            if headers.contains_key("x-amz-object-lock-legal-hold") {
                also(c, "s3:PutObjectLegalHold", resource);
            }
        }
        Extra::NewBucket => {
            if acl() {
                also(c, "s3:PutBucketAcl", resource);
            }
            if headers
                .get("x-amz-bucket-object-lock-enabled")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
            {
                also(c, "s3:PutBucketObjectLockConfiguration", resource);
                also(c, "s3:PutBucketVersioning", resource);
            }
            if headers.contains_key("x-amz-object-ownership") {
                also(c, "s3:PutBucketOwnershipControls", resource);
            }
        }
        Extra::SourceRead => {
            if let Some(source) = i.copy_source {
                let action = if source.version_id.is_some() {
                    "s3:GetObjectVersion"
                } else {
                    "s3:GetObject"
                };
                also(c, action, &source.arn());
            }
        }
        Extra::CopiedTags => copied_tags(
            c,
            i.copy_source,
            headers
                .get("x-amz-tagging-directive")
                .and_then(|v| v.to_str().ok()),
        ),
        Extra::Bypass => {
            if bypasses_governance(headers) {
                also(c, "s3:BypassGovernanceRetention", resource);
            }
        }
    }
}

/// CopyObject copies the source's tags unless `x-amz-tagging-directive: REPLACE` (COPY is the
/// default): as on S3, that reads the source's tags and writes the destination's, so it needs
/// `s3:GetObjectTagging` (`s3:GetObjectVersionTagging` for a source version) on the source and
/// `s3:PutObjectTagging` on the destination.
fn copied_tags(c: &mut Classified, source: Option<&CopySource>, directive: Option<&str>) {
    let Some(source) = source else { return };
    // Only S3's exact value skips the checks: a backend that reads another spelling as COPY
    // would otherwise copy tags nobody was authorized for.
    if directive == Some("REPLACE") {
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
