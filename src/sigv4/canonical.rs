//! The canonical request and the string to sign (spec sigv4-s3.md §2.5, §2.6).
//!
//! Built from the request **as received**: method, raw path, raw query and the signed headers'
//! values, before anything is added or removed.

use http::HeaderMap;
use sha2::{Digest, Sha256};

use super::AmzDate;
use super::encoding::{UriMode, write_canonical_query, write_canonical_uri, write_raw_uri};
use super::error::SigV4Error;

/// The parts of an HTTP request a signature covers. Plain values: no sockets, no bodies.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    pub method: &'a str,
    /// The request-target path exactly as received (percent-encoded, no query).
    pub path: &'a str,
    /// The raw query string without `?` (empty if none).
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    /// The URI authority, used for `host` when there is no `Host` header (HTTP/2).
    pub authority: Option<&'a str>,
}

/// How the path is put into the canonical request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathForm {
    /// The rule of the [`UriMode`].
    Canonical(UriMode),
    /// The wire path verbatim (S3 fallback for clients that sign what they send raw).
    Raw,
}

/// Writes the canonical request into `out` (cleared first).
pub fn write_canonical_request(
    out: &mut Vec<u8>,
    req: &RequestParts<'_>,
    path_form: PathForm,
    presigned: bool,
    signed_headers: &[impl AsRef<str>],
    payload_hash: &str,
) -> Result<(), SigV4Error> {
    out.clear();
    out.extend_from_slice(req.method.as_bytes());
    out.push(b'\n');
    match path_form {
        PathForm::Canonical(mode) => write_canonical_uri(out, req.path, mode)?,
        PathForm::Raw => write_raw_uri(out, req.path),
    }
    out.push(b'\n');
    write_canonical_query(out, req.query, presigned)?;
    out.push(b'\n');
    for name in signed_headers {
        let name = name.as_ref();
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        write_header_value(out, req, name);
        out.push(b'\n');
    }
    out.push(b'\n');
    for (i, name) in signed_headers.iter().enumerate() {
        if i > 0 {
            out.push(b';');
        }
        out.extend_from_slice(name.as_ref().as_bytes());
    }
    out.push(b'\n');
    out.extend_from_slice(payload_hash.as_bytes());
    Ok(())
}

/// All values of a header in arrival order, each trimmed with inner whitespace runs collapsed,
/// joined with `,`. A signed header that is absent canonicalises as an empty value (AWS's form).
fn write_header_value(out: &mut Vec<u8>, req: &RequestParts<'_>, name: &str) {
    // A linear scan: requests carry few headers, and comparing short names is cheaper than
    // parsing and hashing the name for a map lookup. `iter` yields repeated values in order.
    let mut found = 0;
    for (header, value) in req.headers.iter() {
        if header.as_str() == name {
            if found > 0 {
                out.push(b',');
            }
            write_trimmed_collapsed(out, value.as_bytes());
            found += 1;
        }
    }
    if found == 0
        && name == "host"
        && let Some(authority) = req.authority
    {
        out.extend_from_slice(authority.as_bytes());
    }
}

fn write_trimmed_collapsed(out: &mut Vec<u8>, value: &[u8]) {
    let is_ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    // Copy runs of non-whitespace as slices; each inner whitespace run becomes one space.
    let start = value.iter().position(|b| !is_ws(b)).unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !is_ws(b))
        .map_or(start, |i| i + 1);
    let mut rest = &value[start..end];
    while let Some(i) = rest.iter().position(is_ws) {
        out.extend_from_slice(&rest[..i]);
        out.push(b' ');
        let skip = rest[i..]
            .iter()
            .position(|b| !is_ws(b))
            .unwrap_or(rest.len() - i);
        rest = &rest[i + skip..];
    }
    out.extend_from_slice(rest);
}

/// Writes the string to sign for a canonical request (cleared first).
pub fn write_string_to_sign(
    out: &mut Vec<u8>,
    date: &AmzDate,
    scope: &str,
    canonical_request: &[u8],
) {
    let hash = Sha256::digest(canonical_request);
    out.clear();
    out.extend_from_slice(b"AWS4-HMAC-SHA256\n");
    out.extend_from_slice(date.as_str().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(scope.as_bytes());
    out.push(b'\n');
    let mut hex_buf = [0u8; 64];
    hex::encode_to_slice(hash, &mut hex_buf).expect("64 bytes fit");
    out.extend_from_slice(&hex_buf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn header_values_keep_order_trim_and_collapse() {
        let mut headers = HeaderMap::new();
        headers.append("my-header1", HeaderValue::from_static("value4"));
        headers.append("my-header1", HeaderValue::from_static("  value1  "));
        headers.append("my-header2", HeaderValue::from_static("\"a   b   c\""));
        headers.insert("host", HeaderValue::from_static("example.amazonaws.com"));
        let req = RequestParts {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
            authority: None,
        };
        let mut out = Vec::new();
        write_canonical_request(
            &mut out,
            &req,
            PathForm::Canonical(UriMode::S3),
            false,
            &["host", "my-header1", "my-header2", "x-absent"],
            "UNSIGNED-PAYLOAD",
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value4,value1\nmy-header2:\"a b c\"\nx-absent:\n\nhost;my-header1;my-header2;x-absent\nUNSIGNED-PAYLOAD"
        );
    }

    #[test]
    fn host_falls_back_to_the_authority() {
        let headers = HeaderMap::new();
        let req = RequestParts {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
            authority: Some("b.s3.localhost:7480"),
        };
        let mut out = Vec::new();
        write_canonical_request(
            &mut out,
            &req,
            PathForm::Canonical(UriMode::S3),
            false,
            &["host"],
            "x",
        )
        .unwrap();
        assert!(
            String::from_utf8(out)
                .unwrap()
                .contains("host:b.s3.localhost:7480\n")
        );
    }
}
