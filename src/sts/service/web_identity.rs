//! AssumeRoleWithWebIdentity: an unsigned call whose token is the credential. The stages:
//! parameters → attempt limits → the token verified by its provider in the role's account
//! ([`crate::federation`]) → the role and its trust policy, for the provider as principal,
//! with the provider's condition keys → a role session that carries the provider and its web
//! identity keys. Every failure is one of AWS's codes for this action; failures are counted
//! against the source address and the provider.

use std::net::IpAddr;

use super::{
    SessionTags, StsError, StsService, check_role_names, check_source_identity, params_get,
    required,
};
use crate::authz::RequestInfo;
use crate::federation::{FederationError, Identity};
use crate::oidc::TokenError;
use crate::policy::{Principal, PrincipalKind, RequestContext, authorize_by_trust};
use crate::sts::xml::{escape, success};

/// The claim that carries session tags (IAM User Guide, "Passing session tags using
/// AssumeRoleWithWebIdentity").
const TAGS_CLAIM: &str = "https://aws.amazon.com/tags";
/// The claim that carries a source identity.
const SOURCE_IDENTITY_CLAIM: &str = "https://aws.amazon.com/source_identity";

const DENIED: &str = "Not authorized to perform sts:AssumeRoleWithWebIdentity";

fn invalid_token(message: impl Into<String>) -> StsError {
    StsError::new(400, "InvalidIdentityToken", message)
}

/// AWS's code and message for a token that gave no identity.
fn refusal(e: &FederationError) -> StsError {
    use TokenError as T;
    match e {
        FederationError::UnknownProvider(iss) => invalid_token(format!(
            "No OpenIDConnect provider found in your account for {iss}"
        )),
        FederationError::NoKeys => StsError::new(
            400,
            "IDPCommunicationError",
            "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements",
        ),
        FederationError::Token(t) => match t {
            T::Length(n) => StsError::validation(format!(
                "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length {} (it has {n})",
                if *n < 4 {
                    "greater than or equal to 4"
                } else {
                    "less than or equal to 20000"
                }
            )),
            T::Malformed(why) => {
                invalid_token(format!("The web identity token is not a valid JWT: {why}"))
            }
            T::Algorithm(alg) => invalid_token(format!(
                "The web identity token's signing algorithm {alg} is not accepted (RS256, RS384, RS512, ES256, ES384 are, as the provider allows them)"
            )),
            T::NoIssuer => invalid_token("Missing a required claim: iss"),
            T::UnknownKey => invalid_token(
                "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements",
            ),
            T::Signature => invalid_token("The web identity token's signature is not valid"),
            T::MissingClaim(c) => invalid_token(format!("Missing a required claim: {c}")),
            T::NotInteger(c) => invalid_token(format!(
                "The claim {c} must be a JSON integer (seconds since the epoch)"
            )),
            T::WrongType(c) => invalid_token(format!("The claim {c} has the wrong type")),
            T::Issuer => invalid_token("The token's iss does not match the provider"),
            T::Audience => invalid_token("Incorrect token audience"),
            T::Expired { now, exp } => StsError::new(
                400,
                "ExpiredTokenException",
                format!(
                    "Token expired: current date/time {now} must be before the expiration date/time {exp}"
                ),
            ),
            T::NotYetValid { now, nbf } => invalid_token(format!(
                "Token is not valid yet: current date/time {now} is before its nbf {nbf}"
            )),
            T::IssuedInFuture { now, iat } => invalid_token(format!(
                "Token issued in the future: current date/time {now} is before its iat {iat}"
            )),
        },
    }
}

/// What the trust policy sees and the session keeps of a verified token.
struct Federated<'a> {
    identity: &'a Identity,
    tags: SessionTags,
    source_identity: Option<String>,
}

impl StsService {
    pub(super) async fn assume_role_with_web_identity(
        &self,
        params: &[(String, String)],
        info: &RequestInfo,
        request_id: &str,
    ) -> Result<String, StsError> {
        let role_arn = required(params, "RoleArn", "roleArn")?;
        let session_name = required(params, "RoleSessionName", "roleSessionName")?;
        let token = required(params, "WebIdentityToken", "webIdentityToken")?;
        check_role_names(role_arn, session_name)?;
        if params_get(params, "ProviderId").is_some() {
            return Err(StsError::validation(
                "ProviderId is for OAuth 2.0 access tokens of www.amazon.com and graph.facebook.com, which this gateway does not take: pass an OpenID Connect ID token without ProviderId",
            ));
        }
        let address: Option<IpAddr> = info.source_ip.as_deref().and_then(|a| a.parse().ok());
        let account = role_arn.split(':').nth(4).unwrap_or("");
        let identity = self.web_identity(account, token, address, info).await?;
        let federated = federated(&identity)?;
        let role = self
            .store
            .role(role_arn)
            .ok_or_else(|| StsError::access_denied(DENIED))?
            .clone();
        let (inline_policy, policy_arns) = self.session_policies(params, &role)?;
        let ctx = trust_context(&federated, session_name, &role.arn, info);
        authorize(&role, &identity, &federated, &ctx)?;
        let duration = Self::role_duration(params, &role, false)?;
        let provider = &identity.provider.config;
        let claims = self.mint_role_session(&role, session_name, duration, info, |c| {
            c.source_identity = federated.source_identity.clone();
            c.session_policy = inline_policy.map(str::to_string);
            c.policy_arns = policy_arns.clone();
            (c.tags, c.transitive_tag_keys) = federated.tags.claims();
            c.federated_provider = Some(provider.arn.clone());
            c.web_identity_keys = session_keys(&identity);
        });
        let mut members = format!(
            "    <SubjectFromWebIdentityToken>{}</SubjectFromWebIdentityToken>\n    <Audience>{}</Audience>\n    <Provider>{}</Provider>\n",
            escape(&identity.token.sub),
            escape(&identity.token.aud),
            escape(&provider.arn)
        );
        members.push_str(&self.assumed_role_members(&claims, inline_policy));
        crate::audit::note(|f| {
            f.web_identity = Some((
                provider.arn.clone(),
                identity.token.aud.clone(),
                identity.token.sub.clone(),
            ))
        });
        Ok(success("AssumeRoleWithWebIdentity", &members, request_id))
    }

    /// The token verified for `account`, within the attempt limits: a locked-out address or
    /// provider is refused whatever its token; a failure is counted against both.
    pub(super) async fn web_identity(
        &self,
        account: &str,
        token: &str,
        address: Option<IpAddr>,
        info: &RequestInfo,
    ) -> Result<Identity, StsError> {
        let limits = &self.federation.limits;
        let locked = || {
            invalid_token(
                "Too many invalid web identity tokens from this address or for this provider: try again later",
            )
        };
        if limits.locked(address, None) {
            return Err(locked());
        }
        match self.federation.verify(account, token, info.now).await {
            Ok(identity) => {
                if limits.locked(None, Some(&identity.provider.config.url)) {
                    return Err(locked());
                }
                Ok(identity)
            }
            Err((e, provider)) => {
                let url = provider.as_ref().map(|p| p.config.url.as_str());
                if url.is_some_and(|u| limits.locked(None, Some(u))) {
                    return Err(locked());
                }
                // A provider is charged only for tokens its own key signed (expired, another
                // audience, …): anyone can forge the rest in its name, and must not be able to
                // lock it out for everyone that way.
                let signed = matches!(&e, FederationError::Token(t) if t.was_signed());
                limits.failed(address, url.filter(|_| signed));
                let refused = refusal(&e);
                if let Some(p) = &provider {
                    tracing::info!(provider = %p.config.url, code = refused.code, "web identity token refused");
                }
                Err(refused)
            }
        }
    }
}

/// The trust policy must allow `sts:AssumeRoleWithWebIdentity` for the provider, and
/// `sts:TagSession` / `sts:SetSourceIdentity` when the token carries tags or a source identity.
fn authorize(
    role: &crate::identity::store::RoleEntry,
    identity: &Identity,
    federated: &Federated<'_>,
    ctx: &RequestContext,
) -> Result<(), StsError> {
    let arn = &identity.provider.config.arn;
    let provider = Principal {
        arn: arn.clone(),
        account: role.account.clone(),
        unique_id: arn.clone(),
        kind: PrincipalKind::WebIdentity {
            provider_arn: arn.clone(),
        },
    };
    let asked = [
        (true, "sts:AssumeRoleWithWebIdentity"),
        (!federated.tags.requested.is_empty(), "sts:TagSession"),
        (federated.source_identity.is_some(), "sts:SetSourceIdentity"),
    ];
    for (wanted, action) in asked {
        let mut c = ctx.clone();
        c.action = action.into();
        if wanted && !authorize_by_trust(&role.trust, &role.arn, &provider, &c).is_allowed() {
            return Err(StsError::access_denied(format!(
                "Not authorized to perform {action}"
            )));
        }
    }
    Ok(())
}

/// The session tags and source identity the token carries, checked with AWS's rules.
fn federated(identity: &Identity) -> Result<Federated<'_>, StsError> {
    let claims = &identity.token.claims;
    let (requested, transitive) = match claims.get(TAGS_CLAIM) {
        None => (vec![], vec![]),
        Some(v) => token_tags(v)?,
    };
    let tags = SessionTags::checked(requested, transitive, vec![])?;
    let source_identity = match claims.get(SOURCE_IDENTITY_CLAIM) {
        None => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(invalid_token(format!(
                "The claim {SOURCE_IDENTITY_CLAIM} must be a string"
            )));
        }
    };
    check_source_identity(source_identity.as_deref())?;
    Ok(Federated {
        identity,
        tags,
        source_identity,
    })
}

/// `{"principal_tags": {"Key": ["value"]}, "transitive_tag_keys": ["Key"]}`: each value an
/// array of one string, as AWS documents it (a bare string is taken too).
#[allow(clippy::type_complexity)]
fn token_tags(claim: &serde_json::Value) -> Result<(Vec<(String, String)>, Vec<String>), StsError> {
    let bad = || {
        invalid_token(format!(
            "The claim {TAGS_CLAIM} is not {{\"principal_tags\": {{\"Key\": [\"value\"]}}, \"transitive_tag_keys\": [\"Key\"]}}"
        ))
    };
    let mut requested = Vec::new();
    if let Some(tags) = claim.get("principal_tags") {
        for (k, v) in tags.as_object().ok_or_else(bad)? {
            let value = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Array(a) if a.len() == 1 => {
                    a[0].as_str().ok_or_else(bad)?.to_string()
                }
                _ => return Err(bad()),
            };
            requested.push((k.clone(), value));
        }
    }
    let mut transitive = Vec::new();
    if let Some(keys) = claim.get("transitive_tag_keys") {
        for k in keys.as_array().ok_or_else(bad)? {
            transitive.push(k.as_str().ok_or_else(bad)?.to_string());
        }
    }
    Ok((requested, transitive))
}

/// The trust policy's request keys: the provider's (`<provider>:aud`, `:sub`, `:amr`, Google's
/// `:oaud`), `aws:FederatedProvider`, the session name, the tags and source identity asked for.
fn trust_context(
    federated: &Federated<'_>,
    session_name: &str,
    role_arn: &str,
    info: &RequestInfo,
) -> RequestContext {
    let mut ctx = crate::authz::anonymous_context("sts:AssumeRoleWithWebIdentity", role_arn, info);
    let identity = federated.identity;
    ctx.set("aws:PrincipalType", "WebIdentityUser")
        .set(
            "aws:FederatedProvider",
            identity.provider.config.arn.clone(),
        )
        .set("sts:RoleSessionName", session_name);
    for (key, values) in session_keys(identity) {
        crate::authz::set_web_identity_key(&mut ctx, &key, &values);
    }
    if let Some(oaud) = &identity.token.oaud {
        ctx.set(
            format!("{}:oaud", identity.provider.config.key),
            oaud.clone(),
        );
    }
    if let Some(si) = &federated.source_identity {
        ctx.set("sts:SourceIdentity", si.clone());
    }
    federated.tags.request_keys(&mut ctx);
    ctx
}

/// `<provider>:aud`, `:sub` and (when the token has it) `:amr`: what AWS keeps available to the
/// session's own requests.
fn session_keys(identity: &Identity) -> Vec<(String, Vec<String>)> {
    let key = &identity.provider.config.key;
    let token = &identity.token;
    let mut keys = vec![
        (format!("{key}:aud"), vec![token.aud.clone()]),
        (format!("{key}:sub"), vec![token.sub.clone()]),
    ];
    if !token.amr.is_empty() {
        keys.push((format!("{key}:amr"), token.amr.clone()));
    }
    keys
}
