//! Users, roles and their compiled policies, built once per config snapshot, and resolution of an
//! access key id (plus session token) to the caller it belongs to.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use subtle::ConstantTimeEq;

use super::access_key::{KeyKind, decode_access_key_id};
use crate::config::{Account, Config, InlinePolicy, ManagedPolicy, Secret};
use crate::policy::{CompiledPolicy, PolicyKind, Principal, PrincipalKind};
use crate::sts::{Keyring, Purpose, SessionClaims};

#[derive(Debug)]
pub struct UserEntry {
    pub account: String,
    pub name: String,
    pub arn: String,
    pub unique_id: String,
    pub policies: Vec<Arc<CompiledPolicy>>,
    pub boundary: Option<Arc<CompiledPolicy>>,
    /// MFA device serials and seeds.
    pub mfa: Vec<(String, Secret)>,
    /// IAM tags: `aws:PrincipalTag/<key>` for the user and its GetSessionToken sessions.
    pub tags: Arc<BTreeMap<String, String>>,
}

#[derive(Debug)]
pub struct RoleEntry {
    pub account: String,
    pub name: String,
    pub arn: String,
    pub unique_id: String,
    pub trust: Arc<CompiledPolicy>,
    pub policies: Vec<Arc<CompiledPolicy>>,
    pub boundary: Option<Arc<CompiledPolicy>>,
    pub max_session_duration: Duration,
    /// IAM tags: `aws:PrincipalTag/<key>` for the role's sessions.
    pub tags: Arc<BTreeMap<String, String>>,
}

/// Who signed a request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A user's long-term key.
    User {
        user: Arc<UserEntry>,
        secret: String,
    },
    /// A temporary credential (role session or GetSessionToken session).
    Session(Arc<OpenedSession>),
}

/// A decrypted session token with its session policies compiled: what the cache keeps.
#[derive(Debug)]
pub struct OpenedSession {
    pub claims: SessionClaims,
    /// Inline and managed session policies, compiled; `None` when the session has none.
    pub session_policies: Option<Vec<Arc<CompiledPolicy>>>,
}

impl std::ops::Deref for OpenedSession {
    type Target = SessionClaims;
    fn deref(&self) -> &SessionClaims {
        &self.claims
    }
}

/// Why credentials were refused. Mapped to `InvalidClientTokenId` / `ExpiredToken` (STS) or
/// `InvalidAccessKeyId` / `InvalidToken` / `ExpiredToken` (S3) where responses are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialError {
    UnknownAccessKey,
    /// A temporary key without a token, a long-term key with one, or a token that does not open
    /// or does not belong to the key.
    InvalidToken,
    Expired,
    /// The session was revoked (see [`crate::revocation`]).
    Revoked,
}

impl CredentialError {
    /// The code of `stsgate_auth_failures_total` (as AWS names the refusal).
    pub fn code(self) -> &'static str {
        match self {
            CredentialError::UnknownAccessKey => "InvalidAccessKeyId",
            CredentialError::InvalidToken => "InvalidClientTokenId",
            CredentialError::Expired => "ExpiredToken",
            CredentialError::Revoked => "AccessDenied",
        }
    }
}

pub struct IdentityStore {
    /// Opened sessions by token text. A hit is re-checked (key id, expiry) every time; a miss
    /// only costs a decryption.
    sessions: moka::sync::Cache<Arc<str>, Arc<OpenedSession>>,
    users: HashMap<String, Arc<UserEntry>>,
    roles: HashMap<String, Arc<RoleEntry>>,
    /// Long-term access key id → (user ARN, secret), active keys only.
    keys: HashMap<String, (String, String)>,
    managed: HashMap<String, Arc<CompiledPolicy>>,
}

fn compile_managed(account: &Account) -> Result<Vec<Arc<CompiledPolicy>>, String> {
    account
        .policies
        .iter()
        .map(|p: &ManagedPolicy| {
            CompiledPolicy::compile(p.arn.clone(), &p.document, PolicyKind::Identity)
                .map(Arc::new)
                .map_err(|e| format!("{}: {e}", p.arn))
        })
        .collect()
}

fn compile_inline(owner: &str, list: &[InlinePolicy]) -> Result<Vec<Arc<CompiledPolicy>>, String> {
    list.iter()
        .map(|p| {
            CompiledPolicy::compile(
                format!("{owner} inline policy {}", p.name),
                &p.document,
                PolicyKind::Identity,
            )
            .map(Arc::new)
            .map_err(|e| format!("{}: {e}", p.name))
        })
        .collect()
}

/// A permissions boundary is a managed policy evaluated with boundary semantics.
fn boundary(
    index: Option<usize>,
    account: &Account,
) -> Result<Option<Arc<CompiledPolicy>>, String> {
    index
        .map(|i| {
            let p = &account.policies[i];
            CompiledPolicy::compile(p.arn.clone(), &p.document, PolicyKind::Boundary)
                .map(Arc::new)
                .map_err(|e| e.to_string())
        })
        .transpose()
}

impl IdentityStore {
    pub fn build(config: &Config) -> Result<IdentityStore, String> {
        let mut store = IdentityStore {
            sessions: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(std::time::Duration::from_secs(36 * 3600))
                .build(),
            users: HashMap::new(),
            roles: HashMap::new(),
            keys: HashMap::new(),
            managed: HashMap::new(),
        };
        for account in &config.accounts {
            let managed = compile_managed(account)?;
            for (p, compiled) in account.policies.iter().zip(&managed) {
                store.managed.insert(p.arn.clone(), compiled.clone());
            }
            for u in &account.users {
                let mut policies: Vec<Arc<CompiledPolicy>> = u
                    .managed_policies
                    .iter()
                    .map(|&i| managed[i].clone())
                    .collect();
                policies.extend(compile_inline(&u.arn, &u.inline_policies)?);
                let entry = Arc::new(UserEntry {
                    account: account.id.clone(),
                    name: u.name.clone(),
                    arn: u.arn.clone(),
                    unique_id: u.unique_id.clone(),
                    policies,
                    boundary: boundary(u.permissions_boundary, account)?,
                    mfa: u
                        .mfa_devices
                        .iter()
                        .map(|d| (d.serial.clone(), d.seed.clone()))
                        .collect(),
                    tags: Arc::new(u.tags.clone()),
                });
                for k in u.access_keys.iter().filter(|k| k.active) {
                    store
                        .keys
                        .insert(k.id.clone(), (u.arn.clone(), k.secret.expose().to_string()));
                }
                store.users.insert(u.arn.clone(), entry);
            }
            for r in &account.roles {
                let mut policies: Vec<Arc<CompiledPolicy>> = r
                    .managed_policies
                    .iter()
                    .map(|&i| managed[i].clone())
                    .collect();
                policies.extend(compile_inline(&r.arn, &r.inline_policies)?);
                let trust = CompiledPolicy::compile(
                    format!("{} trust policy", r.arn),
                    &r.trust_policy,
                    PolicyKind::Trust,
                )
                .map_err(|e| e.to_string())?;
                store.roles.insert(
                    r.arn.clone(),
                    Arc::new(RoleEntry {
                        account: account.id.clone(),
                        name: r.name.clone(),
                        arn: r.arn.clone(),
                        unique_id: r.unique_id.clone(),
                        trust: Arc::new(trust),
                        policies,
                        boundary: boundary(r.permissions_boundary, account)?,
                        max_session_duration: r.max_session_duration,
                        tags: Arc::new(r.tags.clone()),
                    }),
                );
            }
        }
        Ok(store)
    }

    pub fn role(&self, arn: &str) -> Option<&Arc<RoleEntry>> {
        self.roles.get(arn)
    }

    pub fn user(&self, arn: &str) -> Option<&Arc<UserEntry>> {
        self.users.get(arn)
    }

    pub fn managed_policy(&self, arn: &str) -> Option<&Arc<CompiledPolicy>> {
        self.managed.get(arn)
    }

    /// Resolves the credentials a request was signed with. `now` is Unix seconds.
    pub fn resolve(
        &self,
        keyring: &Keyring,
        access_key_id: &str,
        token: Option<&str>,
        now: i64,
    ) -> Result<Caller, CredentialError> {
        match decode_access_key_id(access_key_id).map(|(kind, _)| kind) {
            Some(KeyKind::LongTerm) => {
                if token.is_some() {
                    return Err(CredentialError::InvalidToken);
                }
                let (arn, secret) = self
                    .keys
                    .get(access_key_id)
                    .ok_or(CredentialError::UnknownAccessKey)?;
                let user = self
                    .users
                    .get(arn)
                    .ok_or(CredentialError::UnknownAccessKey)?
                    .clone();
                Ok(Caller::User {
                    user,
                    secret: secret.clone(),
                })
            }
            Some(KeyKind::Temporary) => {
                let token = token.ok_or(CredentialError::InvalidToken)?;
                let session = match self.sessions.get(token) {
                    Some(s) => s,
                    None => {
                        let opened = Arc::new(self.open_session(keyring, token)?);
                        self.sessions.insert(Arc::from(token), opened.clone());
                        opened
                    }
                };
                if !bool::from(
                    session
                        .claims
                        .access_key_id
                        .as_bytes()
                        .ct_eq(access_key_id.as_bytes()),
                ) {
                    return Err(CredentialError::InvalidToken);
                }
                if now >= session.claims.expires_at {
                    return Err(CredentialError::Expired);
                }
                Ok(Caller::Session(session))
            }
            None => Err(CredentialError::UnknownAccessKey),
        }
    }
}

impl IdentityStore {
    /// Decrypts a token and compiles its session policies, bypassing the cache (what a cache
    /// miss costs). Does not check expiry or the key id: [`IdentityStore::resolve`] does.
    pub fn open_session(
        &self,
        keyring: &Keyring,
        token: &str,
    ) -> Result<OpenedSession, CredentialError> {
        let plain = keyring
            .open(Purpose::SessionToken, token)
            .map_err(|_| CredentialError::InvalidToken)?;
        let claims: SessionClaims =
            serde_json::from_slice(&plain).map_err(|_| CredentialError::InvalidToken)?;
        let session_policies = if claims.session_policy.is_none() && claims.policy_arns.is_empty() {
            None
        } else {
            let mut list = Vec::new();
            if let Some(text) = &claims.session_policy {
                list.push(Arc::new(
                    CompiledPolicy::parse("session policy", text, PolicyKind::Session)
                        .map_err(|_| CredentialError::InvalidToken)?,
                ));
            }
            for arn in &claims.policy_arns {
                // A managed session policy that no longer exists fails closed.
                list.push(
                    self.managed
                        .get(arn)
                        .cloned()
                        .ok_or(CredentialError::InvalidToken)?,
                );
            }
            Some(list)
        };
        Ok(OpenedSession {
            claims,
            session_policies,
        })
    }
}

impl Caller {
    /// The secret the request must have been signed with.
    pub fn secret(&self) -> &str {
        match self {
            Caller::User { secret, .. } => secret,
            Caller::Session(s) => &s.claims.secret_access_key,
        }
    }

    pub fn arn(&self) -> &str {
        match self {
            Caller::User { user, .. } => &user.arn,
            Caller::Session(s) => &s.claims.arn,
        }
    }

    pub fn account(&self) -> &str {
        match self {
            Caller::User { user, .. } => &user.account,
            Caller::Session(s) => &s.claims.account,
        }
    }

    /// `aws:userid` / GetCallerIdentity `UserId`.
    pub fn user_id(&self) -> &str {
        match self {
            Caller::User { user, .. } => &user.unique_id,
            Caller::Session(s) => &s.claims.user_id,
        }
    }

    /// The principal rate limits count: the role for a role session (its sessions share it),
    /// else the caller's ARN.
    pub fn limited_principal(&self) -> &str {
        match self {
            Caller::Session(s) => s.claims.role_arn.as_deref().unwrap_or(&s.claims.arn),
            Caller::User { user, .. } => &user.arn,
        }
    }

    pub fn is_temporary(&self) -> bool {
        matches!(self, Caller::Session(_))
    }

    /// The caller as a policy principal.
    pub fn principal(&self) -> Principal {
        match self {
            Caller::User { user, .. } => Principal {
                arn: user.arn.clone(),
                account: user.account.clone(),
                unique_id: user.unique_id.clone(),
                kind: PrincipalKind::User,
            },
            Caller::Session(s) => match &s.claims.role_arn {
                Some(role_arn) => Principal {
                    arn: s.claims.arn.clone(),
                    account: s.claims.account.clone(),
                    unique_id: s
                        .claims
                        .user_id
                        .split(':')
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                    kind: PrincipalKind::AssumedRole {
                        role_arn: role_arn.clone(),
                    },
                },
                None => Principal {
                    arn: s.claims.arn.clone(),
                    account: s.claims.account.clone(),
                    unique_id: s.claims.user_id.clone(),
                    kind: PrincipalKind::User,
                },
            },
        }
    }
}
