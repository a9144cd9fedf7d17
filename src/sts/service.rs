//! The STS Query API actions. Pure request → response logic: parameters and the resolved caller
//! in, XML (or a typed error) out. Authentication happens before; HTTP happens elsewhere.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::mfa::{MfaError, MfaVerifier};
use super::token::{Keyring, Purpose, SessionClaims};
use super::xml::{escape, success, timestamp};
use crate::authz::CallerPolicies;
use crate::identity::{
    Caller, IdentityStore, KeyKind, decode_access_key_id, new_access_key_id, new_secret_access_key,
};
use crate::policy::{
    Decision, PolicyDocument, PolicyKind, authorize_assume_role, decide, policy_size,
};

mod pod_identity;
mod web_identity;

pub use pod_identity::{PodCache, PodCredentials, pod_cache};

/// An STS error: HTTP status, AWS code, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl StsError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        StsError {
            status,
            code,
            message: message.into(),
        }
    }
    fn validation(message: impl Into<String>) -> Self {
        Self::new(400, "ValidationError", message)
    }
    fn access_denied(message: impl Into<String>) -> Self {
        Self::new(403, "AccessDenied", message)
    }
    /// Client faults are `Sender`, server faults `Receiver`.
    pub fn is_sender(&self) -> bool {
        self.status < 500
    }
}

pub use crate::authz::RequestInfo;

/// Everything the actions need; one per config snapshot.
pub struct StsService {
    pub store: Arc<IdentityStore>,
    pub keyring: Arc<Keyring>,
    pub mfa: MfaVerifier,
    pub federation: Arc<crate::federation::Federation>,
    /// Pod identity answers, by token (see `pod_identity`).
    pub pod_cache: PodCache,
    pub partition: String,
}

/// An authorization failure message, sealed for `DecodeAuthorizationMessage`.
#[derive(Debug, Serialize, Deserialize)]
struct SealedMessage {
    account: String,
    message: serde_json::Value,
}

/// `Version`, when given, must be STS's only one.
fn check_version(params: &[(String, String)], action: &str) -> Result<(), StsError> {
    match params_get(params, "Version") {
        Some("2011-06-15") | None => Ok(()),
        Some(v) => Err(StsError::new(
            400,
            "InvalidAction",
            format!("Could not find operation {action} for version {v}"),
        )),
    }
}

fn params_get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A required parameter, or AWS's "must not be null" validation error naming its member.
fn required<'a>(
    params: &'a [(String, String)],
    name: &str,
    member: &str,
) -> Result<&'a str, StsError> {
    params_get(params, name)
        .ok_or_else(|| StsError::validation(format!("1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null")))
}

fn valid_session_name(v: &str) -> bool {
    v.chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

impl StsService {
    /// Runs `Action` for `caller`. Returns the XML body of a 200 response.
    pub async fn handle(
        &self,
        params: &[(String, String)],
        caller: &Caller,
        info: &RequestInfo,
        request_id: &str,
    ) -> Result<String, StsError> {
        let action = params_get(params, "Action").ok_or_else(|| {
            StsError::new(
                400,
                "MissingAction",
                "Could not find operation: no Action parameter",
            )
        })?;
        check_version(params, action)?;
        match action {
            "GetCallerIdentity" => Ok(self.get_caller_identity(caller, request_id)),
            "GetAccessKeyInfo" => self.get_access_key_info(params, request_id),
            "AssumeRole" => self.assume_role(params, caller, info, request_id).await,
            // Reached signed (an SDK that signs every call): the token, not the signature,
            // is the credential.
            "AssumeRoleWithWebIdentity" => {
                self.assume_role_with_web_identity(params, info, request_id)
                    .await
            }
            "GetSessionToken" => {
                self.get_session_token(params, caller, info, request_id)
                    .await
            }
            "DecodeAuthorizationMessage" => {
                self.decode_authorization_message(params, caller, info, request_id)
            }
            other => Err(StsError::new(
                400,
                "InvalidAction",
                format!("Could not find operation {other} for version 2011-06-15"),
            )),
        }
    }

    /// Runs an unsigned request's `Action`: only AssumeRoleWithWebIdentity is one.
    pub async fn handle_unsigned(
        &self,
        params: &[(String, String)],
        info: &RequestInfo,
        request_id: &str,
    ) -> Result<String, StsError> {
        check_version(params, "AssumeRoleWithWebIdentity")?;
        self.assume_role_with_web_identity(params, info, request_id)
            .await
    }

    fn get_caller_identity(&self, caller: &Caller, request_id: &str) -> String {
        let members = format!(
            "    <Arn>{}</Arn>\n    <UserId>{}</UserId>\n    <Account>{}</Account>\n",
            escape(caller.arn()),
            escape(caller.user_id()),
            escape(caller.account())
        );
        success("GetCallerIdentity", &members, request_id)
    }

    fn get_access_key_info(
        &self,
        params: &[(String, String)],
        request_id: &str,
    ) -> Result<String, StsError> {
        let id = required(params, "AccessKeyId", "accessKeyId")?;
        if !(16..=128).contains(&id.len())
            || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(StsError::validation(format!(
                "1 validation error detected: Value '{id}' at 'accessKeyId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w]*"
            )));
        }
        let (_, account) = decode_access_key_id(id).ok_or_else(|| {
            StsError::new(
                400,
                "InvalidParameterValue",
                format!("The access key ID {id} is not in a recognized format"),
            )
        })?;
        Ok(success(
            "GetAccessKeyInfo",
            &format!("    <Account>{account:012}</Account>\n"),
            request_id,
        ))
    }

    fn caller_policies(&self, caller: &Caller) -> Result<CallerPolicies, StsError> {
        crate::authz::caller_policies(&self.store, caller).map_err(|_| {
            StsError::new(
                403,
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
            )
        })
    }

    /// Verifies `SerialNumber` + `TokenCode` for `caller` (a user, or a session of a user).
    async fn check_mfa(
        &self,
        params: &[(String, String)],
        caller: &Caller,
        info: &RequestInfo,
    ) -> Result<bool, StsError> {
        let serial = params_get(params, "SerialNumber");
        let code = params_get(params, "TokenCode");
        let (serial, code) = match (serial, code) {
            (None, None) => return Ok(false),
            (Some(s), Some(c)) => (s, c),
            _ => {
                return Err(StsError::validation(
                    "SerialNumber and TokenCode must be given together",
                ));
            }
        };
        if !(9..=256).contains(&serial.len()) {
            return Err(StsError::validation(format!(
                "1 validation error detected: Value '{serial}' at 'serialNumber' failed to satisfy constraint: Member must have length greater than or equal to 9"
            )));
        }
        let unable = || {
            StsError::access_denied(
                "MultiFactorAuthentication failed, unable to validate MFA code.  Please verify your MFA serial number is valid and associated with this user.",
            )
        };
        let user_arn = match caller {
            Caller::User { user, .. } => user.arn.clone(),
            Caller::Session(claims) if claims.role_arn.is_none() => claims.arn.clone(),
            Caller::Session { .. } => return Err(unable()),
        };
        let user = self.store.user(&user_arn).ok_or_else(unable)?;
        let now = u64::try_from(info.now).unwrap_or(0);
        let Some((_, seed)) = user.mfa.iter().find(|(s, _)| s == serial) else {
            self.mfa.unknown_device(serial, &user_arn, now).await;
            return Err(unable());
        };
        match self
            .mfa
            .verify(serial, &user_arn, seed.expose(), code, now)
            .await
        {
            Ok(()) => Ok(true),
            // Fails closed, and says so: the code was neither checked nor spent.
            Err(MfaError::Unavailable) => Err(StsError::new(
                503,
                "ServiceUnavailable",
                "MultiFactorAuthentication cannot be checked right now: the gateway's shared state store is unreachable. The code was not used; try again.",
            )),
            // A lockout reads exactly as a wrong code: the limit must not be an oracle.
            Err(MfaError::Invalid | MfaError::Reused | MfaError::LockedOut) => {
                Err(StsError::access_denied(
                    "MultiFactorAuthentication failed with invalid MFA one time pass code. ",
                ))
            }
        }
    }

    fn duration(
        params: &[(String, String)],
        min: i64,
        max_model: i64,
        default: i64,
    ) -> Result<i64, StsError> {
        match params_get(params, "DurationSeconds") {
            None => Ok(default),
            Some(v) => {
                let n: i64 = v.parse().map_err(|_| StsError::validation(format!("1 validation error detected: Value '{v}' at 'durationSeconds' failed to satisfy constraint: Member must be a number")))?;
                if n < min {
                    return Err(StsError::validation(format!(
                        "1 validation error detected: Value '{n}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to {min}"
                    )));
                }
                if n > max_model {
                    return Err(StsError::validation(format!(
                        "1 validation error detected: Value '{n}' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to {max_model}"
                    )));
                }
                Ok(n)
            }
        }
    }

    fn mint(
        &self,
        account: &str,
        duration: i64,
        info: &RequestInfo,
        fill: impl FnOnce(&mut SessionClaims),
    ) -> SessionClaims {
        let mut claims = SessionClaims {
            access_key_id: new_access_key_id(KeyKind::Temporary, account.parse().unwrap_or(0)),
            secret_access_key: new_secret_access_key(),
            account: account.to_string(),
            principal_type: String::new(),
            arn: String::new(),
            user_id: String::new(),
            role_arn: None,
            role_name: None,
            session_name: None,
            user_name: None,
            issued_at: info.now,
            expires_at: info.now + duration,
            mfa_at: None,
            source_identity: None,
            session_policy: None,
            policy_arns: vec![],
            chained: false,
            origin_user: None,
            tags: vec![],
            transitive_tag_keys: vec![],
            federated_provider: None,
            web_identity_keys: vec![],
        };
        fill(&mut claims);
        claims
    }

    /// A session of `role` named `session_name`: its ARN, `aws:userid` and role fields, then
    /// what `fill` adds (tags, policies, source identity, …).
    fn mint_role_session(
        &self,
        role: &crate::identity::store::RoleEntry,
        session_name: &str,
        duration: i64,
        info: &RequestInfo,
        fill: impl FnOnce(&mut SessionClaims),
    ) -> SessionClaims {
        self.mint(&role.account, duration, info, |c| {
            c.principal_type = "AssumedRole".into();
            c.arn = format!(
                "arn:{}:sts::{}:assumed-role/{}/{session_name}",
                self.partition, role.account, role.name
            );
            c.user_id = format!("{}:{session_name}", role.unique_id);
            c.role_arn = Some(role.arn.clone());
            c.role_name = Some(role.name.clone());
            c.session_name = Some(session_name.to_string());
            fill(c);
        })
    }

    /// The session token of `claims`: sealed with the active keyring key.
    fn session_token(&self, claims: &SessionClaims) -> String {
        self.keyring.seal(
            Purpose::SessionToken,
            &serde_json::to_vec(claims).expect("claims serialize"),
        )
    }

    fn credentials_xml(&self, claims: &SessionClaims) -> String {
        let token = self.session_token(claims);
        format!(
            "    <Credentials>\n      <AccessKeyId>{}</AccessKeyId>\n      <SecretAccessKey>{}</SecretAccessKey>\n      <SessionToken>{}</SessionToken>\n      <Expiration>{}</Expiration>\n    </Credentials>\n",
            claims.access_key_id,
            escape(&claims.secret_access_key),
            token,
            timestamp(claims.expires_at)
        )
    }

    async fn assume_role(
        &self,
        params: &[(String, String)],
        caller: &Caller,
        info: &RequestInfo,
        request_id: &str,
    ) -> Result<String, StsError> {
        let role_arn = required(params, "RoleArn", "roleArn")?;
        let session_name = required(params, "RoleSessionName", "roleSessionName")?;
        check_role_names(role_arn, session_name)?;
        let session_tags = SessionTags::parse(params, caller)?;
        let source_identity = params_get(params, "SourceIdentity");
        check_source_identity(source_identity)?;
        let denied = || not_authorized(caller, "sts:AssumeRole", role_arn);
        if matches!(caller, Caller::User { .. }) && caller.arn().ends_with(":root") {
            return Err(StsError::access_denied(
                "Roles may not be assumed by root accounts.",
            ));
        }
        let mfa_now = self.check_mfa(params, caller, info).await?;
        // A role that does not exist is refused exactly like one that does not trust the caller.
        let role = self.store.role(role_arn).ok_or_else(denied)?.clone();
        let (inline_policy, policy_arns) = self.session_policies(params, &role)?;

        let policies = self.caller_policies(caller)?;
        let mut ctx = policies.context("sts:AssumeRole", role_arn, caller, info);
        trust_keys(&mut ctx, params, session_name, mfa_now, source_identity)?;
        session_tags.request_keys(&mut ctx);
        let asked = [
            (!session_tags.requested.is_empty(), "sts:TagSession"),
            (source_identity.is_some(), "sts:SetSourceIdentity"),
        ];
        authorize_role(&role, caller, &policies, &ctx, asked)?;

        let chained = caller.is_temporary();
        let duration = Self::role_duration(params, &role, chained)?;
        let (inherited_mfa, inherited_source) = inherited(caller, source_identity)?;
        let claims = self.mint_role_session(&role, session_name, duration, info, |c| {
            // MFA used for the AssumeRole call itself does not carry into the role session;
            // MFA from the calling GetSessionToken session does (spec §2.3).
            c.mfa_at = inherited_mfa;
            c.source_identity = inherited_source.or(source_identity.map(str::to_string));
            c.session_policy = inline_policy.map(str::to_string);
            c.policy_arns = policy_arns.clone();
            c.chained = chained;
            c.origin_user = origin_user(caller);
            (c.tags, c.transitive_tag_keys) = session_tags.claims();
        });
        Ok(success(
            "AssumeRole",
            &self.assumed_role_members(&claims, inline_policy),
            request_id,
        ))
    }

    /// The session policies AssumeRole passes: an inline `Policy` (size and syntax checked
    /// before authorization, so a malformed document is reported as such) and up to 10
    /// `PolicyArns` of managed policies in the role's account.
    fn session_policies<'p>(
        &self,
        params: &'p [(String, String)],
        role: &crate::identity::store::RoleEntry,
    ) -> Result<(Option<&'p str>, Vec<String>), StsError> {
        let inline_policy = params_get(params, "Policy");
        if let Some(text) = inline_policy {
            let size = policy_size(text);
            if size > 2048 {
                return Err(StsError::new(
                    400,
                    "PackedPolicyTooLarge",
                    format!(
                        "Packed policy consumes {}% of allotted space, please use smaller policy.",
                        size * 100 / 2048
                    ),
                ));
            }
            PolicyDocument::parse(text, PolicyKind::Session)
                .map_err(|e| StsError::new(400, "MalformedPolicyDocument", e.to_string()))?;
        }
        let mut policy_arns = Vec::new();
        for i in 1.. {
            match params_get(params, &format!("PolicyArns.member.{i}.arn")) {
                Some(arn) => policy_arns.push(arn.to_string()),
                None => break,
            }
        }
        if policy_arns.len() > 10 {
            return Err(StsError::validation(
                "At most 10 managed session policies (PolicyArns) may be passed",
            ));
        }
        for arn in &policy_arns {
            if self.store.managed_policy(arn).is_none()
                || arn.split(':').nth(4) != Some(role.account.as_str())
            {
                return Err(StsError::validation(format!(
                    "Policy {arn} does not exist or is not attachable (session policies must be managed policies in the role's account)"
                )));
            }
        }

        Ok((inline_policy, policy_arns))
    }

    /// DurationSeconds of a role session: 900..43200, at most the role's maximum, and at most an
    /// hour when chaining from temporary credentials.
    fn role_duration(
        params: &[(String, String)],
        role: &crate::identity::store::RoleEntry,
        chained: bool,
    ) -> Result<i64, StsError> {
        let max = role.max_session_duration.as_secs() as i64;
        let duration = Self::duration(params, 900, 43200, 3600)?;
        if chained && duration > 3600 {
            return Err(StsError::validation(
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
            ));
        }
        if duration > max {
            return Err(StsError::validation(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
            ));
        }
        Ok(duration)
    }

    /// The AssumeRole result's members: credentials, the assumed-role user, the packed policy
    /// size and the source identity.
    fn assumed_role_members(&self, claims: &SessionClaims, inline_policy: Option<&str>) -> String {
        let mut members = self.credentials_xml(claims);
        members.push_str(&format!(
            "    <AssumedRoleUser>\n      <AssumedRoleId>{}</AssumedRoleId>\n      <Arn>{}</Arn>\n    </AssumedRoleUser>\n",
            escape(&claims.user_id),
            escape(&claims.arn)
        ));
        if let Some(text) = inline_policy {
            members.push_str(&format!(
                "    <PackedPolicySize>{}</PackedPolicySize>\n",
                policy_size(text) * 100 / 2048
            ));
        }
        if let Some(si) = &claims.source_identity {
            members.push_str(&format!(
                "    <SourceIdentity>{}</SourceIdentity>\n",
                escape(si)
            ));
        }
        members
    }

    async fn get_session_token(
        &self,
        params: &[(String, String)],
        caller: &Caller,
        info: &RequestInfo,
        request_id: &str,
    ) -> Result<String, StsError> {
        let Caller::User { user, .. } = caller else {
            return Err(StsError::access_denied(
                "Cannot call GetSessionToken with session credentials",
            ));
        };
        let duration = Self::duration(params, 900, 129_600, 43_200)?;
        let mfa = self.check_mfa(params, caller, info).await?;
        let claims = self.mint(&user.account, duration, info, |c| {
            c.principal_type = "User".into();
            c.arn = user.arn.clone();
            c.user_id = user.unique_id.clone();
            c.user_name = Some(user.name.clone());
            c.mfa_at = mfa.then_some(info.now);
        });
        Ok(success(
            "GetSessionToken",
            &self.credentials_xml(&claims),
            request_id,
        ))
    }

    fn decode_authorization_message(
        &self,
        params: &[(String, String)],
        caller: &Caller,
        info: &RequestInfo,
        request_id: &str,
    ) -> Result<String, StsError> {
        let encoded = required(params, "EncodedMessage", "encodedMessage")?;
        if encoded.is_empty() || encoded.len() > 10_240 {
            return Err(StsError::validation(
                "1 validation error detected: Value at 'encodedMessage' failed to satisfy constraint: Member must have length less than or equal to 10240",
            ));
        }
        let policies = self.caller_policies(caller)?;
        let ctx = policies.context("sts:DecodeAuthorizationMessage", "*", caller, info);
        let outcome =
            policies.with_evaluation(&caller.principal(), None, |eval| decide(eval, &ctx));
        if outcome.decision != Decision::Allow {
            return Err(StsError::access_denied(format!(
                "User: {} is not authorized to perform: sts:DecodeAuthorizationMessage {}",
                caller.arn(),
                outcome.reason("sts:DecodeAuthorizationMessage")
            )));
        }
        let invalid = || {
            StsError::new(
                400,
                "InvalidAuthorizationMessageException",
                "The message is not a valid encoded authorization failure message",
            )
        };
        let plain = self
            .keyring
            .open(Purpose::AuthorizationMessage, encoded)
            .map_err(|_| invalid())?;
        let sealed: SealedMessage = serde_json::from_slice(&plain).map_err(|_| invalid())?;
        if sealed.account != caller.account() {
            return Err(invalid());
        }
        let json = serde_json::to_string(&sealed.message).expect("a JSON value serializes");
        Ok(success(
            "DecodeAuthorizationMessage",
            &format!("    <DecodedMessage>{}</DecodedMessage>\n", escape(&json)),
            request_id,
        ))
    }

    /// Seals an authorization failure message (spec §4.3 shape) for `account`.
    pub fn seal_authorization_message(
        &self,
        account: &str,
        message: impl serde::Serialize,
    ) -> String {
        #[derive(serde::Serialize)]
        struct Sealing<'a, M> {
            account: &'a str,
            message: M,
        }
        let sealed = Sealing { account, message };
        self.keyring.seal(
            Purpose::AuthorizationMessage,
            &serde_json::to_vec(&sealed).expect("a JSON value serializes"),
        )
    }
}

/// What a role session inherits from the calling session: the MFA time of an MFA-authenticated
/// GetSessionToken session, and its source identity (which cannot be changed).
fn not_authorized(caller: &Caller, action: &str, resource: &str) -> StsError {
    StsError::access_denied(format!(
        "User: {} is not authorized to perform: {action} on resource: {resource}",
        caller.arn()
    ))
}

/// The trust policy (and, as it names the caller, the caller's own policies) must allow
/// sts:AssumeRole, and each further action asked for (sts:TagSession, sts:SetSourceIdentity).
fn authorize_role<const N: usize>(
    role: &crate::identity::store::RoleEntry,
    caller: &Caller,
    policies: &CallerPolicies,
    ctx: &crate::policy::RequestContext,
    asked: [(bool, &str); N],
) -> Result<(), StsError> {
    let trusts = |action: &str| {
        let mut c = ctx.clone();
        c.action = action.into();
        policies
            .with_evaluation(&caller.principal(), None, |eval| {
                authorize_assume_role(&role.trust, &role.arn, eval, &c)
            })
            .is_allowed()
    };
    if !trusts("sts:AssumeRole") {
        return Err(not_authorized(caller, "sts:AssumeRole", &role.arn));
    }
    for (wanted, action) in asked {
        if wanted && !trusts(action) {
            return Err(not_authorized(caller, action, &role.arn));
        }
    }
    Ok(())
}

fn inherited(
    caller: &Caller,
    source_identity: Option<&str>,
) -> Result<(Option<i64>, Option<String>), StsError> {
    let Caller::Session(claims) = caller else {
        return Ok((None, None));
    };
    let inherited_source = claims.source_identity.clone();
    if inherited_source.is_some()
        && source_identity.is_some_and(|s| Some(s) != inherited_source.as_deref())
    {
        return Err(StsError::access_denied(
            "The source identity of a session cannot be changed",
        ));
    }
    Ok((claims.mfa_at, inherited_source))
}

/// The request keys AssumeRole's trust evaluation sees: `sts:RoleSessionName`,
/// `sts:ExternalId` (2..1224 characters), MFA verified now, `sts:SourceIdentity`.
fn trust_keys(
    ctx: &mut crate::policy::RequestContext,
    params: &[(String, String)],
    session_name: &str,
    mfa_now: bool,
    source_identity: Option<&str>,
) -> Result<(), StsError> {
    ctx.set("sts:RoleSessionName", session_name);
    if let Some(ext) = params_get(params, "ExternalId") {
        if !(2..=1224).contains(&ext.len()) {
            return Err(StsError::validation(format!(
                "1 validation error detected: Value '{ext}' at 'externalId' failed to satisfy constraint: Member must have length greater than or equal to 2"
            )));
        }
        ctx.set("sts:ExternalId", ext);
    }
    if mfa_now {
        ctx.set("aws:MultiFactorAuthPresent", "true")
            .set("aws:MultiFactorAuthAge", "0");
    }
    if let Some(si) = source_identity {
        ctx.set("sts:SourceIdentity", si);
    }
    Ok(())
}

/// AssumeRole's RoleArn (20..2048 characters) and RoleSessionName (2..64 of `[\w+=,.@-]`).
fn check_role_names(role_arn: &str, session_name: &str) -> Result<(), StsError> {
    if !(20..=2048).contains(&role_arn.len()) {
        return Err(StsError::validation(format!("{role_arn} is invalid")));
    }
    if session_name.len() < 2 || session_name.len() > 64 {
        return Err(StsError::validation(format!(
            "1 validation error detected: Value '{session_name}' at 'roleSessionName' failed to satisfy constraint: Member must have length {} 64",
            if session_name.len() < 2 {
                "greater than or equal to 2, and less than or equal to"
            } else {
                "less than or equal to"
            }
        )));
    }
    if !valid_session_name(session_name) {
        return Err(StsError::validation(format!(
            "1 validation error detected: Value '{session_name}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        )));
    }
    Ok(())
}

/// A SourceIdentity, if given: 2..64 of `[\w+=,.@-]`, not starting with `aws:`.
fn check_source_identity(source_identity: Option<&str>) -> Result<(), StsError> {
    if let Some(si) = source_identity
        && (si.len() < 2 || si.len() > 64 || !valid_session_name(si) || si.starts_with("aws:"))
    {
        return Err(StsError::validation(format!(
            "1 validation error detected: Value '{si}' at 'sourceIdentity' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        )));
    }
    Ok(())
}

/// Decodes `application/x-www-form-urlencoded` text (also used for query strings).
pub fn parse_form(text: &str) -> Result<Vec<(String, String)>, StsError> {
    let mut out = Vec::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            crate::sigv4::encoding::percent_decode(s.as_bytes(), true)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    StsError::new(
                        400,
                        "MalformedQueryString",
                        "The request contains an invalid percent-encoding or non-UTF-8 parameter",
                    )
                })
        };
        out.push((decode(k)?, decode(v)?));
    }
    Ok(out)
}

/// One session tag's key and value: lengths, characters, and no `aws:` prefix.
fn check_tag(k: &str, v: &str) -> Result<(), StsError> {
    let charset = |t: &str| {
        t.chars()
            .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
    };
    if k.is_empty() || k.chars().count() > 128 || !charset(k) {
        return Err(StsError::validation(format!(
            "1 validation error detected: Value '{k}' at 'tags.member.key' failed to satisfy constraint: Member must have length between 1 and 128 and satisfy regular expression pattern: [\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]+"
        )));
    }
    if v.chars().count() > 256 || !charset(v) {
        return Err(StsError::validation(format!(
            "1 validation error detected: Value at 'tags.member.value' of tag '{k}' failed to satisfy constraint: Member must have length less than or equal to 256 and satisfy regular expression pattern: [\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]*"
        )));
    }
    if k.len() >= 4 && k[..4].eq_ignore_ascii_case("aws:") {
        return Err(StsError::new(
            400,
            "InvalidParameterValue",
            "Tag keys may not start with 'aws:'",
        ));
    }
    Ok(())
}

/// Session tags of an AssumeRole call (spec sts-iam.md §2.4): the requested ones, and the
/// transitive tags inherited from a calling session.
struct SessionTags {
    requested: Vec<(String, String)>,
    transitive: Vec<String>,
    inherited: Vec<(String, String)>,
}

impl SessionTags {
    /// The tags an AssumeRole call asks for, checked, with what the calling session passes on.
    fn parse(params: &[(String, String)], caller: &Caller) -> Result<SessionTags, StsError> {
        let (requested, transitive) = Self::requested(params)?;
        // Transitive tags of the calling session pass on, and cannot be set again.
        let inherited: Vec<(String, String)> = match caller {
            Caller::Session(s) => s
                .tags
                .iter()
                .filter(|(k, _)| {
                    s.transitive_tag_keys
                        .iter()
                        .any(|t| t.eq_ignore_ascii_case(k))
                })
                .cloned()
                .collect(),
            Caller::User { .. } => Vec::new(),
        };
        Self::checked(requested, transitive, inherited)
    }

    /// `Tags.member.N.Key`/`.Value` and `TransitiveTagKeys.member.N`, as sent.
    #[allow(clippy::type_complexity)]
    fn requested(
        params: &[(String, String)],
    ) -> Result<(Vec<(String, String)>, Vec<String>), StsError> {
        let mut requested: Vec<(String, String)> = Vec::new();
        for i in 1.. {
            let key = params_get(params, &format!("Tags.member.{i}.Key"));
            let value = params_get(params, &format!("Tags.member.{i}.Value"));
            match (key, value) {
                (None, None) => break,
                (Some(k), v) => requested.push((k.to_string(), v.unwrap_or("").to_string())),
                (None, Some(_)) => {
                    return Err(StsError::validation(format!(
                        "1 validation error detected: Value null at 'tags.{i}.member.key' failed to satisfy constraint: Member must not be null"
                    )));
                }
            }
        }
        let mut transitive: Vec<String> = Vec::new();
        for i in 1.. {
            match params_get(params, &format!("TransitiveTagKeys.member.{i}")) {
                Some(k) => transitive.push(k.to_string()),
                None => break,
            }
        }
        Ok((requested, transitive))
    }

    /// AWS's rules for session tags: at most 50, key and value length and characters, no `aws:`
    /// prefix, no duplicate keys (case-insensitive), transitive keys among the requested ones,
    /// and none that would set an inherited transitive tag again.
    fn checked(
        requested: Vec<(String, String)>,
        transitive: Vec<String>,
        inherited: Vec<(String, String)>,
    ) -> Result<SessionTags, StsError> {
        let invalid = |m: &str| StsError::new(400, "InvalidParameterValue", m.to_string());
        if requested.len() > 50 || transitive.len() > 50 {
            return Err(StsError::validation(
                "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50",
            ));
        }
        for (k, v) in &requested {
            check_tag(k, v)?;
        }
        for (i, (k, _)) in requested.iter().enumerate() {
            if requested[..i]
                .iter()
                .any(|(o, _)| o.eq_ignore_ascii_case(k))
            {
                return Err(invalid(
                    "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
                ));
            }
        }
        if transitive
            .iter()
            .any(|t| !requested.iter().any(|(k, _)| k.eq_ignore_ascii_case(t)))
        {
            return Err(invalid(
                "The specified transitive tag key must be included in the requested tags.",
            ));
        }
        if requested
            .iter()
            .any(|(k, _)| inherited.iter().any(|(i, _)| i.eq_ignore_ascii_case(k)))
        {
            return Err(invalid(
                "One of the specified transitive tag keys can't be set because it conflicts with a transitive tag key from the calling session.",
            ));
        }
        Ok(SessionTags {
            requested,
            transitive,
            inherited,
        })
    }

    /// `aws:RequestTag/<key>`, `aws:TagKeys` and `sts:TransitiveTagKeys` for the AssumeRole
    /// authorization.
    fn request_keys(&self, ctx: &mut crate::policy::RequestContext) {
        if self.requested.is_empty() {
            return;
        }
        for (k, v) in &self.requested {
            ctx.set(format!("aws:RequestTag/{k}"), v.clone());
        }
        ctx.set_multi(
            "aws:TagKeys",
            self.requested.iter().map(|(k, _)| k.clone()).collect(),
        );
        if !self.transitive.is_empty() {
            ctx.set_multi("sts:TransitiveTagKeys", self.transitive.clone());
        }
    }

    /// The session's tags and transitive keys: inherited transitive tags first.
    fn claims(&self) -> (Vec<(String, String)>, Vec<String>) {
        let mut tags = self.inherited.clone();
        tags.extend(self.requested.iter().cloned());
        let mut keys: Vec<String> = self.inherited.iter().map(|(k, _)| k.clone()).collect();
        keys.extend(self.transitive.iter().cloned());
        (tags, keys)
    }
}

/// The user a chain of sessions started from, for a session minted with `caller`'s
/// credentials: a GetSessionToken session's user, or what the calling session carries.
fn origin_user(caller: &Caller) -> Option<String> {
    match caller {
        Caller::Session(s) if s.claims.role_arn.is_none() => Some(s.claims.arn.clone()),
        Caller::Session(s) => s.claims.origin_user.clone(),
        Caller::User { .. } => None,
    }
}
