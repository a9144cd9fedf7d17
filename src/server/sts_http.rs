//! The STS endpoint over HTTP: body collection, SigV4 verification for service `sts`, credential
//! resolution, and STS-shaped errors. The actions themselves live in [`crate::sts`].

use super::limits::LimitFacts;
use crate::config::RequestKind;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use sha2::{Digest, Sha256};

use super::State;
use super::authn::{self, AuthError, Front, Route};
use crate::identity::CredentialError;
use crate::sigv4::{AmzDate, SigV4Error, UriMode};
use crate::sts::{StsError, parse_form, xml};

/// Largest STS request body accepted (Query API bodies are small forms).
pub const MAX_STS_BODY: usize = 64 * 1024;

/// How long an unsigned STS body (AssumeRoleWithWebIdentity's form) may take to arrive at most:
/// it is read before anything proves who sent it.
pub const UNSIGNED_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Renders an STS response.
pub fn respond(status: u16, body: String, request_id: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "text/xml")
        .header("x-amzn-RequestId", request_id)
        .header(
            header::DATE,
            httpdate::fmt_http_date(std::time::SystemTime::now()),
        )
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}

fn error(e: StsError, request_id: &str) -> Response<Full<Bytes>> {
    crate::audit::note_error(e.code, &e.message);
    respond(
        e.status,
        xml::error(e.code, &e.message, e.is_sender(), request_id),
        request_id,
    )
}

/// How STS reports SigV4 failures (spec sts-iam.md §1.4): not S3's codes.
pub fn sigv4_to_sts(e: &SigV4Error, now: AmzDate, max_skew_secs: u64) -> StsError {
    let incomplete = |m: String| StsError {
        status: 400,
        code: "IncompleteSignature",
        message: m,
    };
    match e {
        SigV4Error::AuthorizationHeaderMalformed { message, region } | SigV4Error::AuthorizationQueryParametersError { message, region } => {
            if region.is_some() {
                let sent = message.split("the region '").nth(1).and_then(|r| r.split('\'').next()).unwrap_or("");
                StsError { status: 403, code: "SignatureDoesNotMatch", message: format!("Credential should be scoped to a valid region, not '{sent}'. ") }
            } else if message.contains("incorrect service") {
                StsError { status: 403, code: "SignatureDoesNotMatch", message: "Credential should be scoped to correct service: 'sts'. ".into() }
            } else {
                incomplete(message.clone())
            }
        }
        SigV4Error::RequestTimeTooSkewed { request_time, .. } => {
            let sent = AmzDate::parse(request_time).or_else(|| AmzDate::parse_http_date(request_time));
            let skew = i64::try_from(max_skew_secs).unwrap_or(900);
            let message = match sent {
                Some(d) if d.unix() > now.unix() => format!(
                    "Signature not yet current: {} is still later than {} ({} + 15 min.)",
                    d.as_str(),
                    AmzDate::from_unix(now.unix() + skew).as_str(),
                    now.as_str()
                ),
                _ => format!(
                    "Signature expired: {request_time} is now earlier than {} ({} - 15 min.)",
                    AmzDate::from_unix(now.unix() - skew).as_str(),
                    now.as_str()
                ),
            };
            StsError { status: 403, code: "SignatureDoesNotMatch", message }
        }
        SigV4Error::SignatureDoesNotMatch(_) => StsError {
            status: 403,
            code: "SignatureDoesNotMatch",
            message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.".into(),
        },
        SigV4Error::AccessDenied { expired: Some(_), .. } => StsError { status: 400, code: "RequestExpired", message: "Request has expired.".into() },
        SigV4Error::HeadersNotSigned { headers } => StsError { status: 403, code: "AccessDenied", message: format!("There were headers present in the request which were not signed: {}", headers.join(", ")) },
        SigV4Error::NotImplemented(m) => StsError { status: 501, code: "NotImplemented", message: m.clone() },
        other => incomplete(other.message()),
    }
}

fn credential_error(e: CredentialError) -> StsError {
    match e {
        CredentialError::UnknownAccessKey | CredentialError::InvalidToken => StsError {
            status: 403,
            code: "InvalidClientTokenId",
            message: "The security token included in the request is invalid.".into(),
        },
        CredentialError::Expired => StsError {
            status: 403,
            code: "ExpiredToken",
            message: "The security token included in the request is expired".into(),
        },
        CredentialError::Revoked => StsError {
            status: 403,
            code: "AccessDenied",
            message: crate::revocation::REVOKED_MESSAGE.into(),
        },
    }
}

/// Reads an STS form body: at most [`MAX_STS_BODY`] bytes within the body-read timeout.
async fn read_body(
    peer: SocketAddr,
    body: Incoming,
    timeout: std::time::Duration,
) -> Result<Bytes, StsError> {
    let read = Limited::new(body, MAX_STS_BODY).collect();
    match tokio::time::timeout(timeout, read).await {
        Ok(Ok(b)) => Ok(b.to_bytes()),
        Err(_elapsed) => {
            tracing::info!(%peer, timeout_seconds = timeout.as_secs(), "STS request body did not arrive in time");
            Err(StsError {
                status: 400,
                code: "RequestTimeout",
                message: "Your socket connection to the server was not read from or written to within the timeout period.".into(),
            })
        }
        Ok(Err(_)) => Err(StsError {
            status: 400,
            code: "ValidationError",
            message: format!("The request body is larger than {MAX_STS_BODY} bytes or was cut off"),
        }),
    }
}

/// Serves one STS request (routed here by [`super::authn::route`]).
pub async fn handle(
    state: &State,
    peer: SocketAddr,
    parts: &http::request::Parts,
    front: Front<'_>,
    body: Incoming,
) -> Response<Full<Bytes>> {
    let request_id = xml::request_id();
    crate::audit::note(|f| {
        f.event_source = "sts.amazonaws.com";
        f.request_id = request_id.clone();
    });
    match serve(state, peer, parts, &front, body, &request_id).await {
        Ok(body) => respond(200, body, &request_id),
        Err(Refusal::Sts(e)) => error(e, &request_id),
        Err(Refusal::Throttled(t)) => {
            let mut r = error(
                StsError {
                    status: 400,
                    code: "Throttling",
                    message: "Rate exceeded".into(),
                },
                &request_id,
            );
            super::limits::add_retry_after(&mut r, &t);
            r
        }
    }
}

/// Why an STS request got no answer: STS's own error, or a rate limit.
enum Refusal {
    Sts(StsError),
    Throttled(crate::throttle::Throttled),
}

impl From<StsError> for Refusal {
    fn from(e: StsError) -> Refusal {
        Refusal::Sts(e)
    }
}

/// The rate limit kind of an STS action: the ones that take credentials out count apart.
fn kind_of(action: &str) -> RequestKind {
    match action {
        "AssumeRole" | "AssumeRoleWithWebIdentity" | "GetSessionToken" => {
            RequestKind::StsCredentials
        }
        _ => RequestKind::Sts,
    }
}

/// The STS request path: authenticate (the caller from the headers, then the body, then the
/// signature over it) → the action's parameters → the action.
async fn serve(
    state: &State,
    peer: SocketAddr,
    parts: &http::request::Parts,
    front: &Front<'_>,
    body: Incoming,
    request_id: &str,
) -> Result<String, Refusal> {
    if let Err(e) = &front.host {
        return Err(Refusal::Sts(StsError {
            status: 400,
            code: "InvalidRequest",
            message: e.0.into(),
        }));
    }
    let (parsed, caller, body) = match authenticate(state, peer, front, body).await? {
        Authenticated::Signed(parsed, caller, body) => (parsed, caller, body),
        Authenticated::Unsigned(body) => {
            return unsigned(state, peer, parts, front, request_id, body).await;
        }
    };
    let params = operation_params(parts, front.req.query, &body)?;
    let info = authn::request_info(state, parts, front, peer, parsed.credential.region());
    let action = note_action(&params);
    super::limits::check(
        state,
        peer,
        LimitFacts {
            kind: kind_of(&action),
            caller: Some(&caller),
            access_key: Some(parsed.credential.access_key_id()),
            bucket: None,
            route: None,
        },
    )
    .await
    .map_err(Refusal::Throttled)?;
    let answer = state.sts.handle(&params, &caller, &info, request_id).await;
    match &answer {
        Ok(_) => tracing::info!(action = %action, caller = %caller.arn(), "sts request allowed"),
        Err(e) => {
            tracing::info!(action = %action, caller = %caller.arn(), code = e.code, "sts request refused")
        }
    }
    Ok(answer?)
}

/// The action, noted for the audit record.
fn note_action(params: &[(String, String)]) -> String {
    let action = params
        .iter()
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    crate::audit::note(|f| {
        f.event_name = action.clone();
        f.read_only = Some(matches!(
            action.as_str(),
            "GetCallerIdentity" | "GetAccessKeyInfo" | "DecodeAuthorizationMessage"
        ));
    });
    action
}

/// An unsigned STS request: only AssumeRoleWithWebIdentity, whose token is the credential.
/// An address locked out by the attempt limits is refused before its body is read.
async fn unsigned(
    state: &State,
    peer: SocketAddr,
    parts: &http::request::Parts,
    front: &Front<'_>,
    request_id: &str,
    body: Incoming,
) -> Result<String, Refusal> {
    let missing = || StsError {
        status: 403,
        code: "MissingAuthenticationToken",
        message: "Request is missing Authentication Token".into(),
    };
    let federation = &state.sts.federation;
    // Without a provider no unsigned request can succeed: refused at once, its body unread.
    if federation.is_empty() {
        return Err(missing().into());
    }
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_STS_BODY as u64) {
        return Err(StsError {
            status: 400,
            code: "ValidationError",
            message: format!("The request body is larger than {MAX_STS_BODY} bytes"),
        }
        .into());
    }
    if federation.limits.locked(Some(peer.ip()), None) {
        return Err(StsError {
            status: 400,
            code: "InvalidIdentityToken",
            message: "Too many invalid web identity tokens from this address or for this provider: try again later".into(),
        }
        .into());
    }
    // Anyone can send an unsigned body: it gets a short read timeout of its own.
    let timeout = state
        .config
        .limits
        .body_read_timeout
        .min(UNSIGNED_BODY_TIMEOUT);
    let body = read_body(peer, body, timeout).await?;
    let params = operation_params(parts, front.req.query, &body)?;
    let action = note_action(&params);
    if action != "AssumeRoleWithWebIdentity" {
        return Err(missing().into());
    }
    // No caller yet: rules by source address (and any without a key) count it.
    super::limits::check(
        state,
        peer,
        LimitFacts {
            kind: RequestKind::StsCredentials,
            caller: None,
            access_key: None,
            bucket: None,
            route: None,
        },
    )
    .await
    .map_err(Refusal::Throttled)?;
    // Unsigned: no credential scope names a region; the first configured one stands in.
    let info = authn::request_info(state, parts, front, peer, state.default_region());
    let answer = state.sts.handle_unsigned(&params, &info, request_id).await;
    match &answer {
        Ok(_) => tracing::info!(action = %action, "sts request allowed"),
        Err(e) => tracing::info!(action = %action, code = e.code, "sts request refused"),
    }
    Ok(answer?)
}

/// Who is calling comes from the headers (or query), before a byte of the body is read: an
/// unsigned request, or one naming a key or token that does not open, never holds its
/// connection for the body-read timeout. Then the body, and the signature that covers it.
async fn authenticate<'f, 'a>(
    state: &State,
    peer: SocketAddr,
    front: &'f Front<'a>,
    body: Incoming,
) -> Result<Authenticated<'f, 'a>, StsError> {
    let skew = state.config.server.max_clock_skew.as_secs();
    let refused = |e: AuthError| match e {
        AuthError::Credential(e) => credential_error(e),
        AuthError::SigV4(e) => sigv4_to_sts(&e, front.now, skew),
    };
    let Some(parsed) = authn::signed(state, Route::Sts, front, &state.all_regions, peer)
        .map_err(|e| sigv4_to_sts(&e, front.now, skew))?
    else {
        return Ok(Authenticated::Unsigned(body));
    };
    let caller = authn::resolve(state, Route::Sts, front, parsed, peer).map_err(refused)?;
    let body = read_body(peer, body, state.config.limits.body_read_timeout).await?;
    // The signature covers the body: only now is the caller proven.
    let payload_hash = hex::encode(Sha256::digest(&body));
    authn::verify(
        state,
        Route::Sts,
        front,
        parsed,
        &caller,
        &payload_hash,
        UriMode::Normalized,
        peer,
    )
    .map_err(refused)?;
    Ok(Authenticated::Signed(parsed, caller, body))
}

/// A proven caller with the body its signature covers, or an unsigned request (its body unread).
enum Authenticated<'f, 'a> {
    Signed(
        &'f crate::sigv4::ParsedAuth<'a>,
        crate::identity::Caller,
        Bytes,
    ),
    Unsigned(Incoming),
}

/// The action's parameters: the query (less presign parameters, which are authentication) and
/// an urlencoded form body.
fn operation_params(
    parts: &http::request::Parts,
    query: &str,
    body: &[u8],
) -> Result<Vec<(String, String)>, StsError> {
    let mut params = parse_form(query)?;
    params.retain(|(k, _)| !k.starts_with("X-Amz-"));
    let form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if form {
        let fields = std::str::from_utf8(body)
            .ok()
            .and_then(|t| parse_form(t).ok())
            .ok_or_else(|| StsError {
                status: 400,
                code: "MalformedQueryString",
                message: "The request body is not a valid form".into(),
            })?;
        params.extend(fields);
    }
    Ok(params)
}
