//! One authentication stage for every protocol: the same SigV4 failures, sent to STS, S3 and an
//! HTTP API through one running gateway, are each refused in that protocol's own error shape,
//! counted under its label, and never reach a backend. Routing follows the credential scope's
//! service, not the path: an `s3`-signed request at an API's path is an S3 request.

mod support;

use http::{HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};
use stsgate::sigv4::{AmzDate, Signer, SigningKeyCache};
use support::api_backend::ApiBackend;
use support::recorder::Recorder;
use support::{Creds, DEVELOP, Gateway, S3_ROLE, assume, config_with_backend, expired_copy};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Protocol {
    Sts,
    S3,
    Api,
}

/// How a failure reads in each protocol: (status, code) for STS, S3, execute-api.
struct Case {
    name: &'static str,
    expected: [(u16, &'static str); 3],
}

/// One request of `protocol`, signed by `signer` at `date` (or unsigned).
fn request(
    protocol: Protocol,
    gw: &Gateway,
    signer: Option<&Signer>,
    date: AmzDate,
) -> (u16, String, String) {
    let (method, path, body): (&str, &str, &[u8]) = match protocol {
        Protocol::Sts => ("POST", "/", b"Action=GetCallerIdentity&Version=2011-06-15"),
        Protocol::S3 => ("GET", "/photos/cat.jpg", b""),
        Protocol::Api => ("GET", "/billing/invoices/1", b""),
    };
    let host = gw.endpoint.trim_start_matches("http://");
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_str(host).unwrap());
    if protocol == Protocol::Sts {
        headers.insert(
            "content-type",
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        );
    }
    if let Some(signer) = signer {
        let hash = hex::encode(Sha256::digest(body));
        signer
            .sign(method, path, "", &mut headers, &hash, date)
            .unwrap();
    }
    reqwest_like(method, &format!("{}{path}", gw.endpoint), &headers, body)
}

/// Sends a request and returns status, the error code (API Gateway's `x-amzn-ErrorType`, or
/// the XML `<Code>`), and the body.
fn reqwest_like(
    method: &str,
    url: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> (u16, String, String) {
    let rest = url.trim_start_matches("http://");
    let (addr, path) = rest.split_at(rest.find('/').unwrap());
    let reply = support::raw_request(addr, method, path, &support::header_pairs(headers), body);
    let code = match reply.header("x-amzn-ErrorType") {
        Some(t) => {
            assert!(
                reply.body.starts_with("{\"message\":"),
                "API errors are JSON: {}",
                reply.body
            );
            t.to_string()
        }
        None => {
            let start = reply.body.find("<Code>").map(|i| i + 6).unwrap_or(0);
            let end = reply.body.find("</Code>").unwrap_or(0);
            reply.body.get(start..end).unwrap_or("").to_string()
        }
    };
    (reply.status, code, reply.body)
}

#[test]
fn one_stage_refuses_each_failure_in_each_protocols_shape() {
    let recorder = Recorder::start();
    let api = ApiBackend::start();
    let api_toml = format!(
        "\n[[backends]]\nname = \"billing-api\"\nkind = \"http\"\nurl = \"{}\"\npath_prefix = \"/billing\"\n",
        api.url
    );
    let gw = Gateway::start(&config_with_backend(
        &format!("{}{api_toml}", recorder.backend_toml()),
        "",
    ));
    let creds = assume(&gw, S3_ROLE, "stage", None);
    let now = AmzDate::now();
    let signer_for = |c: &Creds, region: &str, service: &str, secret: Option<&str>| {
        Signer::new(
            &c.key_id,
            secret.unwrap_or(&c.secret),
            c.token.as_deref(),
            region,
            service,
            SigningKeyCache::disabled(),
        )
    };
    let service = |p: Protocol| match p {
        Protocol::Sts => "sts",
        Protocol::S3 => "s3",
        Protocol::Api => "execute-api",
    };
    let expired = expired_copy(&gw, &creds, 60);
    let unknown = Creds {
        key_id: "AKIARTX3GSDSZZZZZZZZ".into(),
        secret: DEVELOP.1.into(),
        token: None,
    };
    let garbage = Creds {
        key_id: creds.key_id.clone(),
        secret: creds.secret.clone(),
        token: Some("not-a-token".into()),
    };

    let cases = [
        Case {
            name: "unsigned",
            expected: [
                (403, "MissingAuthenticationToken"),
                (403, "AccessDenied"),
                (403, "MissingAuthenticationTokenException"),
            ],
        },
        Case {
            name: "wrong secret",
            expected: [
                (403, "SignatureDoesNotMatch"),
                (403, "SignatureDoesNotMatch"),
                (403, "InvalidSignatureException"),
            ],
        },
        Case {
            name: "unknown key",
            expected: [
                (403, "InvalidClientTokenId"),
                (403, "InvalidAccessKeyId"),
                (403, "UnrecognizedClientException"),
            ],
        },
        Case {
            name: "invalid token",
            expected: [
                (403, "InvalidClientTokenId"),
                (403, "InvalidClientTokenId"),
                (403, "UnrecognizedClientException"),
            ],
        },
        Case {
            name: "expired token",
            expected: [
                (403, "ExpiredToken"),
                (400, "ExpiredToken"),
                (403, "ExpiredTokenException"),
            ],
        },
        Case {
            name: "skewed clock",
            expected: [
                (403, "SignatureDoesNotMatch"),
                (403, "RequestTimeTooSkewed"),
                (403, "InvalidSignatureException"),
            ],
        },
        Case {
            name: "wrong region",
            expected: [
                (403, "SignatureDoesNotMatch"),
                (400, "AuthorizationHeaderMalformed"),
                (403, "InvalidSignatureException"),
            ],
        },
        Case {
            name: "unsigned x-amz header",
            expected: [
                (403, "AccessDenied"),
                (403, "AccessDenied"),
                (403, "IncompleteSignatureException"),
            ],
        },
    ];
    for case in &cases {
        for (i, protocol) in [Protocol::Sts, Protocol::S3, Protocol::Api]
            .into_iter()
            .enumerate()
        {
            let s = service(protocol);
            let (signer, date): (Option<Signer>, AmzDate) = match case.name {
                "unsigned" => (None, now),
                "wrong secret" => (
                    Some(signer_for(&creds, "us-east-1", s, Some("not-the-secret"))),
                    now,
                ),
                "unknown key" => (Some(signer_for(&unknown, "us-east-1", s, None)), now),
                "invalid token" => (Some(signer_for(&garbage, "us-east-1", s, None)), now),
                "expired token" => (Some(signer_for(&expired, "us-east-1", s, None)), now),
                "skewed clock" => (
                    Some(signer_for(&creds, "us-east-1", s, None)),
                    AmzDate::from_unix(now.unix() - 3600),
                ),
                "wrong region" => (Some(signer_for(&creds, "eu-west-9", s, None)), now),
                _ => (Some(signer_for(&creds, "us-east-1", s, None)), now),
            };
            let unsigned_header = case.name == "unsigned x-amz header";
            let (status, code, body) = if unsigned_header {
                // Signed, then a header added that the signature does not cover.
                let host = gw.endpoint.trim_start_matches("http://");
                let (method, path, payload): (&str, &str, &[u8]) = match protocol {
                    Protocol::Sts => ("POST", "/", b"Action=GetCallerIdentity&Version=2011-06-15"),
                    Protocol::S3 => ("GET", "/photos/cat.jpg", b""),
                    Protocol::Api => ("GET", "/billing/invoices/1", b""),
                };
                let mut headers = HeaderMap::new();
                headers.insert("host", HeaderValue::from_str(host).unwrap());
                if protocol == Protocol::Sts {
                    headers.insert(
                        "content-type",
                        HeaderValue::from_static(
                            "application/x-www-form-urlencoded; charset=utf-8",
                        ),
                    );
                }
                signer
                    .as_ref()
                    .unwrap()
                    .sign(
                        method,
                        path,
                        "",
                        &mut headers,
                        &hex::encode(Sha256::digest(payload)),
                        now,
                    )
                    .unwrap();
                headers.insert("x-amz-meta-smuggled", HeaderValue::from_static("1"));
                reqwest_like(method, &format!("{}{path}", gw.endpoint), &headers, payload)
            } else {
                request(protocol, &gw, signer.as_ref(), date)
            };
            assert_eq!(
                (status, code.as_str()),
                case.expected[i],
                "{} via {protocol:?}: {body}",
                case.name
            );
        }
    }
    assert!(
        recorder.seen().is_empty(),
        "a refused request reached the S3 backend"
    );
    assert!(api.seen().is_empty(), "a refused request reached the API");

    // Every failure was counted under its protocol's label (unsigned requests are not failures).
    let metrics = std::process::Command::new("curl")
        .args(["-s", &format!("{}/metrics", gw.admin)])
        .output()
        .unwrap();
    let metrics = String::from_utf8_lossy(&metrics.stdout);
    for label in ["sts", "s3", "execute-api"] {
        let total: u64 = metrics
            .lines()
            .filter(|l| {
                l.starts_with(&format!(
                    "stsgate_auth_failures_total{{protocol=\"{label}\""
                ))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum();
        assert_eq!(total, (cases.len() - 1) as u64, "{label}: {metrics}");
    }
}

/// The scope's service routes, not the path: an S3-signed request at an API path is S3's, and
/// an API-signed request at a path no API route takes is not sent to S3.
#[test]
fn the_signed_service_decides_the_route() {
    let recorder = Recorder::start();
    let api = ApiBackend::start();
    let api_toml = format!(
        "\n[[backends]]\nname = \"billing-api\"\nkind = \"http\"\nurl = \"{}\"\npath_prefix = \"/billing\"\n",
        api.url
    );
    let writer_role = support::WRITER_ROLE;
    let gw = Gateway::start(&config_with_backend(
        &format!("{}{api_toml}", recorder.backend_toml()),
        writer_role,
    ));
    let creds = assume(
        &gw,
        "arn:aws:iam::111122223333:role/s3_writer",
        "router",
        None,
    );
    let s3 = creds.signer("s3");
    let api_signer = creds.signer("execute-api");
    // S3-signed GET /billing/invoices/1 is GetObject on bucket "billing".
    let host = gw.endpoint.trim_start_matches("http://");
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_str(host).unwrap());
    s3.sign(
        "GET",
        "/billing/invoices/1",
        "",
        &mut headers,
        "UNSIGNED-PAYLOAD",
        AmzDate::now(),
    )
    .unwrap();
    let (status, _, body) = reqwest_like(
        "GET",
        &format!("{}/billing/invoices/1", gw.endpoint),
        &headers,
        b"",
    );
    assert_ne!(status, 0, "{body}");
    assert!(
        api.seen().is_empty(),
        "an s3-signed request reached the API"
    );
    assert_eq!(
        recorder.seen().last().map(|s| s.path.clone()),
        Some("/billing/invoices/1".to_string())
    );
    // execute-api-signed at a path no API route takes: 404 in the API's shape, S3 untouched.
    let before = recorder.seen().len();
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_str(host).unwrap());
    api_signer
        .sign(
            "GET",
            "/photos/cat.jpg",
            "",
            &mut headers,
            &hex::encode(Sha256::digest(b"")),
            AmzDate::now(),
        )
        .unwrap();
    let (status, code, _) = reqwest_like(
        "GET",
        &format!("{}/photos/cat.jpg", gw.endpoint),
        &headers,
        b"",
    );
    assert_eq!((status, code.as_str()), (404, "NotFoundException"));
    assert_eq!(recorder.seen().len(), before);
    // A service nobody serves is refused in the shape of where it was addressed.
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_str(host).unwrap());
    creds
        .signer("dynamodb")
        .sign(
            "GET",
            "/billing/invoices/1",
            "",
            &mut headers,
            &hex::encode(Sha256::digest(b"")),
            AmzDate::now(),
        )
        .unwrap();
    let (status, code, _) = reqwest_like(
        "GET",
        &format!("{}/billing/invoices/1", gw.endpoint),
        &headers,
        b"",
    );
    assert_eq!(
        (status, code.as_str()),
        (403, "IncompleteSignatureException")
    );
    assert!(api.seen().is_empty());
}
