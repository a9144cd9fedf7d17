//! stsgate: a reverse proxy that is its own small AWS STS.
//!
//! It issues short-lived credentials, verifies every request signed with them (SigV4), evaluates
//! the session's IAM policy for the exact action and resource, and forwards the request re-signed
//! with the backend's own credentials.
//!
//! The crate is a library plus a thin binary. Each stage of a request is a module that knows
//! nothing of the stages after it (see `DESIGN.md` in the shared folder and the README):
//!
//! * [`config`]: the TOML file, secrets, validation with located messages, and lints.
//! * [`policy`]: the IAM policy language (documents, parsing).
//! * [`identity`]: access-key-id formats and principals.
//! * [`sigv4`]: canonical requests, verification and signing (pure: no sockets).
//! * [`oidc`]: OpenID Connect tokens and key sets, checked with AWS's rules (pure: no I/O).
//! * [`federation`]: the configured OIDC providers at run time: keys fetched and cached, and
//!   AssumeRoleWithWebIdentity's attempt limits.
//! * [`sts`]: session tokens and the keyring that seals them.
//! * [`api`]: HTTP APIs behind the gateway (canonical paths, `execute-api` resources).
//! * [`audit`]: the audit trail (one CloudTrail-shaped record per request).
//! * [`server`]: listeners, the authentication stage and router, the protocols, config reload,
//!   admin endpoints.
//!
//! * [`cors`]: CORS rules as S3 defines them (pure).
//! * [`throttle`]: rate limit token buckets (pure of HTTP).
//! * [`revocation`]: revoked sessions (records, their file) and the `stsgate revoke` client.
//!
//! Non-goals: SigV2, SigV4a, and anything that would let a request through without verification;
//! there is no switch that skips it.
#![forbid(unsafe_code)]

pub mod api;
pub mod audit;
pub mod authz;
pub mod config;
pub mod cors;
pub mod federation;
pub mod identity;
pub mod oidc;
pub mod policy;
pub mod proxy;
pub mod revocation;
pub mod s3;
pub mod server;
pub mod sigv4;
pub mod sts;
pub mod throttle;
pub mod xml;
