//! The one reading of the host a request is addressed to.
//!
//! A request can name its host three ways: the `Host` header (HTTP/1.1), the `:authority`
//! pseudo-header (HTTP/2), or an absolute-form target (`GET http://host/path HTTP/1.1`); hyper puts
//! the last two in the URI. Classification (virtual-hosted buckets), the signature check and
//! forwarding all use the answer of [`request_host`], so no two of them can read different
//! hosts. Two names that disagree are refused, not reconciled.

use http::{HeaderMap, Uri, header};

/// Why a request's host could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError(pub &'static str);

/// The request's host (with its port, as sent), or `None` when it names none.
pub fn request_host<'a>(
    uri: &'a Uri,
    headers: &'a HeaderMap,
) -> Result<Option<&'a str>, HostError> {
    let mut values = headers.get_all(header::HOST).iter();
    let from_header = match (values.next(), values.next()) {
        (None, _) => None,
        (Some(v), None) => Some(
            v.to_str()
                .map_err(|_| HostError("The Host header is not valid ASCII"))?,
        ),
        (Some(_), Some(_)) => return Err(HostError("The request has more than one Host header")),
    };
    let from_uri = uri.authority().map(|a| a.as_str());
    let host = match (from_header, from_uri) {
        (Some(h), Some(a)) if !h.eq_ignore_ascii_case(a) => {
            return Err(HostError(
                "The Host header and the request target (absolute URI or :authority) name different hosts",
            ));
        }
        (Some(h), _) => h,
        (None, Some(a)) => a,
        (None, None) => return Ok(None),
    };
    if host.is_empty()
        || host.contains('@')
        || !host.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_')
        })
    {
        return Err(HostError("The request's host is not a valid host name"));
    }
    Ok(Some(host))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn host(uri: &str, hosts: &[&str]) -> Result<Option<String>, HostError> {
        let uri: Uri = uri.parse().unwrap();
        let mut headers = HeaderMap::new();
        for h in hosts {
            headers.append(header::HOST, HeaderValue::from_str(h).unwrap());
        }
        request_host(&uri, &headers).map(|h| h.map(str::to_string))
    }

    #[test]
    fn each_form_names_the_host() {
        assert_eq!(
            host("/b/k", &["b.s3.localhost:7480"]).unwrap().as_deref(),
            Some("b.s3.localhost:7480")
        );
        assert_eq!(
            host("http://b.s3.localhost:7480/k", &[])
                .unwrap()
                .as_deref(),
            Some("b.s3.localhost:7480")
        );
        assert_eq!(host("/k", &[]).unwrap(), None);
        // The same host in both places (any case) is one reading.
        assert_eq!(
            host("http://B.s3.localhost/k", &["b.s3.localhost"])
                .unwrap()
                .as_deref(),
            Some("b.s3.localhost")
        );
    }

    #[test]
    fn disagreeing_or_doubtful_hosts_are_refused() {
        assert!(host("http://a.s3.localhost/k", &["b.s3.localhost"]).is_err());
        assert!(
            host("http://a.s3.localhost/k", &["a.s3.localhost:80"]).is_err(),
            "a port is part of the host"
        );
        assert!(host("/k", &["a.s3.localhost", "b.s3.localhost"]).is_err());
        assert!(host("/k", &["a.s3.localhost", "a.s3.localhost"]).is_err());
        assert!(host("http://user@a.s3.localhost/k", &[]).is_err());
        assert!(host("/k", &["a b"]).is_err());
        assert!(host("/k", &[""]).is_err());
    }
}
