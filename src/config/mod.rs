//! Configuration: a TOML main file plus IAM policy documents as plain AWS JSON.
//!
//! [`load`] reads, parses and checks a file and returns either a complete, valid [`Config`] (plus
//! warnings) or every problem found, each with its place in the file. A `Config` is immutable; a
//! reload (`server::reload`) builds a new one and swaps it in whole, so readers always see one
//! consistent snapshot. [`Config::files`] lists every file read, for the reload's change watch.
//! Nothing here does I/O after loading.

mod file;
mod lint;
mod problems;
mod secret;
pub mod tls_material;
mod validate;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use problems::{Problem, Severity};
pub use secret::{Secret, SecretSource};

use crate::policy::PolicyDocument;

/// The default config path used by `stsgate serve` and `stsgate check`.
pub const DEFAULT_PATH: &str = "config/stsgate.toml";

/// A checked configuration snapshot.
#[derive(Debug)]
pub struct Config {
    pub source: PathBuf,
    pub server: ServerConfig,
    pub keyring: Keyring,
    pub accounts: Vec<Account>,
    pub backends: Vec<Backend>,
    pub limits: Limits,
    pub audit: crate::audit::AuditConfig,
    /// `[shared_state] redis`: where replicas share MFA state; `None` keeps it in the process.
    pub redis: Option<RedisSettings>,
    /// `[pod_identity]`: the container-credentials endpoint, when configured.
    pub pod_identity: Option<PodIdentity>,
    /// `[[rate_limits]]`, in order.
    pub rate_limits: Vec<RateRule>,
    /// `[revocation] file`: where revocation records persist (`None`: in memory).
    pub revocation_file: Option<PathBuf>,
    /// Every file the loader read besides the config file (policies, secrets, certificates):
    /// a change to any of them reloads the config.
    pub files: Vec<PathBuf>,
}

/// What a rate limit counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateBy {
    AccessKey,
    Principal,
    SourceIp,
    Bucket,
    Route,
}

/// The kinds of request a rate limit applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    S3,
    /// STS actions that take no credentials out (GetCallerIdentity, …).
    Sts,
    /// AssumeRole, AssumeRoleWithWebIdentity, GetSessionToken.
    StsCredentials,
    HttpApi,
}

/// One `[[rate_limits]]` rule: a token bucket of `burst` tokens refilled at `rate` a second,
/// per key.
#[derive(Debug, Clone, PartialEq)]
pub struct RateRule {
    /// The label of its metrics and refusals.
    pub name: String,
    pub by: RateBy,
    /// Empty: every kind.
    pub requests: Vec<RequestKind>,
    pub rate: f64,
    pub burst: f64,
    /// Only keys matching this (a bucket name or a route's backend name; `*` and `?`).
    pub matching: Option<crate::policy::pattern::Glob>,
    /// Buckets held at most (least recently used dropped first).
    pub max_keys: u64,
    /// Counted in `[shared_state]` Redis by every replica together (else per replica).
    pub shared: bool,
}

/// `[shared_state]` with `redis` set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// The URL without a password.
    pub url: String,
    pub password: Option<Secret>,
    pub key_prefix: String,
    /// Each Redis operation (and each connection attempt) is given up after this.
    pub timeout: Duration,
    /// `rediss://` only: the CA bundle (PEM) to trust instead of the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Redis Sentinel: the sentinels' URLs and the monitored master's name (`url` is then
    /// unused): the master is asked of the sentinels, again after every failure.
    pub sentinel: Option<(Vec<String>, String)>,
}

/// `[limits]`: resource and attempt limits, each with a safe default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Open client connections (both listeners); accepting pauses at the cap.
    pub max_connections: usize,
    /// A request's headers must arrive within this (slowloris).
    pub header_read_timeout: Duration,
    /// A connection with no request in flight and no bytes moving is closed after this.
    pub idle_timeout: Duration,
    pub tls_handshake_timeout: Duration,
    /// Bodies the gateway reads before authorizing (STS forms, DeleteObjects) must arrive within this.
    pub body_read_timeout: Duration,
    pub h2_max_concurrent_streams: u32,
    /// HTTP/1 header buffer and HTTP/2 header list size.
    pub max_header_bytes: usize,
    pub mfa: MfaLimits,
    pub web_identity: WebIdentityLimits,
    /// Authentication-failure log lines per second at most (the metric counts every failure).
    pub auth_failure_logs_per_second: u32,
}

/// AssumeRoleWithWebIdentity attempt limits: failures per source address and per provider
/// within `window` lock that address (or provider) out for `lockout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebIdentityLimits {
    pub max_failures_per_address: u32,
    pub max_failures_per_provider: u32,
    pub window: Duration,
    pub lockout: Duration,
}

impl Default for WebIdentityLimits {
    fn default() -> Self {
        WebIdentityLimits {
            max_failures_per_address: 20,
            max_failures_per_provider: 1000,
            window: Duration::from_secs(60),
            lockout: Duration::from_secs(300),
        }
    }
}

/// MFA attempt limits, per device and per caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MfaLimits {
    /// Failures within `window` that lock the device and the caller out.
    pub max_failures: u32,
    pub window: Duration,
    /// How long every attempt is refused once locked.
    pub lockout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 10_000,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            tls_handshake_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            h2_max_concurrent_streams: 128,
            max_header_bytes: 64 * 1024,
            mfa: MfaLimits::default(),
            web_identity: WebIdentityLimits::default(),
            auth_failure_logs_per_second: 20,
        }
    }
}

impl Default for MfaLimits {
    fn default() -> Self {
        MfaLimits {
            max_failures: 5,
            window: Duration::from_secs(300),
            lockout: Duration::from_secs(900),
        }
    }
}

#[derive(Debug)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub admin_listen: Option<SocketAddr>,
    /// Regions accepted in credential scopes; the first is the default.
    pub regions: Vec<String>,
    /// Host names under which buckets are addressed virtual-hosted style (`<bucket>.<host>`).
    pub public_hosts: Vec<String>,
    pub max_clock_skew: Duration,
    pub partition: String,
    pub dev_mode: bool,
    pub tls: Option<TlsFiles>,
    /// Threads serving connections, each with its own single-threaded runtime; 0 (the default)
    /// serves them on the process's work-stealing runtime.
    pub workers: usize,
}

#[derive(Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Keys that seal session tokens and authorization messages. One is active for minting; every
/// key opens what it sealed, so older keys keep verifying until their tokens expire.
#[derive(Debug)]
pub struct Keyring {
    pub active: String,
    pub keys: Vec<KeyringKey>,
    /// True when dev mode generated a key for this process only (tokens die with it).
    pub ephemeral: bool,
}

#[derive(Clone)]
pub struct KeyringKey {
    pub id: String,
    pub key: [u8; 32],
}

impl std::fmt::Debug for KeyringKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyringKey({}, <redacted>)", self.id)
    }
}

/// Length of a keyring key in bytes (AES-256).
pub const KEYRING_KEY_BYTES: usize = 32;

#[derive(Debug)]
pub struct Account {
    /// 12 digits.
    pub id: String,
    pub policies: Vec<ManagedPolicy>,
    pub users: Vec<User>,
    pub roles: Vec<Role>,
    pub oidc_providers: Vec<OidcProvider>,
}

/// An OpenID Connect provider of an account, as IAM models one (run by the `federation` module).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcProvider {
    /// `https://host[:port][/path]`: a token's `iss` must equal it exactly.
    pub url: String,
    /// `arn:aws:iam::<account>:oidc-provider/<host[:port][/path]>`.
    pub arn: String,
    /// The URL without `https://`: the prefix of its condition keys (`<key>:sub`, `<key>:aud`).
    pub key: String,
    /// Client ids a token's `aud` must name one of.
    pub audiences: Vec<String>,
    /// Trust anchors for the issuer's https endpoints (`None`: the system's roots).
    pub ca_file: Option<PathBuf>,
    /// Static keys: the JWKS is read from this file and never fetched.
    pub jwks_file: Option<PathBuf>,
    /// SHA-1 thumbprints (lower-case hex); when set, the top certificate of the chain the JWKS
    /// host presents must have one of them.
    pub thumbprints: Vec<String>,
    /// Signature algorithms accepted (names as in a JWT header: RS256 … ES384).
    pub algorithms: Vec<String>,
    /// An unknown `kid` makes at most one JWKS fetch per this interval.
    pub refetch_interval: Duration,
    /// Keys older than this are refreshed in the background when next used.
    pub max_key_age: Duration,
    /// Leeway for `exp`, `nbf` and `iat`.
    pub clock_skew: Duration,
}

/// The container-credentials endpoint: service-account tokens of one cluster traded for role
/// sessions by association.
#[derive(Debug, Clone)]
pub struct PodIdentity {
    pub cluster_name: String,
    /// `arn:aws:eks:<region>:<account>:cluster/<name>` (the `eks-cluster-arn` tag).
    pub cluster_arn: String,
    /// In config order: the first that matches a token decides.
    pub associations: Vec<PodAssociation>,
}

#[derive(Debug, Clone)]
pub struct PodAssociation {
    /// An OIDC provider URL of the role's account (the cluster's issuer).
    pub provider: String,
    /// The role's account.
    pub account: String,
    /// The token's `sub`, as written (`system:serviceaccount:NAMESPACE:NAME`, `*` and `?`).
    pub subject: String,
    pub subject_pattern: crate::policy::pattern::Glob,
    /// A value the token's `aud` must hold (default `pods.eks.amazonaws.com`).
    pub audience: String,
    pub role_arn: String,
    pub duration_seconds: i64,
}

/// The path of the container-credentials endpoint (EKS Pod Identity's, which the SDKs' container
/// providers are pointed at).
pub const POD_IDENTITY_PATH: &str = "/v1/credentials";

/// The principal a pod identity role's trust policy names to consent (as on EKS).
pub const POD_IDENTITY_SERVICE: &str = "pods.eks.amazonaws.com";

/// The signature algorithms a web identity token may use (AWS accepts these and ES512, which
/// the JWT library does not verify).
pub const WEB_IDENTITY_ALGORITHMS: [&str; 5] = ["RS256", "RS384", "RS512", "ES256", "ES384"];

#[derive(Debug)]
pub struct ManagedPolicy {
    pub name: String,
    pub arn: String,
    pub description: Option<String>,
    pub document: PolicyDocument,
}

#[derive(Debug)]
pub struct InlinePolicy {
    pub name: String,
    pub document: PolicyDocument,
}

#[derive(Debug)]
pub struct User {
    pub name: String,
    pub path: String,
    pub arn: String,
    /// `AIDA…`, derived from account and name so every replica agrees.
    pub unique_id: String,
    pub access_keys: Vec<AccessKey>,
    /// Indexes into the account's `policies`.
    pub managed_policies: Vec<usize>,
    pub inline_policies: Vec<InlinePolicy>,
    pub permissions_boundary: Option<usize>,
    pub mfa_devices: Vec<MfaDevice>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug)]
pub struct AccessKey {
    pub id: String,
    pub secret: Secret,
    pub active: bool,
}

#[derive(Debug)]
pub struct MfaDevice {
    /// `arn:aws:iam::<account>:mfa/<name>`, what clients pass as `SerialNumber`.
    pub serial: String,
    /// The decoded TOTP seed.
    pub seed: Secret,
}

#[derive(Debug)]
pub struct Role {
    pub name: String,
    pub path: String,
    pub arn: String,
    /// `AROA…`, derived from account and name.
    pub unique_id: String,
    pub trust_policy: PolicyDocument,
    pub managed_policies: Vec<usize>,
    pub inline_policies: Vec<InlinePolicy>,
    pub permissions_boundary: Option<usize>,
    pub max_session_duration: Duration,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    S3,
    Http,
}

#[derive(Debug)]
pub struct Backend {
    pub name: String,
    pub kind: BackendKind,
    pub url: http::Uri,
    pub hosts: Vec<String>,
    pub path_prefix: Option<String>,
    pub region: String,
    pub credentials: Option<BackendCredentials>,
    /// https backends: trusted CA bundle (`None`: the system's roots).
    pub ca_file: Option<PathBuf>,
    /// https backends: client certificate chain and key.
    pub client_identity: Option<(PathBuf, PathBuf)>,
    /// `kind = "http"` only: how requests are authorized and forwarded.
    pub api: Option<ApiSettings>,
    /// How long the backend (or the client, during an upload) may stay silent.
    pub timeout: Duration,
    /// Pass the backend's identifying response headers through to clients.
    pub pass_fingerprints: bool,
    /// `kind = "s3"`: PutBucketWebsite is forwarded (see [`crate::s3::subresources::OFF_BY_DEFAULT`]).
    pub allow_bucket_website: bool,
    /// `kind = "s3"`: who owns each bucket, and the bucket policies.
    pub buckets: Buckets,
}

/// Bucket ownership and bucket policies of one S3 backend.
#[derive(Debug, Clone, Default)]
pub struct Buckets {
    /// The owner of a bucket no entry matches.
    pub default_account: String,
    /// In config order; the first entry whose name matches decides.
    pub entries: Vec<BucketEntry>,
}

#[derive(Debug, Clone)]
pub struct BucketEntry {
    /// The name or pattern as written.
    pub name: String,
    pattern: crate::policy::pattern::Glob,
    pub account: String,
    pub policy: Option<std::sync::Arc<crate::policy::CompiledPolicy>>,
    /// The policy as written (for GetBucketPolicy).
    pub policy_text: Option<String>,
    /// The policy grants access to anyone (see [`crate::policy::is_public`]).
    pub public: bool,
    /// `manage_policy`: the file Put/DeleteBucketPolicy write (or remove).
    pub managed_file: Option<PathBuf>,
    /// The bucket's CORS rules (preflights answered by the gateway).
    pub cors: Option<std::sync::Arc<crate::cors::CorsConfig>>,
    /// `manage_cors`: the file Put/DeleteBucketCors write (or remove).
    pub managed_cors_file: Option<PathBuf>,
}

impl BucketEntry {
    pub fn new(
        name: &str,
        account: &str,
        policy: Option<(std::sync::Arc<crate::policy::CompiledPolicy>, String)>,
        public: bool,
    ) -> BucketEntry {
        let (policy, policy_text) = match policy {
            Some((p, t)) => (Some(p), Some(t)),
            None => (None, None),
        };
        BucketEntry {
            name: name.to_string(),
            pattern: crate::policy::pattern::Glob::new(name, false),
            account: account.to_string(),
            policy,
            policy_text,
            public,
            managed_file: None,
            cors: None,
            managed_cors_file: None,
        }
    }
}

/// Whose a bucket is and what its policy says.
#[derive(Debug, Clone, Copy)]
pub struct BucketFacts<'a> {
    pub owner: &'a str,
    /// The entry that matched, if any.
    pub entry: Option<&'a BucketEntry>,
}

impl Buckets {
    pub fn lookup(&self, bucket: &str) -> BucketFacts<'_> {
        match self.entries.iter().find(|e| e.pattern.matches(bucket)) {
            Some(e) => BucketFacts {
                owner: &e.account,
                entry: Some(e),
            },
            None => BucketFacts {
                owner: &self.default_account,
                entry: None,
            },
        }
    }
}

/// An HTTP API backend's routing and authorization settings.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// The service clients sign for (`execute-api` unless configured).
    pub service: String,
    /// `{api_id}/{stage}` in `arn:{partition}:execute-api:{region}:{account}:{api_id}/{stage}/{METHOD}/{path}`.
    pub api_id: String,
    pub stage: String,
    pub account: String,
    /// Identity headers added to forwarded requests (names as configured).
    pub identity_headers: IdentityHeaders,
    /// Request headers passed through besides [`crate::api::STANDARD_FORWARDED`].
    pub forward_headers: Vec<http::HeaderName>,
    pub max_body_bytes: u64,
    /// Method overrides are accepted (and the overridden method authorized); see
    /// [`crate::api::method`].
    pub allow_method_override: bool,
    /// CORS rules of the route (preflights answered by the gateway).
    pub cors: Option<std::sync::Arc<crate::cors::CorsConfig>>,
}

/// The header names of each identity fact; `None` leaves that one out.
#[derive(Debug, Clone)]
pub struct IdentityHeaders {
    pub principal_arn: Option<http::HeaderName>,
    pub account: Option<http::HeaderName>,
    pub user_id: Option<http::HeaderName>,
    pub session_name: Option<http::HeaderName>,
    pub source_identity: Option<http::HeaderName>,
    pub mfa_present: Option<http::HeaderName>,
}

impl IdentityHeaders {
    /// Every configured name.
    pub fn names(&self) -> impl Iterator<Item = &http::HeaderName> {
        [
            &self.principal_arn,
            &self.account,
            &self.user_id,
            &self.session_name,
            &self.source_identity,
            &self.mfa_present,
        ]
        .into_iter()
        .flatten()
    }
}

/// Default largest body of an HTTP API request (API Gateway's payload quota).
pub const DEFAULT_API_MAX_BODY: u64 = 10 * 1024 * 1024;

#[derive(Debug)]
pub struct BackendCredentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
}

/// The outcome of checking a file that has no errors.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Problem>,
}

/// Reads and checks a config file. On failure, returns every problem found (errors and warnings).
pub fn load(path: &Path) -> Result<Loaded, Vec<Problem>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![Problem {
            severity: Severity::Error,
            file: path.to_path_buf(),
            position: None,
            at: String::new(),
            message: format!("cannot read the config file: {e}"),
        }]
    })?;
    load_str(path, &text)
}

/// Checks config text; `path` names it in messages and anchors relative `file:` paths.
pub fn load_str(path: &Path, text: &str) -> Result<Loaded, Vec<Problem>> {
    let mut problems = problems::Problems::new(path, text);
    match validate::validate(path, text, &mut problems) {
        Some(config) if !problems.has_errors() => Ok(Loaded {
            config,
            warnings: problems.list,
        }),
        _ => Err(problems.list),
    }
}

impl Config {
    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.id == id)
    }
}

#[cfg(test)]
mod tests;
