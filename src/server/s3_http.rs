//! The S3 path over HTTP, read as its pipeline ([`pipeline`]): authenticate (SigV4 or the
//! anonymous principal) → classify into the typed request (`crate::s3`) → read a DeleteObjects
//! body (its keys are checks) → authorize every check with the [`Authorizer`] → open upload ids →
//! the gateway's own bucket policy answers → forward (`crate::proxy::s3`). Each stage returns the
//! refusal it renders through one [`Reply`]; S3's `<Error>` is written in [`error_response`].

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::authn::{self, AuthError, Front, Route};
use super::s3_reply::{Refused, Reply, S3Error, classify_error, read_signed_body};
use super::{GatewayBody, State};
use crate::authz::{caller_policies, failure_message};
use crate::identity::CredentialError;
use crate::policy::Decision;
use crate::s3::{address, classify};
use crate::sigv4::{AuthKind, PayloadMode, UriMode};
use crate::sts::parse_form;

mod post;

/// Serves one S3 request. On HTTP/1, a response sent while the request body is unread either
/// drains a small body (so the connection can carry the next request) or says
/// `Connection: close`, so the client does not write its next request into a closed socket.
pub async fn handle(
    state: &State,
    peer: SocketAddr,
    parts: &http::request::Parts,
    front: Front<'_>,
    body: Incoming,
) -> Response<GatewayBody> {
    let mut body = Some(body);
    let host = front.host.clone().ok().flatten();
    let cors = super::cors_http::s3_rules(state, parts, host);
    let mut response = if parts.method == http::Method::OPTIONS {
        let object = super::cors_http::addresses_object(state, parts, host);
        let mut answer = preflight(parts, cors, object);
        answer.extensions_mut().insert(super::metrics::Preflight);
        answer
    } else {
        let mut response = serve(state, peer, parts, &front, &mut body).await;
        super::cors_http::decorate(&mut response, cors, parts);
        response
    };
    let http1 = matches!(
        parts.version,
        http::Version::HTTP_10 | http::Version::HTTP_11
    );
    if !http1 {
        return response;
    }
    let refused_mid_body = body.is_none()
        && response
            .extensions()
            .get::<super::metrics::Refusal>()
            .is_some()
        && (parts.headers.contains_key(header::CONTENT_LENGTH)
            || parts.headers.contains_key(header::TRANSFER_ENCODING));
    let keep_alive = match body {
        None => !refused_mid_body,
        Some(unread) => drain_unread(parts, unread).await,
    };
    if !keep_alive {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// A CORS preflight, answered from the bucket's rules without authentication: it never reaches
/// the backend (S3 answers preflights itself, whatever the bucket policy says).
fn preflight(
    parts: &http::request::Parts,
    rules: Option<&crate::cors::CorsConfig>,
    object: bool,
) -> Response<GatewayBody> {
    let request_id = super::new_request_id();
    crate::audit::note(|f| {
        f.event_source = "s3.amazonaws.com";
        f.event_name = "PreflightRequest".into();
        f.request_id = request_id.clone();
        f.read_only = Some(true);
    });
    let asked = super::cors_http::ask(parts);
    match asked.and_then(|ask| super::cors_http::preflight(rules, &ask)) {
        Ok(grant) => super::cors_http::allowed(&grant, &request_id),
        Err(refusal) => {
            let method = parts
                .headers
                .get("access-control-request-method")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            super::s3_reply::render(
                S3Error::Preflight {
                    refusal,
                    method,
                    object,
                },
                false,
                &request_id,
            )
        }
    }
}

/// Largest unread request body drained after an early response (bigger ones close the connection).
const DRAIN_LIMIT: u64 = 64 * 1024;

/// Reads and discards an unread request body if it is small and already on its way; true if
/// the connection can be reused.
async fn drain_unread(parts: &http::request::Parts, body: Incoming) -> bool {
    use http_body::Body as _;
    if body.is_end_stream() {
        return true;
    }
    // With Expect: 100-continue the client waits for a go-ahead that a refusal never gives.
    if parts.headers.contains_key(header::EXPECT) {
        return false;
    }
    if body.size_hint().upper().is_none_or(|n| n > DRAIN_LIMIT) {
        return false;
    }
    let drain = http_body_util::Limited::new(body, DRAIN_LIMIT as usize).collect();
    matches!(
        tokio::time::timeout(std::time::Duration::from_secs(2), drain).await,
        Ok(Ok(_))
    )
}

async fn serve(
    state: &State,
    peer: SocketAddr,
    parts: &http::request::Parts,
    front: &Front<'_>,
    body_slot: &mut Option<Incoming>,
) -> Response<GatewayBody> {
    let request_id = super::new_request_id();
    let reply = Reply {
        head: parts.method == http::Method::HEAD,
        request_id: &request_id,
    };
    let form = post::is_post_upload(parts);
    crate::audit::note(|f| {
        f.event_source = "s3.amazonaws.com";
        // The operation's name once classified; until then, the method.
        f.event_name = if form {
            "PostObject".into()
        } else {
            parts.method.to_string()
        };
        f.request_id = request_id.clone();
        f.read_only = Some(matches!(
            parts.method,
            http::Method::GET | http::Method::HEAD
        ));
    });
    let served = if form {
        post::upload(state, peer, parts, front, body_slot, &reply).await
    } else {
        pipeline(state, peer, parts, front, body_slot, &reply).await
    };
    served.unwrap_or_else(|refused| *refused)
}

/// The S3 request path: read → authenticate → classify → authorize → forward, each stage a
/// function below; the first refusal ends it.
async fn pipeline(
    state: &State,
    peer: SocketAddr,
    parts: &http::request::Parts,
    front: &Front<'_>,
    body_slot: &mut Option<Incoming>,
    reply: &Reply<'_>,
) -> Result<Response<GatewayBody>, Refused> {
    // 0. The one reading of the host: the signature check, classification and forwarding use it.
    let host = host_of(front, reply)?;
    // 1. Authenticate (or go on as the anonymous principal).
    let mut auth = authenticate(state, peer, parts, front, reply)?;
    // The chunk signatures' key, for the body forwarding verifies.
    let signing = auth.signing.take();
    // 2. Classify into the typed request the backend will get.
    let mut classified = classify_request(state, parts, host, front.req.query, &auth, reply)?;
    // 3. Rate limits, with the caller and the bucket known.
    let bucket = classified.target.bucket.as_deref();
    throttle(state, peer, &auth, bucket, reply).await?;
    let delete_body =
        delete_objects_body(state, parts, &mut classified, &auth, body_slot, reply).await?;
    // The one lookup of the backend: its bucket owners here, its connection in `forward`.
    let backend = state.s3_backend(host.unwrap_or(""));
    let website_allowed = backend.is_some_and(|b| b.allow_bucket_website);
    crate::s3::subresources::check_enabled(classified.operation, website_allowed)
        .map_err(|e| reply.classify(e))?;
    // 4. Authorize every check: the caller's policies, and the policy of the bucket it touches
    //    (whose owner decides whether this is same-account or cross-account access).
    let authorizer = Authorizer::new(state, peer, parts, front, &auth, backend, reply)?;
    for check in &classified.checks {
        authorizer.check(check.action, &check.resource, &classified.condition_keys)?;
    }
    // Upload ids are the gateway's, bound to backend, bucket and key: the backend gets its own id
    // only for the upload this request was authorized for.
    if let Some(b) = backend {
        crate::proxy::upload_id::open_request(&state.keyring, &b.name, &mut classified)
            .map_err(|e| reply.classify(e))?;
    }
    // Bucket policies live in the gateway's config: it answers for them, the backend's own
    // policy is never read or changed through the gateway.
    let caller_account = auth.caller.as_ref().map(|c| c.account());
    if let Some(answer) = super::bucket_policy::answer(
        state,
        authorizer.buckets,
        &classified,
        caller_account,
        body_slot,
        auth.mode,
        reply.head,
        reply.request_id,
    )
    .await
    {
        return Ok(answer);
    }
    // 5. Forward the typed request.
    let response = forward(
        state,
        backend,
        parts,
        host,
        &mut classified,
        delete_body,
        body_slot,
        (&auth, signing),
        reply,
    )
    .await?;
    // As S3 does: a caller who may not list the bucket learns nothing from a missing key, so
    // the backend's 404 becomes the AccessDenied that s3:ListBucket would have given.
    if response.status() == StatusCode::NOT_FOUND
        && matches!(classified.operation, "GetObject" | "HeadObject")
        && let Some(bucket) = &classified.target.bucket
    {
        authorizer.check("s3:ListBucket", &format!("arn:aws:s3:::{bucket}"), &[])?;
    }
    Ok(response)
}

/// The request's one host (see `server::host`), or S3's refusal of one that cannot be read.
fn host_of<'a>(front: &Front<'a>, reply: &Reply<'_>) -> Result<Option<&'a str>, Refused> {
    front
        .host
        .as_ref()
        .map(|h| *h)
        .map_err(|e| reply.refuse(S3Error::Host(e.0)))
}

/// Who sent the request, and how its body is to be read.
struct Authenticated<'f, 'a> {
    /// The signature material (`None`: an anonymous request).
    parsed: Option<&'f crate::sigv4::ParsedAuth<'a>>,
    caller: Option<crate::identity::Caller>,
    /// Taken by the pipeline for forwarding (streaming chunk signatures).
    signing: Option<crate::sigv4::SigningContext>,
    /// The signed payload line (`UNSIGNED-PAYLOAD` for an anonymous request).
    payload_line: String,
    mode: PayloadMode,
    /// A browser POST upload (its policy was signed, not the request): the key that signed it.
    post_form: Option<String>,
}

impl Authenticated<'_, '_> {
    fn who(&self) -> &str {
        self.caller.as_ref().map_or("anonymous", |c| c.arn())
    }

    /// The access key the request (or the POST policy) was signed with.
    fn access_key(&self) -> Option<&str> {
        self.parsed
            .map(|p| p.credential.access_key_id())
            .or(self.post_form.as_deref().filter(|k| !k.is_empty()))
    }
}

/// The rate limit stage of S3 requests (see [`super::limits`]).
async fn throttle(
    state: &State,
    peer: SocketAddr,
    auth: &Authenticated<'_, '_>,
    bucket: Option<&str>,
    reply: &Reply<'_>,
) -> Result<(), Refused> {
    super::limits::check(
        state,
        peer,
        super::limits::LimitFacts {
            kind: crate::config::RequestKind::S3,
            caller: auth.caller.as_ref(),
            access_key: auth.access_key(),
            bucket,
            route: None,
        },
    )
    .await
    .map_err(|t| reply.refuse(S3Error::SlowDown(t)))
}

/// Verifies the signature and resolves the caller. An unsigned GET or HEAD without a body goes
/// on as the anonymous principal: only a bucket policy granting "*" can let it through. Any
/// other unsigned request is refused here.
fn authenticate<'f, 'a>(
    state: &State,
    peer: SocketAddr,
    parts: &http::request::Parts,
    front: &'f Front<'a>,
    reply: &Reply<'_>,
) -> Result<Authenticated<'f, 'a>, Refused> {
    let parsed = authn::signed(state, Route::S3, front, &state.config.server.regions, peer)
        .map_err(|e| reply.sigv4(&e))?;
    if parsed.is_none() {
        if !matches!(parts.method, http::Method::GET | http::Method::HEAD) {
            return Err(reply.refuse(S3Error::AnonymousWrite));
        }
        // An anonymous read has no body: one that comes with a body is refused, not forwarded.
        if parts.headers.contains_key(header::TRANSFER_ENCODING)
            || parts
                .headers
                .get(header::CONTENT_LENGTH)
                .is_some_and(|v| v.as_bytes() != b"0")
        {
            return Err(reply.refuse(S3Error::AnonymousBody));
        }
    }
    // An unsigned request's body hash header is not signed: it is not trusted for anything.
    let payload_line = parsed
        .and_then(|p| p.content_sha256)
        .unwrap_or("UNSIGNED-PAYLOAD")
        .to_string();
    let mode = PayloadMode::parse(&payload_line).map_err(|e| reply.sigv4(&e))?;
    let (caller, signing) = match parsed {
        Some(parsed) => {
            let (caller, signing) = authn::authenticate(
                state,
                Route::S3,
                front,
                parsed,
                &payload_line,
                UriMode::S3,
                peer,
            )
            .map_err(|e| match e {
                AuthError::Credential(e) => reply.credential(e),
                AuthError::SigV4(e) => reply.sigv4(&e),
            })?;
            (Some(caller), Some(signing))
        }
        None => (None, None),
    };
    Ok(Authenticated {
        parsed,
        caller,
        signing,
        payload_line,
        mode,
        post_form: None,
    })
}

/// The typed request: bucket and key from host and path, the operation and its checks, its own
/// parameters and headers (see [`crate::s3::classify`]).
fn classify_request(
    state: &State,
    parts: &http::request::Parts,
    host: Option<&str>,
    query: &str,
    auth: &Authenticated<'_, '_>,
    reply: &Reply<'_>,
) -> Result<crate::s3::Classified, Refused> {
    let decoded_query = parse_form(query).map_err(|e| reply.refuse(S3Error::Query(e.message)))?;
    // As S3: the response-* overrides are for signed requests only. Honoured for an anonymous
    // reader, they would let anyone serve a public object as text/html from the gateway's origin.
    if auth.caller.is_none()
        && decoded_query
            .iter()
            .any(|(k, _)| k.starts_with("response-"))
    {
        return Err(reply.refuse(S3Error::AnonymousOverrides));
    }
    let target = address(host, parts.uri.path(), &state.config.server.public_hosts)
        .map_err(|e| reply.classify(e))?;
    let mut classified = classify(
        parts.method.as_str(),
        &target,
        &decoded_query,
        &parts.headers,
    )
    .map_err(|e| reply.classify(e))?;
    crate::audit::note(|f| {
        f.event_name = classified.operation.to_string();
        f.bucket = classified.target.bucket.clone();
        f.key = classified.target.key.clone();
    });
    // The payload line is signed in both modes; a presigned request's header is not.
    classified
        .condition_keys
        .push(("s3:x-amz-content-sha256", auth.payload_line.clone()));
    Ok(classified)
}

/// DeleteObjects names its keys in the body: read it (it is small), verify it, turn every key
/// into a check, and keep the gateway's own serialisation of what was checked to forward.
/// Other bodies stay unread: they stream only once authorized.
async fn delete_objects_body(
    state: &State,
    parts: &http::request::Parts,
    classified: &mut crate::s3::Classified,
    auth: &Authenticated<'_, '_>,
    body_slot: &mut Option<Incoming>,
    reply: &Reply<'_>,
) -> Result<Option<Bytes>, Refused> {
    if !classified.per_key_delete {
        return Ok(None);
    }
    let Some(body) = body_slot.take() else {
        return Ok(None);
    };
    let (list, checks) = delete_objects_checks(
        body,
        auth.mode,
        &classified.target,
        &parts.headers,
        state.config.limits.body_read_timeout,
        reply.request_id,
    )
    .await?;
    classified.checks = checks;
    Ok(Some(Bytes::from(list.to_xml())))
}

/// Evaluates the request's checks for its caller (or the anonymous principal), with the bucket
/// policy of the bucket each check touches.
struct Authorizer<'s> {
    state: &'s State,
    caller: Option<&'s crate::identity::Caller>,
    policies: Option<crate::authz::CallerPolicies>,
    principal: crate::policy::Principal,
    info: crate::sts::RequestInfo,
    parsed: Option<&'s crate::sigv4::ParsedAuth<'s>>,
    buckets: &'s crate::config::Buckets,
    now: crate::sigv4::AmzDate,
    post_form: bool,
    reply: &'s Reply<'s>,
}

/// The bucket owners of a gateway without an S3 backend: none.
static NO_BUCKETS: std::sync::LazyLock<crate::config::Buckets> =
    std::sync::LazyLock::new(crate::config::Buckets::default);

impl<'s> Authorizer<'s> {
    fn new(
        state: &'s State,
        peer: SocketAddr,
        parts: &http::request::Parts,
        front: &Front<'_>,
        auth: &'s Authenticated<'s, 's>,
        backend: Option<&'s super::BackendClient>,
        reply: &'s Reply<'s>,
    ) -> Result<Authorizer<'s>, Refused> {
        let region = auth
            .parsed
            .map_or(state.config.server.regions[0].as_str(), |p| {
                p.credential.region()
            });
        let policies = match &auth.caller {
            Some(c) => Some(
                caller_policies(&state.identities, c)
                    .map_err(|_| reply.credential(CredentialError::InvalidToken))?,
            ),
            None => None,
        };
        Ok(Authorizer {
            state,
            caller: auth.caller.as_ref(),
            policies,
            principal: auth
                .caller
                .as_ref()
                .map_or_else(crate::policy::Principal::anonymous, |c| c.principal()),
            info: authn::request_info(state, parts, front, peer, region),
            parsed: auth.parsed,
            buckets: backend.map_or(&*NO_BUCKETS, |b| &b.buckets),
            now: front.now,
            post_form: auth.post_form.is_some(),
            reply,
        })
    }

    /// Evaluates one check; on a refusal, the AccessDenied response with its sealed message.
    fn check(
        &self,
        action: &str,
        resource: &str,
        request_keys: &[(&'static str, String)],
    ) -> Result<(), Refused> {
        let facts = crate::s3::bucket_of_arn(resource).map(|b| self.buckets.lookup(b));
        let bucket_policy = facts
            .and_then(|f| f.entry)
            .and_then(|e| e.policy.as_deref());
        let ctx = self.context(action, resource, request_keys, facts.map(|f| f.owner));
        let outcome = match &self.policies {
            Some(p) => p.with_evaluation(&self.principal, bucket_policy, |eval| {
                crate::policy::decide(eval, &ctx)
            }),
            None => crate::policy::decide(
                &crate::policy::Evaluation {
                    resource: bucket_policy,
                    principal: Some(&self.principal),
                    ..Default::default()
                },
                &ctx,
            ),
        };
        if outcome.decision == Decision::Allow {
            return Ok(());
        }
        let who = self.caller.map_or("anonymous", |c| c.arn());
        if let Some(suppressed) = self.state.metrics.refusal_log() {
            tracing::info!(caller = %who, action, resource, decision = outcome.decision.as_str(), suppressed_since_last = suppressed, "s3 request refused");
        }
        let Some(caller) = self.caller else {
            // As S3 answers anonymous callers: no principal to name, nothing to decode.
            return Err(self.reply.refuse(S3Error::AccessDenied(None)));
        };
        let blob = self
            .state
            .sts
            .seal_authorization_message(caller.account(), failure_message(&outcome, &ctx, caller));
        Err(self.reply.refuse(S3Error::AccessDenied(Some(format!(
                "User: {} is not authorized to perform: {} on resource: {} {} Encoded authorization failure message: {blob}",
                caller.arn(),
                action,
                resource,
                outcome.reason(action)
            )))))
    }

    /// The request context of one check: the caller's (or anonymous) global keys, the
    /// request's own keys, the bucket owner and how the request was signed.
    fn context(
        &self,
        action: &str,
        resource: &str,
        request_keys: &[(&'static str, String)],
        owner: Option<&str>,
    ) -> crate::policy::RequestContext {
        let mut ctx = match (self.caller, &self.policies) {
            (Some(c), Some(p)) => p.context(action, resource, c, &self.info),
            _ => crate::authz::anonymous_context(action, resource, &self.info),
        };
        for (key, value) in request_keys {
            ctx.set(*key, value.clone());
        }
        if let Some(owner) = owner {
            ctx.set("aws:ResourceAccount", owner);
        }
        if self.post_form && self.caller.is_some() {
            ctx.set("s3:signatureversion", "AWS4-HMAC-SHA256")
                .set("s3:authType", "POST");
        }
        if let Some(parsed) = self.parsed {
            ctx.set("s3:signatureversion", "AWS4-HMAC-SHA256");
            match parsed.kind {
                AuthKind::Header => {
                    ctx.set("s3:authType", "REST-HEADER");
                }
                AuthKind::Presigned => {
                    ctx.set("s3:authType", "REST-QUERY-STRING").set(
                        "s3:signatureAge",
                        parsed.signature_age_ms(self.now).to_string(),
                    );
                }
            }
        }
        ctx
    }
}

/// Forwards the authorized, typed request (see [`crate::proxy::s3::forward`]).
#[allow(clippy::too_many_arguments)]
async fn forward(
    state: &State,
    backend: Option<&super::BackendClient>,
    parts: &http::request::Parts,
    host: Option<&str>,
    classified: &mut crate::s3::Classified,
    delete_body: Option<Bytes>,
    body_slot: &mut Option<Incoming>,
    (auth, signing): (&Authenticated<'_, '_>, Option<crate::sigv4::SigningContext>),
    reply: &Reply<'_>,
) -> Result<Response<GatewayBody>, Refused> {
    // Debug, not info: the audit trail is the per-request record; a line per request on stderr
    // cost a formatted event and a write(2) each.
    tracing::debug!(
        operation = classified.operation,
        bucket = classified.target.bucket.as_deref().unwrap_or(""),
        key = classified.target.key.as_deref().unwrap_or(""),
        caller = %auth.who(),
        payload = %auth.payload_line,
        "s3 request authorized; forwarding"
    );
    let body = match (delete_body, body_slot.take()) {
        (Some(bytes), _) => crate::proxy::s3::RequestBody::Buffered(bytes),
        (None, Some(body)) => crate::proxy::s3::RequestBody::Stream(body),
        (None, None) => {
            return Err(reply.refuse(S3Error::BodyAlreadyRead));
        }
    };
    let facts = gateway_facts(state);
    // The typed request's headers move into the upstream request (no copy).
    let upstream_headers = std::mem::take(&mut classified.headers);
    crate::proxy::s3::forward(
        &facts,
        backend,
        parts,
        host.unwrap_or(""),
        classified,
        upstream_headers,
        body,
        auth.mode,
        &auth.payload_line,
        signing,
        auth.who(),
        auth.caller.as_ref().map(|c| c.account()),
    )
    .await
    .map_err(|e| reply.forward(e))
}

/// What forwarding needs of the gateway (the same for every request of a snapshot).
fn gateway_facts(state: &State) -> crate::proxy::s3::GatewayFacts<'_> {
    let config = &state.config;
    crate::proxy::s3::GatewayFacts {
        keyring: &state.keyring,
        region: config.server.regions[0].as_str(),
        scheme: if config.server.tls.is_some() {
            "https"
        } else {
            "http"
        },
        public_hosts: &config.server.public_hosts,
        worker: super::worker_id(),
    }
}

/// Largest DeleteObjects body accepted (1,000 keys of up to 1,024 bytes, plus markup).
const MAX_DELETE_BODY: usize = 2 * 1024 * 1024;

/// Reads, verifies and parses a DeleteObjects body; returns it with one check per key (and
/// `s3:BypassGovernanceRetention` per key when the request asks to bypass governance mode).
async fn delete_objects_checks(
    body: Incoming,
    mode: PayloadMode,
    target: &crate::s3::Target,
    headers: &http::HeaderMap,
    timeout: std::time::Duration,
    request_id: &str,
) -> Result<(crate::s3::DeleteList, Vec<crate::s3::Check>), Box<Response<GatewayBody>>> {
    let bytes = read_signed_body(
        body,
        mode,
        MAX_DELETE_BODY,
        timeout,
        "DeleteObjects",
        request_id,
    )
    .await?;
    let list = crate::s3::DeleteList::parse(&bytes)
        .map_err(|e| Box::new(classify_error(e, false, request_id)))?;
    let bucket = target.bucket.as_deref().unwrap_or_default();
    let bypass = crate::s3::classify::bypasses_governance(headers);
    let mut checks = Vec::with_capacity(list.objects.len() * (1 + usize::from(bypass)));
    for object in &list.objects {
        let resource = format!("arn:aws:s3:::{bucket}/{}", object.key);
        if bypass {
            checks.push(crate::s3::Check {
                action: "s3:BypassGovernanceRetention",
                resource: resource.clone(),
            });
        }
        checks.push(crate::s3::Check {
            action: if object.version_id.is_some() {
                "s3:DeleteObjectVersion"
            } else {
                "s3:DeleteObject"
            },
            resource,
        });
    }
    Ok((list, checks))
}
