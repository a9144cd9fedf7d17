//! The TOML file as written: a serde model with spans, so every problem can name its place.
//!
//! Nothing here is checked beyond TOML types and field names (`deny_unknown_fields` catches
//! typos); `validate` turns this into a [`super::Config`].

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub server: Spanned<RawServer>,
    pub keyring: Option<Spanned<RawKeyring>>,
    #[serde(default)]
    pub accounts: Vec<Spanned<RawAccount>>,
    #[serde(default)]
    pub backends: Vec<Spanned<RawBackend>>,
    pub limits: Option<Spanned<RawLimits>>,
    pub audit: Option<Spanned<RawAudit>>,
    pub shared_state: Option<Spanned<RawSharedState>>,
    pub pod_identity: Option<Spanned<RawPodIdentity>>,
    #[serde(default)]
    pub rate_limits: Vec<Spanned<RawRateRule>>,
    pub revocation: Option<Spanned<RawRevocation>>,
}

/// `[revocation]`: where revocation records are kept.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRevocation {
    /// A JSON file the gateway writes (relative to the config file); without it, records live
    /// in memory only.
    pub file: Option<Spanned<String>>,
}

/// `[[rate_limits]]`: a token bucket per key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRateRule {
    /// The label in metrics (default `<by>-<n>`).
    pub name: Option<Spanned<String>>,
    /// `access_key`, `principal`, `source_ip`, `bucket` or `route`.
    pub by: Spanned<String>,
    /// `s3`, `sts`, `sts_credentials`, `execute-api` (default: all).
    #[serde(default)]
    pub requests: Vec<Spanned<String>>,
    /// Tokens a second.
    pub rate: Spanned<f64>,
    /// Bucket size (default: `rate`, at least 1).
    pub burst: Option<Spanned<f64>>,
    /// `by = "bucket"` or `"route"`: only these buckets or routes (`*`, `?`).
    #[serde(rename = "match")]
    pub matching: Option<Spanned<String>>,
    pub max_keys: Option<Spanned<u64>>,
    /// Count in `[shared_state]` Redis, across replicas.
    pub shared: Option<Spanned<bool>>,
}

/// `[shared_state]`: state shared by several replicas (used MFA codes, MFA failure counts).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSharedState {
    /// `redis://host:port/db` (no password in it: see `password`).
    pub redis: Option<Spanned<String>>,
    /// A secret reference (`env:NAME`, `file:PATH`).
    pub password: Option<Spanned<String>>,
    pub key_prefix: Option<Spanned<String>>,
    pub timeout_ms: Option<Spanned<u64>>,
    /// `rediss://`: the PEM CA bundle Redis's certificate is checked against (default: the
    /// system's roots).
    pub ca_file: Option<Spanned<String>>,
    /// Redis Sentinel instead of `redis`: `redis://host:port` of each sentinel.
    #[serde(default)]
    pub sentinels: Vec<Spanned<String>>,
    /// The master's name in the sentinels' configuration.
    pub master_name: Option<Spanned<String>>,
}

/// `[audit]`: where the audit trail goes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAudit {
    #[serde(default)]
    pub stdout: bool,
    /// Relative to the config file.
    pub file: Option<Spanned<String>>,
    pub queue_capacity: Option<Spanned<u64>>,
}

/// `[limits]`: what one client may hold or try. Every key is optional (see `Limits` defaults).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub max_connections: Option<Spanned<u64>>,
    pub header_read_timeout_seconds: Option<Spanned<u64>>,
    pub idle_timeout_seconds: Option<Spanned<u64>>,
    pub tls_handshake_timeout_seconds: Option<Spanned<u64>>,
    pub body_read_timeout_seconds: Option<Spanned<u64>>,
    pub h2_max_concurrent_streams: Option<Spanned<u64>>,
    pub max_header_bytes: Option<Spanned<u64>>,
    pub mfa_max_failures: Option<Spanned<u64>>,
    pub mfa_window_seconds: Option<Spanned<u64>>,
    pub mfa_lockout_seconds: Option<Spanned<u64>>,
    pub web_identity_max_failures_per_address: Option<Spanned<u64>>,
    pub web_identity_max_failures_per_provider: Option<Spanned<u64>>,
    pub web_identity_window_seconds: Option<Spanned<u64>>,
    pub web_identity_lockout_seconds: Option<Spanned<u64>>,
    pub auth_failure_logs_per_second: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Spanned<String>,
    pub admin_listen: Option<Spanned<String>>,
    #[serde(default = "default_regions")]
    pub regions: Spanned<Vec<String>>,
    #[serde(default)]
    pub public_hosts: Vec<Spanned<String>>,
    #[serde(default = "default_skew")]
    pub max_clock_skew_seconds: Spanned<u64>,
    #[serde(default = "default_partition")]
    pub partition: Spanned<String>,
    /// Demo mode: inline secrets are fine and a missing keyring gets an ephemeral key.
    #[serde(default)]
    pub dev_mode: bool,
    /// Connection worker threads (0: the shared work-stealing runtime).
    pub workers: Option<Spanned<u64>>,
    pub tls: Option<Spanned<RawTls>>,
}

fn default_regions() -> Spanned<Vec<String>> {
    Spanned::new(0..0, vec!["us-east-1".to_string()])
}
fn default_skew() -> Spanned<u64> {
    Spanned::new(0..0, 900)
}
fn default_partition() -> Spanned<String> {
    Spanned::new(0..0, "aws".to_string())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub cert: Spanned<String>,
    pub key: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKeyring {
    pub active: Spanned<String>,
    #[serde(default)]
    pub keys: Vec<Spanned<RawKey>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKey {
    pub id: Spanned<String>,
    pub secret: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAccount {
    pub id: Spanned<String>,
    #[serde(default)]
    pub policies: Vec<Spanned<RawManagedPolicy>>,
    #[serde(default)]
    pub users: Vec<Spanned<RawUser>>,
    #[serde(default)]
    pub roles: Vec<Spanned<RawRole>>,
    #[serde(default)]
    pub oidc_providers: Vec<Spanned<RawOidcProvider>>,
}

/// `[pod_identity]`: the container-credentials endpoint (`GET /v1/credentials`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPodIdentity {
    pub cluster_name: Spanned<String>,
    pub region: Option<Spanned<String>>,
    #[serde(default)]
    pub associations: Vec<Spanned<RawPodAssociation>>,
}

/// `[[pod_identity.associations]]`: which role a service account's token gets.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPodAssociation {
    pub provider: Spanned<String>,
    pub subject: Spanned<String>,
    pub audience: Option<Spanned<String>>,
    pub role_arn: Spanned<String>,
    pub duration_seconds: Option<Spanned<u64>>,
}

/// `[[accounts.oidc_providers]]`: an OpenID Connect issuer whose tokens
/// AssumeRoleWithWebIdentity takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOidcProvider {
    pub url: Spanned<String>,
    pub audiences: Spanned<Vec<String>>,
    pub ca_file: Option<Spanned<String>>,
    pub jwks_file: Option<Spanned<String>>,
    #[serde(default)]
    pub thumbprints: Vec<Spanned<String>>,
    pub algorithms: Option<Spanned<Vec<String>>>,
    pub refetch_interval_seconds: Option<Spanned<u64>>,
    pub max_key_age_seconds: Option<Spanned<u64>>,
    pub clock_skew_seconds: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawManagedPolicy {
    pub name: Spanned<String>,
    #[serde(default = "default_path")]
    pub path: Spanned<String>,
    pub description: Option<String>,
    /// Policy JSON inline, or `file:PATH` (relative to the config file).
    pub document: Spanned<String>,
}

fn default_path() -> Spanned<String> {
    Spanned::new(0..0, "/".to_string())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInlinePolicy {
    pub name: Spanned<String>,
    pub document: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUser {
    pub name: Spanned<String>,
    #[serde(default = "default_path")]
    pub path: Spanned<String>,
    #[serde(default)]
    pub access_keys: Vec<Spanned<RawAccessKey>>,
    #[serde(default)]
    pub managed_policies: Vec<Spanned<String>>,
    #[serde(default)]
    pub inline_policies: Vec<Spanned<RawInlinePolicy>>,
    pub permissions_boundary: Option<Spanned<String>>,
    #[serde(default)]
    pub mfa_devices: Vec<Spanned<RawMfaDevice>>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAccessKey {
    pub id: Spanned<String>,
    pub secret: Spanned<String>,
    #[serde(default = "default_status")]
    pub status: Spanned<String>,
}

fn default_status() -> Spanned<String> {
    Spanned::new(0..0, "Active".to_string())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMfaDevice {
    pub name: Spanned<String>,
    /// The TOTP seed, base32 as authenticator apps show it.
    pub seed: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRole {
    pub name: Spanned<String>,
    #[serde(default = "default_path")]
    pub path: Spanned<String>,
    pub trust_policy: Spanned<String>,
    #[serde(default)]
    pub managed_policies: Vec<Spanned<String>>,
    #[serde(default)]
    pub inline_policies: Vec<Spanned<RawInlinePolicy>>,
    pub permissions_boundary: Option<Spanned<String>>,
    #[serde(default = "default_max_session")]
    pub max_session_duration: Spanned<u64>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

fn default_max_session() -> Spanned<u64> {
    Spanned::new(0..0, 3600)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBackend {
    pub name: Spanned<String>,
    /// `s3` or `http`.
    pub kind: Spanned<String>,
    pub url: Spanned<String>,
    /// Host names routed to this backend (empty: any host).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Path prefix routed to this backend (http backends).
    pub path_prefix: Option<Spanned<String>>,
    /// Region the backend expects in its signatures.
    pub region: Option<String>,
    pub access_key_id: Option<Spanned<String>>,
    pub secret_access_key: Option<Spanned<String>>,
    pub session_token: Option<Spanned<String>>,
    /// PEM CA bundle to trust for an https backend (default: the system's roots).
    pub ca_file: Option<Spanned<String>>,
    /// PEM client certificate chain and key presented to an https backend.
    pub client_cert: Option<Spanned<String>>,
    pub client_key: Option<Spanned<String>>,
    /// http backends: the service name clients sign for (default `execute-api`).
    pub service: Option<Spanned<String>>,
    /// http backends: the API id and stage in `execute-api` resource ARNs.
    pub api_id: Option<Spanned<String>>,
    pub stage: Option<Spanned<String>>,
    /// http backends: the account in resource ARNs; s3 backends: the account owning buckets not
    /// listed in `buckets` (default: the first account).
    pub account: Option<Spanned<String>>,
    /// s3 backends: bucket owners and bucket policies.
    #[serde(default)]
    pub buckets: Vec<Spanned<RawBucket>>,
    /// http backends: request headers passed to the backend besides the standard ones.
    #[serde(default)]
    pub forward_headers: Vec<Spanned<String>>,
    /// http backends: accept method overrides (`X-HTTP-Method-Override` and the like, `_method`);
    /// the overridden method is then the one authorized. Off: such requests are refused.
    pub allow_method_override: Option<Spanned<bool>>,
    /// http backends: CORS rules for the route (S3's CORSConfiguration XML or aws-cli's JSON,
    /// inline or `file:PATH`): preflights answered by the gateway, headers on every answer.
    pub cors: Option<Spanned<String>>,
    /// http backends: names of the identity headers the gateway adds ("" leaves one out).
    pub identity_headers: Option<Spanned<RawIdentityHeaders>>,
    /// http backends: largest request body accepted.
    pub max_body_bytes: Option<Spanned<u64>>,
    /// Seconds the backend may stay silent: to start answering once the request body is sent,
    /// or while it reads the body.
    pub timeout_seconds: Option<Spanned<u64>>,
    /// Pass the backend's identifying response headers (`Server`, `x-amz-id-2`, `x-minio-*`)
    /// through to clients. Off by default.
    #[serde(default)]
    pub pass_fingerprints: bool,
    /// s3 backends: forward PutBucketWebsite (refused by default: a backend that serves bucket
    /// websites, as Garage does, serves them anonymously outside every bucket policy).
    #[serde(default)]
    pub allow_bucket_website: bool,
}

/// `[[backends.buckets]]`: who owns a bucket (or every bucket matching a pattern) and its policy.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBucket {
    /// A bucket name, or a pattern with `*` and `?`.
    pub name: Spanned<String>,
    /// The owning account (default: the backend's `account`).
    pub account: Option<Spanned<String>>,
    /// A bucket policy: AWS JSON inline or `file:PATH`.
    pub policy: Option<Spanned<String>>,
    /// Put/DeleteBucketPolicy through the gateway write the `policy` file (which may then be
    /// missing: no policy).
    #[serde(default)]
    pub manage_policy: bool,
    /// CORS rules (S3's CORSConfiguration XML or aws-cli's JSON, inline or `file:PATH`):
    /// preflights are answered by the gateway, never by the backend.
    pub cors: Option<Spanned<String>>,
    /// Put/DeleteBucketCors through the gateway write the `cors` file (which may then be
    /// missing: no CORS).
    #[serde(default)]
    pub manage_cors: bool,
}

/// `[backends.identity_headers]`: header names; an empty string leaves that header out.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdentityHeaders {
    pub principal_arn: Option<Spanned<String>>,
    pub account: Option<Spanned<String>>,
    pub user_id: Option<Spanned<String>>,
    pub session_name: Option<Spanned<String>>,
    pub source_identity: Option<Spanned<String>>,
    pub mfa_present: Option<Spanned<String>>,
}
