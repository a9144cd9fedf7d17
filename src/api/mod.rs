//! HTTP APIs behind the gateway (`kind = "http"` backends), authorized as API Gateway's
//! `execute-api:Invoke`. Pure: the canonical path, the resource ARN, and which request headers
//! pass. The HTTP side is in `server::api_http`.
//!
//! **One canonical path.** The path is read once: split on `/`, each segment percent-decoded.
//! A path that could be read two ways is refused, never normalised: empty segments (`//`),
//! `.` and `..` (also encoded, and with parameters such as `..;x=y`), `;` anywhere, `\`, an
//! encoded `/` or `\`, control characters, invalid percent-encoding or UTF-8. What is left is
//! authorized in decoded form and forwarded re-encoded by the gateway, so the policy check and
//! the backend see the same segments. A trailing `/` is kept as written in both.

pub mod method;

use http::HeaderName;

use crate::sigv4::encoding::uri_encode;

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathError(pub &'static str);

/// A request path in its one canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalPath {
    /// Decoded segments (no empty ones, except the last when the path ends in `/`).
    pub segments: Vec<String>,
}

impl CanonicalPath {
    /// Reads a raw request path (as sent, still percent-encoded).
    pub fn parse(raw: &str) -> Result<CanonicalPath, PathError> {
        let Some(rest) = raw.strip_prefix('/') else {
            return Err(PathError("the path must start with '/'"));
        };
        if raw.contains(['\\', '#', '?']) {
            return Err(PathError("the path contains '\\\\' or a fragment"));
        }
        if rest.is_empty() {
            return Ok(CanonicalPath {
                segments: Vec::new(),
            });
        }
        let raw_segments: Vec<&str> = rest.split('/').collect();
        let last = raw_segments.len() - 1;
        let mut segments = Vec::with_capacity(raw_segments.len());
        for (i, raw_segment) in raw_segments.iter().enumerate() {
            if raw_segment.is_empty() {
                if i == last {
                    segments.push(String::new());
                    continue;
                }
                return Err(PathError("the path has an empty segment ('//')"));
            }
            let decoded = decode_segment(raw_segment)?;
            if decoded.contains(['/', '\\', ';']) {
                return Err(PathError(
                    "a path segment contains an encoded '/' or '\\\\', or a ';'",
                ));
            }
            if decoded == "." || decoded == ".." {
                return Err(PathError("the path has a '.' or '..' segment"));
            }
            segments.push(decoded);
        }
        Ok(CanonicalPath { segments })
    }

    /// Removes a route's (canonical) prefix on a segment boundary; `None` if it does not match.
    pub fn strip_prefix(&self, prefix: &[String]) -> Option<CanonicalPath> {
        if self.segments.len() < prefix.len() || self.segments[..prefix.len()] != *prefix {
            return None;
        }
        Some(CanonicalPath {
            segments: self.segments[prefix.len()..].to_vec(),
        })
    }

    /// The decoded path without its leading `/`, as it appears in an `execute-api` ARN.
    pub fn arn_path(&self) -> String {
        self.segments.join("/")
    }

    /// The path the gateway sends: `base` (the backend URL's path) followed by the segments,
    /// each encoded by the gateway (unreserved characters only stay as they are).
    pub fn upstream(&self, base: &str) -> String {
        let mut out = base.trim_end_matches('/').to_string();
        for s in &self.segments {
            out.push('/');
            out.push_str(&uri_encode(s.as_bytes(), true));
        }
        if out.is_empty() {
            out.push('/');
        }
        out
    }
}

fn decode_segment(raw: &str) -> Result<String, PathError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or(PathError("the path has invalid percent-encoding"))?;
                out.push(hex);
                i += 3;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    let text = String::from_utf8(out).map_err(|_| PathError("the path is not UTF-8"))?;
    if text.chars().any(char::is_control) {
        return Err(PathError("the path contains control characters"));
    }
    Ok(text)
}

/// A configured `path_prefix` as segments, or `None` if it is not canonical (or ends in `/`).
pub fn canonical_prefix(prefix: &str) -> Option<Vec<String>> {
    if prefix == "/" {
        return Some(Vec::new());
    }
    if prefix.ends_with('/') || prefix.contains('%') {
        return None;
    }
    CanonicalPath::parse(prefix).ok().map(|p| p.segments)
}

/// `arn:{partition}:execute-api:{region}:{account}:{api_id}/{stage}/{METHOD}/{path}`.
pub fn invoke_arn(
    partition: &str,
    region: &str,
    account: &str,
    api_id: &str,
    stage: &str,
    method: &str,
    path: &CanonicalPath,
) -> String {
    format!(
        "arn:{partition}:execute-api:{region}:{account}:{api_id}/{stage}/{method}/{}",
        path.arn_path()
    )
}

/// Request headers passed to an HTTP API when present (plus each route's `forward_headers`).
/// Everything else the client sends is dropped; the gateway sets Host, Content-Length, the
/// identity headers and, for re-signed backends, the signature headers itself.
pub const STANDARD_FORWARDED: &[&str] = &[
    "accept",
    "accept-encoding",
    "accept-language",
    "cache-control",
    "content-encoding",
    "content-language",
    "content-type",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-unmodified-since",
    "pragma",
    "range",
    "user-agent",
    "x-request-id",
];

/// Headers no configuration may forward or use as an identity header: the gateway owns them.
pub fn is_reserved_header(name: &HeaderName) -> bool {
    let n = name.as_str();
    n.starts_with("x-amz-")
        || n.starts_with("proxy-")
        || matches!(
            n,
            "host"
                | "authorization"
                | "connection"
                | "keep-alive"
                | "te"
                | "trailer"
                | "transfer-encoding"
                | "upgrade"
                | "content-length"
                | "expect"
                | "forwarded"
                | "x-forwarded-for"
                | "x-forwarded-host"
                | "x-forwarded-proto"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> Vec<String> {
        CanonicalPath::parse(raw)
            .unwrap_or_else(|e| panic!("{raw}: {e:?}"))
            .segments
    }

    #[test]
    fn plain_and_encoded_segments_decode_once() {
        assert_eq!(ok("/"), Vec::<String>::new());
        assert_eq!(ok("/invoices/42"), ["invoices", "42"]);
        assert_eq!(ok("/a%20b/c+d"), ["a b", "c+d"]);
        assert_eq!(ok("/invoices/"), ["invoices", ""]);
        // %25 stays a literal '%': decoded once, never twice.
        assert_eq!(ok("/a%252e%252e"), ["a%2e%2e"]);
    }

    #[test]
    fn every_ambiguous_form_is_refused() {
        for raw in [
            "//invoices",
            "/a//b",
            "/a/./b",
            "/a/../b",
            "/..",
            "/a/%2e%2e/b",
            "/a/%2E/b",
            "/a/.%2e/b",
            "/a/..;x=y/b",
            "/a/.;/b",
            "/a;x=y",
            "/a%3bx",
            "/a%2fb",
            "/a%2Fb",
            "/a%5cb",
            "/a\\b",
            "/a%00b",
            "/a%0ab",
            "/a%zz",
            "/a%2",
            "/a%ff",
            "/a#frag",
            "relative",
            "",
        ] {
            assert!(CanonicalPath::parse(raw).is_err(), "{raw:?} was accepted");
        }
    }

    #[test]
    fn upstream_path_is_the_gateways_encoding_of_what_was_authorized() {
        let p = CanonicalPath::parse("/in%76oices/a b%21/").expect("canonical");
        assert_eq!(p.arn_path(), "invoices/a b!/");
        assert_eq!(p.upstream("/base/"), "/base/invoices/a%20b%21/");
        assert_eq!(CanonicalPath::parse("/").unwrap().upstream(""), "/");
        // Re-parsing what is sent gives the same segments: one reading on both sides.
        let again = CanonicalPath::parse(&p.upstream("")).expect("canonical");
        assert_eq!(again, p);
    }

    #[test]
    fn prefixes_match_whole_segments() {
        let prefix = canonical_prefix("/billing").expect("canonical");
        let p = CanonicalPath::parse("/billing/invoices").unwrap();
        assert_eq!(p.strip_prefix(&prefix).unwrap().segments, ["invoices"]);
        let q = CanonicalPath::parse("/billingx/invoices").unwrap();
        assert!(q.strip_prefix(&prefix).is_none());
        assert_eq!(canonical_prefix("/"), Some(vec![]));
        for bad in ["/billing/", "billing", "/a//b", "/a/../b", "/a%2fb", "/a;b"] {
            assert!(canonical_prefix(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn arn_follows_api_gateway() {
        let p = CanonicalPath::parse("/invoices/42").unwrap();
        assert_eq!(
            invoke_arn(
                "aws",
                "eu-west-1",
                "111122223333",
                "billing",
                "prod",
                "GET",
                &p
            ),
            "arn:aws:execute-api:eu-west-1:111122223333:billing/prod/GET/invoices/42"
        );
    }
}
