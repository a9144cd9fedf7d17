//! Where an S3 request points: the host's one reading, bucket and key from host and path
//! (path and virtual-hosted style), and the names S3 or a backend would read differently or
//! reserve (S3's bucket naming rules, backend admin "buckets", backend-internal key parts).

use super::error::{ClassifyError, invalid, invalid_argument};
use crate::sigv4::encoding::percent_decode;

/// Where a request points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub bucket: Option<String>,
    /// The decoded object key (`None` for bucket and service requests).
    pub key: Option<String>,
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
    for (part, why) in RESERVED_KEY_PARTS {
        let found = value
            .as_bytes()
            .windows(part.len())
            .any(|w| w.eq_ignore_ascii_case(part.as_bytes()));
        if found {
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
