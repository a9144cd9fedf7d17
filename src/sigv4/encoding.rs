//! Percent-encoding rules of SigV4: canonical URI (S3 and generic) and canonical query string.

use std::borrow::Cow;

use super::error::SigV4Error;

/// A query parameter's canonical (name, value), borrowed when the wire form is already canonical.
type QueryPair<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

/// How the canonical URI is formed from the request path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriMode {
    /// S3: percent-decode the path once, re-encode once, never normalise (`//`, `.`, `..` stay).
    S3,
    /// Every other service (STS, execute-api): remove dot segments, merge slashes, and encode
    /// the path as the signer saw it (so an already-encoded path is encoded a second time).
    Normalized,
}

/// Unreserved characters that SigV4 never encodes.
#[inline]
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Appends `input` percent-encoded (upper-case hex); `/` is kept when `keep_slash`.
pub fn uri_encode_into(out: &mut Vec<u8>, input: &[u8], keep_slash: bool) {
    for &b in input {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(b);
        } else {
            out.extend_from_slice(&[
                b'%',
                HEX_UPPER[usize::from(b >> 4)],
                HEX_UPPER[usize::from(b & 15)],
            ]);
        }
    }
}

/// Percent-encodes `input` into a new string.
pub fn uri_encode(input: &[u8], keep_slash: bool) -> String {
    let mut out = Vec::with_capacity(input.len() + 8);
    uri_encode_into(&mut out, input, keep_slash);
    String::from_utf8(out).expect("percent-encoding yields ASCII")
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `input`. `plus_is_space` applies form decoding (query strings only).
/// Invalid escapes (`%zz`, a truncated `%4`) are an error: such a request is refused before
/// any signature is computed.
pub fn percent_decode(input: &[u8], plus_is_space: bool) -> Result<Vec<u8>, SigV4Error> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'%' => {
                let hi = input.get(i + 1).copied().and_then(hex_value);
                let lo = input.get(i + 2).copied().and_then(hex_value);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => {
                        return Err(SigV4Error::InvalidRequest(
                            "The request contains an invalid percent-encoding".into(),
                        ));
                    }
                }
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// True when `path` is already in canonical S3 form (only unreserved bytes and `/`), the common
/// case for SDK requests: then it is used as is, with no decode and re-encode.
fn is_canonical_s3_path(path: &[u8]) -> bool {
    path.iter().all(|&b| is_unreserved(b) || b == b'/')
}

/// Writes the canonical URI of `path` (the request-target path, without the query).
pub fn write_canonical_uri(out: &mut Vec<u8>, path: &str, mode: UriMode) -> Result<(), SigV4Error> {
    let path = if path.is_empty() { "/" } else { path };
    match mode {
        UriMode::S3 => {
            if is_canonical_s3_path(path.as_bytes()) {
                out.extend_from_slice(path.as_bytes());
            } else {
                let decoded = percent_decode(path.as_bytes(), false)?;
                uri_encode_into(out, &decoded, true);
            }
        }
        UriMode::Normalized => {
            let normalized = normalize_path(path);
            uri_encode_into(out, normalized.as_bytes(), true);
        }
    }
    Ok(())
}

/// The wire path verbatim, for the S3 fallback of clients that sign what they send raw
/// (sub-delimiters such as `=` left unencoded, or a `%2F` inside a key).
pub fn write_raw_uri(out: &mut Vec<u8>, path: &str) {
    out.extend_from_slice(if path.is_empty() {
        b"/"
    } else {
        path.as_bytes()
    });
}

/// Whether a raw-path retry could produce a different canonical URI than the primary rule.
pub fn raw_uri_differs(path: &str) -> bool {
    !is_canonical_s3_path(path.as_bytes())
}

/// RFC 3986 dot-segment removal plus merging of repeated slashes; keeps a trailing slash.
pub fn normalize_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let trailing = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    let mut out = String::with_capacity(path.len());
    out.push('/');
    out.push_str(&segments.join("/"));
    if trailing && !segments.is_empty() {
        out.push('/');
    }
    out
}

/// Writes the canonical query string. `skip_signature` drops `X-Amz-Signature` (presigned URLs).
pub fn write_canonical_query(
    out: &mut Vec<u8>,
    query: &str,
    skip_signature: bool,
) -> Result<(), SigV4Error> {
    if query.is_empty() {
        return Ok(());
    }
    // Fast path: parameters already canonically encoded need no decode/re-encode, only sorting.
    let mut pairs: Vec<QueryPair<'_>> = Vec::with_capacity(8);
    for segment in query.split('&') {
        if segment.is_empty() {
            continue;
        }
        let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
        if skip_signature && name == "X-Amz-Signature" {
            continue;
        }
        pairs.push((canonical_component(name)?, canonical_component(value)?));
    }
    pairs.sort_unstable();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(name);
        out.push(b'=');
        out.extend_from_slice(value);
    }
    Ok(())
}

fn canonical_component(raw: &str) -> Result<Cow<'_, [u8]>, SigV4Error> {
    let bytes = raw.as_bytes();
    let already = bytes.iter().enumerate().all(|(i, &b)| {
        is_unreserved(b)
            || (b == b'%'
                && bytes
                    .get(i + 1)
                    .is_some_and(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c))
                && bytes
                    .get(i + 2)
                    .is_some_and(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c)))
    });
    if already {
        // Escapes of unreserved bytes (`%41`) would be decoded and re-emitted raw: re-encode those.
        let has_unreserved_escape = bytes.windows(3).any(|w| {
            w[0] == b'%'
                && is_unreserved(hex_value(w[1]).unwrap_or(0) << 4 | hex_value(w[2]).unwrap_or(0))
        });
        if !has_unreserved_escape {
            return Ok(Cow::Borrowed(bytes));
        }
    }
    let decoded = percent_decode(bytes, true)?;
    let mut out = Vec::with_capacity(decoded.len() + 8);
    uri_encode_into(&mut out, &decoded, false);
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(path: &str, mode: UriMode) -> String {
        let mut out = Vec::new();
        write_canonical_uri(&mut out, path, mode).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn query(q: &str) -> String {
        let mut out = Vec::new();
        write_canonical_query(&mut out, q, true).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn s3_paths_are_encoded_once_and_never_normalized() {
        assert_eq!(
            uri("/bucket/my-object//example//photo.user", UriMode::S3),
            "/bucket/my-object//example//photo.user"
        );
        assert_eq!(uri("/b/./../k", UriMode::S3), "/b/./../k");
        assert_eq!(uri("/b/a%20b", UriMode::S3), "/b/a%20b");
        assert_eq!(uri("/b/a+b", UriMode::S3), "/b/a%2Bb"); // a raw + is a literal plus
        assert_eq!(uri("/b/a=b:c", UriMode::S3), "/b/a%3Db%3Ac");
        assert_eq!(uri("/b/%e1%88%b4", UriMode::S3), "/b/%E1%88%B4"); // lower-case hex re-emitted upper
        assert_eq!(uri("/b/%41", UriMode::S3), "/b/A"); // over-encoded unreserved byte
        assert_eq!(uri("", UriMode::S3), "/");
    }

    #[test]
    fn generic_paths_are_normalized_and_encoded_as_given() {
        assert_eq!(uri("//example//", UriMode::Normalized), "/example/");
        assert_eq!(uri("/example1/example2/../..", UriMode::Normalized), "/");
        assert_eq!(uri("/./example", UriMode::Normalized), "/example");
        assert_eq!(uri("/a%3Db", UriMode::Normalized), "/a%253Db"); // double encoding
    }

    #[test]
    fn bad_escapes_are_refused() {
        assert!(write_canonical_uri(&mut Vec::new(), "/b/%zz", UriMode::S3).is_err());
        assert!(write_canonical_uri(&mut Vec::new(), "/b/%4", UriMode::S3).is_err());
        assert!(write_canonical_query(&mut Vec::new(), "a=%G1", false).is_err());
    }

    #[test]
    fn query_sorted_by_name_then_value_not_by_joined_string() {
        assert_eq!(
            query("Param-3=Value3&Param=Value2&%E1%88%B4=Value1"),
            "%E1%88%B4=Value1&Param=Value2&Param-3=Value3"
        );
        assert_eq!(query("b=2&a=2&a=1"), "a=1&a=2&b=2");
        assert_eq!(query("acl"), "acl=");
        assert_eq!(query("&&uploads&"), "uploads=");
        assert_eq!(query("k=a+b"), "k=a%20b");
        assert_eq!(query("k=a%2bb/c"), "k=a%2Bb%2Fc");
        assert_eq!(
            query("X-Amz-Signature=abc&x-id=GetObject"),
            "x-id=GetObject"
        );
        assert_eq!(query(""), "");
    }
}
