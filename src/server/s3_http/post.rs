//! Browser POST uploads (S3's PostObject), read as their pipeline ([`upload`]): read the form up
//! to the file (bounded) → authenticate (the SigV4 signature over the `policy` field, with the
//! key the credential names) → the policy's conditions → the PutObject the gateway builds from the
//! fields it understands → authorize it like any PutObject → stream the file to the backend
//! ([`crate::proxy::form_body`]) → S3's success answer (`success_action_status`,
//! `success_action_redirect`). The bucket is always the URL's: a `bucket` field is only a field
//! the policy must cover, never where the object goes.

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::{Authenticated, Authorizer, Front, GatewayBody, Refused, Reply, S3Error, State};
use crate::s3::post_policy::{Form, Policy, PostError, Scan, boundary, object_key, scan_form};
use crate::sigv4::{AmzDate, PayloadMode};

/// A POST to a bucket with a `multipart/form-data` body and no query: a browser upload.
pub(super) fn is_post_upload(parts: &http::request::Parts) -> bool {
    parts.method == http::Method::POST
        && parts.uri.query().is_none()
        && parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.get(..19)
                    .is_some_and(|m| m.eq_ignore_ascii_case("multipart/form-data"))
            })
}

/// The upload path; the first refusal ends it.
pub(super) async fn upload(
    state: &State,
    peer: SocketAddr,
    parts: &http::request::Parts,
    front: &Front<'_>,
    body_slot: &mut Option<Incoming>,
    reply: &Reply<'_>,
) -> Result<Response<GatewayBody>, Refused> {
    let post = |e: PostError| reply.refuse(S3Error::Post(e));
    let host = super::host_of(front, reply)?;
    // 1. The bucket from the URL, the fields up to the file's first byte.
    let upload = read_upload(state, parts, host, body_slot, reply).await?;
    // 2. Who signed the policy, and what it allows.
    let (auth, policy) = authenticate(state, peer, front, &upload.form, reply)?;
    if let Some(policy) = &policy {
        policy
            .check(
                &upload.form,
                &upload.bucket,
                front.now.unix(),
                upload.file_len,
            )
            .map_err(post)?;
    }
    super::throttle(state, peer, &auth, Some(&upload.bucket), reply).await?;
    // 3. The PutObject the gateway builds, authorized like any other.
    let key = object_key(&upload.form).map_err(post)?;
    let headers = put_headers(&upload.form).map_err(post)?;
    let target = crate::s3::Target {
        bucket: Some(upload.bucket.clone()),
        key: Some(key.clone()),
    };
    let classified =
        crate::s3::classify("PUT", &target, &[], &headers).map_err(|e| reply.classify(e))?;
    crate::audit::note(|f| {
        f.bucket = target.bucket.clone();
        f.key = Some(key.clone());
    });
    let backend = state.s3_backend(host.unwrap_or(""));
    let authorizer = Authorizer::new(state, peer, parts, front, &auth, backend, reply)?;
    for check in &classified.checks {
        authorizer.check(check.action, &check.resource, &classified.condition_keys)?;
    }
    // 4. The file, streamed and checked to the form's end.
    let form = upload.form.clone();
    let bucket = upload.bucket.clone();
    let response = forward(
        state, backend, parts, host, upload, classified, &auth, reply,
    )
    .await?;
    // 5. S3's answer to a browser.
    answer(state, host, &bucket, &key, &form, response, reply)
}

/// Largest POST form: S3's limit on one PutObject (5 GiB) and room for the fields.
const MAX_FORM: u64 = (5 << 30) + 64 * 1024;

/// A POST upload read as far as its file.
struct Upload {
    bucket: String,
    boundary: String,
    form: Form,
    /// The rest of the body, and the file bytes already read.
    body: Incoming,
    pending: Bytes,
    /// The file's length, from the Content-Length and what the form took before and after it.
    file_len: u64,
}

/// The bucket from the URL, the form's framing from its headers, and the form read up to the
/// file's first byte.
async fn read_upload(
    state: &State,
    parts: &http::request::Parts,
    host: Option<&str>,
    body_slot: &mut Option<Incoming>,
    reply: &Reply<'_>,
) -> Result<Upload, Refused> {
    let post = |e: PostError| reply.refuse(S3Error::Post(e));
    let bucket = bucket_of(state, parts, host).map_err(post)?;
    let boundary = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| Err(PostError::malformed("no Content-Type")), boundary)
        .map_err(post)?;
    let length = declared_length(parts, reply)?;
    if length > MAX_FORM {
        return Err(post(PostError {
            status: 400,
            code: "EntityTooLarge",
            message: "Your proposed upload exceeds the maximum allowed size".into(),
            extra: vec![
                ("ProposedSize", length.to_string()),
                ("MaxSizeAllowed", MAX_FORM.to_string()),
            ],
        }));
    }
    let body = body_slot
        .take()
        .ok_or_else(|| reply.refuse(S3Error::BodyAlreadyRead))?;
    let timeout = state.config.limits.body_read_timeout;
    let (form, body, pending) = read_form(body, &boundary, timeout, reply).await?;
    let file_len = length
        .checked_sub((form.file_start + Form::closing(&boundary).len()) as u64)
        .ok_or_else(|| {
            post(PostError::malformed(
                "the Content-Length is shorter than the form",
            ))
        })?;
    Ok(Upload {
        bucket,
        boundary,
        form,
        body,
        pending,
        file_len,
    })
}

/// Forwards the authorized PutObject with the form's file as its body. An empty file has no
/// last byte to hold back: the form's end is read and checked before anything is sent.
#[allow(clippy::too_many_arguments)]
async fn forward(
    state: &State,
    backend: Option<&super::super::BackendClient>,
    parts: &http::request::Parts,
    host: Option<&str>,
    upload: Upload,
    mut classified: crate::s3::Classified,
    auth: &Authenticated<'_, '_>,
    reply: &Reply<'_>,
) -> Result<Response<GatewayBody>, Refused> {
    let Upload {
        boundary,
        mut body,
        pending,
        file_len,
        ..
    } = upload;
    let timeout = state.config.limits.body_read_timeout;
    let pending = if file_len == 0 {
        read_closing(&mut body, pending, &boundary, timeout, reply).await?
    } else {
        pending
    };
    let (file, failure) =
        crate::proxy::form_body::FormFileBody::new(body, pending, file_len, &boundary);
    let put = http::Request::builder()
        .method(http::Method::PUT)
        .uri(parts.uri.clone())
        .header(header::CONTENT_LENGTH, file_len)
        .body(())
        .map_err(|_| reply.refuse(S3Error::BodyAlreadyRead))?
        .into_parts()
        .0;
    let upstream_headers = std::mem::take(&mut classified.headers);
    crate::proxy::s3::forward(
        &super::gateway_facts(state),
        backend,
        &put,
        host.unwrap_or(""),
        &classified,
        upstream_headers,
        crate::proxy::s3::RequestBody::FormFile(file, failure),
        PayloadMode::Unsigned,
        "UNSIGNED-PAYLOAD",
        None,
        auth.who(),
        auth.caller.as_ref().map(|c| c.account()),
    )
    .await
    .map_err(|e| reply.forward(e))
}

/// The bucket a POST upload goes to: the URL's (path or virtual host), with no key.
fn bucket_of(
    state: &State,
    parts: &http::request::Parts,
    host: Option<&str>,
) -> Result<String, PostError> {
    let target = crate::s3::address(host, parts.uri.path(), &state.config.server.public_hosts)
        .map_err(|e| PostError::malformed(&e.message))?;
    match (target.bucket, target.key) {
        (Some(b), None) => Ok(b),
        _ => Err(PostError::malformed(
            "a POST upload goes to a bucket's URL (the key is a form field)",
        )),
    }
}

/// The Content-Length: a POST upload needs one (browsers always send it); the file's length is
/// computed from it.
fn declared_length(parts: &http::request::Parts, reply: &Reply<'_>) -> Result<u64, Refused> {
    parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| reply.forward(crate::proxy::s3::ForwardError::MissingContentLength))
}

/// Reads the body until the file's first byte (within the pre-file limit and the body-read
/// timeout); returns the form, the rest of the body and the file bytes already read.
async fn read_form(
    mut body: Incoming,
    boundary: &str,
    timeout: std::time::Duration,
    reply: &Reply<'_>,
) -> Result<(Form, Incoming, Bytes), Refused> {
    let mut buf = BytesMut::new();
    let read = async {
        loop {
            match scan_form(&buf, boundary)? {
                Scan::Form(form) => return Ok(Some(form)),
                Scan::NeedMore => {}
            }
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        buf.extend_from_slice(&data);
                    }
                }
                Some(Err(_)) => return Ok(None),
                None => return Err(PostError::missing("file")),
            }
        }
    };
    let form = match tokio::time::timeout(timeout, read).await {
        Err(_elapsed) => return Err(reply.refuse(S3Error::RequestTimeout)),
        Ok(Err(e)) => return Err(reply.refuse(S3Error::Post(e))),
        Ok(Ok(None)) => {
            return Err(reply.refuse(S3Error::Post(PostError::malformed("the form was cut off"))));
        }
        Ok(Ok(Some(form))) => form,
    };
    let pending = buf.split_off(form.file_start).freeze();
    Ok((form, body, pending))
}

/// The rest of a form whose file is empty: exactly the closing delimiter (returned), read
/// before the empty object is stored.
async fn read_closing(
    body: &mut Incoming,
    mut read: Bytes,
    boundary: &str,
    timeout: std::time::Duration,
    reply: &Reply<'_>,
) -> Result<Bytes, Refused> {
    let closing = Form::closing(boundary);
    let mut buf = BytesMut::from(&read[..]);
    let rest = async {
        while buf.len() <= closing.len() {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        buf.extend_from_slice(&data);
                    }
                }
                _ => break,
            }
        }
    };
    tokio::time::timeout(timeout, rest)
        .await
        .map_err(|_elapsed| reply.refuse(S3Error::RequestTimeout))?;
    if buf[..] != closing[..] {
        return Err(reply.refuse(S3Error::Post(PostError::malformed(
            "the file must be the form's last part, ending with the closing boundary",
        ))));
    }
    read = buf.freeze();
    Ok(read)
}

/// The signature fields of a signed form, checked for form and scope.
struct SignedForm<'f> {
    credential: crate::sigv4::authorization::Credential<'f>,
    signature: &'f str,
    policy: &'f str,
    token: Option<&'f str>,
}

/// The form's signature fields (`None`: none at all, an anonymous upload).
fn signed_form<'f>(state: &State, form: &'f Form) -> Result<Option<SignedForm<'f>>, PostError> {
    if form.get("AWSAccessKeyId").is_some() || form.get("signature").is_some() {
        // SigV2 (what boto3's generate_presigned_post signs unless told s3v4).
        return Err(PostError {
            status: 400,
            code: "InvalidRequest",
            message: "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.".into(),
            extra: vec![],
        });
    }
    let names = [
        "x-amz-algorithm",
        "x-amz-credential",
        "x-amz-date",
        "x-amz-signature",
        "policy",
        "x-amz-security-token",
    ];
    if names.iter().all(|f| form.get(f).is_none()) {
        // As S3: a form without a signature is an anonymous upload, which only a bucket policy
        // granting "*" s3:PutObject allows.
        return Ok(None);
    }
    let field = |name: &'static str| form.get(name).ok_or_else(|| PostError::missing(name));
    let invalid = |name: &'static str, why: String| {
        let mut e = PostError::missing(name);
        e.message = why;
        e
    };
    if field("x-amz-algorithm")? != "AWS4-HMAC-SHA256" {
        return Err(invalid(
            "x-amz-algorithm",
            "The only supported x-amz-algorithm is AWS4-HMAC-SHA256".into(),
        ));
    }
    let credential = crate::sigv4::authorization::Credential::parse(field("x-amz-credential")?)
        .map_err(|why| invalid("x-amz-credential", why))?;
    let date_ok =
        AmzDate::parse(field("x-amz-date")?).is_some_and(|d| d.date_str() == credential.date());
    let regions = &state.config.server.regions;
    let scope_ok = credential.service() == "s3" && regions.iter().any(|r| r == credential.region());
    if !date_ok || !scope_ok {
        return Err(invalid(
            "x-amz-credential",
            format!(
                "The credential's scope must be <date of x-amz-date>/<one of {}>/s3/aws4_request",
                regions.join(", ")
            ),
        ));
    }
    Ok(Some(SignedForm {
        credential,
        signature: field("x-amz-signature")?,
        policy: field("policy")?,
        token: form.get("x-amz-security-token"),
    }))
}

/// The caller whose key signed the policy (or the anonymous principal, for a form with no
/// signature fields at all), and the policy.
fn authenticate<'f, 'a>(
    state: &State,
    peer: SocketAddr,
    front: &Front<'_>,
    form: &Form,
    reply: &Reply<'_>,
) -> Result<(Authenticated<'f, 'a>, Option<Policy>), Refused> {
    let post = |e: PostError| reply.refuse(S3Error::Post(e));
    let mut auth = Authenticated {
        parsed: None,
        caller: None,
        signing: None,
        payload_line: "UNSIGNED-PAYLOAD".to_string(),
        mode: PayloadMode::Unsigned,
        post_form: Some(String::new()),
    };
    let Some(signed) = signed_form(state, form).map_err(post)? else {
        return Ok((auth, None));
    };
    let key_id = signed.credential.access_key_id();
    crate::audit::note(|f| {
        f.access_key_id = Some(key_id.to_string());
        f.region = signed.credential.region().to_string();
    });
    let caller =
        super::authn::open_caller(state, key_id, signed.token, front.now.unix()).map_err(|e| {
            state
                .metrics
                .auth_failure("s3", e.code(), Some(key_id), peer);
            reply.credential(e)
        })?;
    if !signature_matches(state, &caller, &signed) {
        state
            .metrics
            .auth_failure("s3", "SignatureDoesNotMatch", Some(key_id), peer);
        return Err(post(PostError {
            status: 403,
            code: "SignatureDoesNotMatch",
            message: "The request signature we calculated does not match the signature you provided. Check your key and signing method.".into(),
            extra: vec![("AWSAccessKeyId", key_id.to_string())],
        }));
    }
    crate::audit::note(|f| f.caller = Some(caller.clone()));
    let policy = Policy::parse(signed.policy).map_err(post)?;
    auth.caller = Some(caller);
    auth.post_form = Some(key_id.to_string());
    Ok((auth, Some(policy)))
}

/// `x-amz-signature` is the HMAC-SHA256 of the `policy` field as sent, under the caller's
/// signing key for the credential's scope (compared in constant time).
fn signature_matches(
    state: &State,
    caller: &crate::identity::Caller,
    signed: &SignedForm<'_>,
) -> bool {
    let key = state.signing_keys.get(
        caller.secret(),
        signed.credential.date(),
        signed.credential.region(),
        "s3",
    );
    let provided: Option<[u8; 32]> = hex::decode(signed.signature)
        .ok()
        .and_then(|s| s.try_into().ok());
    provided.is_some_and(|s| key.verify(signed.policy.as_bytes(), &s))
}

/// Fields that are the upload's own (authentication, the policy, where the answer goes): never
/// forwarded as headers.
const OWN_FIELDS: [&str; 11] = [
    "key",
    "policy",
    "bucket",
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-date",
    "x-amz-signature",
    "x-amz-security-token",
    "success_action_status",
    "success_action_redirect",
    "redirect",
];

/// Fields that are PutObject headers of the same name (besides `x-amz-*`).
const HEADER_FIELDS: [&str; 7] = [
    "cache-control",
    "content-type",
    "content-disposition",
    "content-encoding",
    "content-language",
    "content-md5",
    "expires",
];

/// The PutObject headers the form's fields ask for: `acl` as `x-amz-acl`, `tagging` as
/// `x-amz-tagging`, the standard object headers and `x-amz-*` (which classification then checks
/// against its allowlist). `x-ignore-*` and other fields are not forwarded.
fn put_headers(form: &Form) -> Result<HeaderMap, PostError> {
    let mut headers = HeaderMap::new();
    for f in &form.fields {
        let name = f.name.to_ascii_lowercase();
        let (header_name, value) = match name.as_str() {
            n if OWN_FIELDS.contains(&n) || n.starts_with("x-ignore-") => continue,
            "acl" => ("x-amz-acl".to_string(), f.value.clone()),
            "tagging" => (
                "x-amz-tagging".to_string(),
                crate::s3::post_policy::tagging_header(&f.value)?,
            ),
            n if HEADER_FIELDS.contains(&n) || n.starts_with("x-amz-") => {
                (name.clone(), f.value.clone())
            }
            _ => continue,
        };
        let bad = || PostError::malformed(&format!("the field {} is not a valid header", f.name));
        headers.insert(
            HeaderName::from_bytes(header_name.as_bytes()).map_err(|_| bad())?,
            HeaderValue::from_str(&value).map_err(|_| bad())?,
        );
    }
    Ok(headers)
}

/// S3's answer to a stored upload: a 303 to `success_action_redirect` (with bucket, key and
/// ETag), or `success_action_status` 200, 201 (with a `PostResponse` document) or 204 (the
/// default). A backend refusal is passed on as it came.
fn answer(
    state: &State,
    host: Option<&str>,
    bucket: &str,
    key: &str,
    form: &Form,
    response: Response<GatewayBody>,
    reply: &Reply<'_>,
) -> Result<Response<GatewayBody>, Refused> {
    if response.status() != StatusCode::OK {
        return Ok(response);
    }
    let etag = response
        .headers()
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let scheme = if state.config.server.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let encoded_key = crate::sigv4::encoding::uri_encode(key.as_bytes(), true);
    let location = format!(
        "{scheme}://{}/{bucket}/{encoded_key}",
        host.unwrap_or("localhost")
    );
    let mut out = Response::builder()
        .header("x-amz-request-id", reply.request_id)
        .header(header::ETAG, &etag);
    if let Some(v) = response.headers().get("x-amz-version-id") {
        out = out.header("x-amz-version-id", v);
    }
    let empty = || super::super::boxed(http_body_util::Empty::new());
    let built = match redirect_target(form, bucket, key, &etag) {
        Some(target) => out
            .status(StatusCode::SEE_OTHER)
            .header(header::LOCATION, target)
            .body(empty()),
        None => {
            let out = out.header(header::LOCATION, &location);
            match form.get("success_action_status") {
                Some("200") => out.status(StatusCode::OK).body(empty()),
                Some("201") => out
                    .status(StatusCode::CREATED)
                    .header(header::CONTENT_TYPE, "application/xml")
                    .body(super::super::boxed(http_body_util::Full::new(
                        post_response(&location, bucket, key, &etag),
                    ))),
                _ => out.status(StatusCode::NO_CONTENT).body(empty()),
            }
        }
    };
    built.map_err(|_| reply.refuse(S3Error::BodyAlreadyRead))
}

/// `success_action_redirect` (or the legacy `redirect`) with `bucket`, `key` and `etag` added to
/// its query, if the form names an http(s) URL.
fn redirect_target(form: &Form, bucket: &str, key: &str, etag: &str) -> Option<String> {
    let url = form
        .get("success_action_redirect")
        .or_else(|| form.get("redirect"))
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))?;
    let enc = |v: &str| crate::sigv4::encoding::uri_encode(v.as_bytes(), false);
    let sep = if url.contains('?') { '&' } else { '?' };
    Some(format!(
        "{url}{sep}bucket={}&key={}&etag={}",
        enc(bucket),
        enc(key),
        enc(etag)
    ))
}

/// The `PostResponse` document of `success_action_status=201`.
fn post_response(location: &str, bucket: &str, key: &str, etag: &str) -> Bytes {
    use crate::xml::escape;
    Bytes::from(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag></PostResponse>",
        escape(location),
        escape(bucket),
        escape(key),
        escape(etag)
    ))
}
