//! Turns the raw TOML model into a checked [`Config`], reporting every problem with its place.
//!
//! The validator keeps going after an error so that one run of `stsgate check` lists everything
//! that is wrong; it returns a `Config` only when nothing is.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use toml::Spanned;

mod accounts;
mod backends;
mod cors;
mod federation;
mod rate_limits;
mod server;

use super::file::*;
use super::lint;
use super::problems::Problems;
use super::secret::{Secret, SecretSource, resolve_secret};
use super::*;
use crate::identity::{KeyKind, decode_access_key_id};
use crate::policy::{
    CompiledPolicy, PolicyDocument, PolicyKind, PrincipalArn, parse_principal_arn, policy_size,
};

/// IAM's size quotas, in non-whitespace characters.
const MAX_INLINE_USER_POLICY: usize = 2048;
const MAX_INLINE_ROLE_POLICY: usize = 10240;
const MAX_MANAGED_POLICY: usize = 6144;
const MAX_TRUST_POLICY: usize = 2048;

pub fn validate(path: &Path, text: &str, p: &mut Problems) -> Option<Config> {
    let raw: RawConfig = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            // Point at the start of the offending item; toml's message has no position of its own.
            let message = e.message().to_string();
            if span.end > 0 || span.start > 0 {
                p.error_at(p.line_col(span.start), "", message);
            } else {
                p.error(&span, "", message);
            }
            return None;
        }
    };
    let base = path
        .parent()
        .filter(|b| !b.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let mut v = Validator {
        p,
        base,
        dev_mode: raw.server.get_ref().dev_mode,
        partition: raw.server.get_ref().partition.get_ref().clone(),
        access_keys: HashMap::new(),
        trust_checks: Vec::new(),
        files: Vec::new(),
    };

    let server = v.server(&raw.server);
    let keyring = v.keyring(raw.keyring.as_ref(), raw.server.span());
    let mut accounts = Vec::new();
    let mut account_ids = HashSet::new();
    for (i, account) in raw.accounts.iter().enumerate() {
        let id = account.get_ref().id.get_ref();
        if !account_ids.insert(id.clone()) {
            v.p.error(
                &account.get_ref().id.span(),
                format!("accounts[{i}]"),
                format!("account {id} is defined twice"),
            );
        }
        if let Some(a) = v.account(i, account) {
            accounts.push(a);
        }
    }
    v.check_trust_principals(&accounts);
    let mut backends = Vec::new();
    let mut backend_names = HashSet::new();
    for (i, backend) in raw.backends.iter().enumerate() {
        let name = backend.get_ref().name.get_ref();
        if !backend_names.insert(name.clone()) {
            v.p.error(
                &backend.get_ref().name.span(),
                format!("backends[{i}]"),
                format!("backend \"{name}\" is defined twice"),
            );
        }
        if let Some(b) = v.backend(
            i,
            backend,
            accounts.first().map(|a| a.id.as_str()),
            &account_ids,
        ) {
            backends.push(b);
        }
    }
    v.check_routes(&raw.backends, &backends);
    if raw.backends.is_empty() {
        v.p.warning(
            &raw.server.span(),
            "backends",
            "no [[backends]] are configured: the gateway can only serve STS",
        );
    }

    let limits = v.limits(raw.limits.as_ref());
    let audit = v.audit(raw.audit.as_ref());
    let redis = v.shared_state(raw.shared_state.as_ref());
    let partition = v.partition.clone();
    let default_region = server
        .as_ref()
        .and_then(|s| s.regions.first().cloned())
        .unwrap_or_else(|| "us-east-1".into());
    let pod_identity = raw
        .pod_identity
        .as_ref()
        .and_then(|p| v.pod_identity(p, &accounts, &partition, &default_region));

    let rate_limits = v.rate_limits(&raw.rate_limits);
    v.shared_rate_limits(&raw.rate_limits, redis.is_some());
    let revocation_file = raw
        .revocation
        .as_ref()
        .and_then(|r| r.get_ref().file.as_ref())
        .map(|f| v.base.join(f.get_ref()));

    if v.p.has_errors()
        || accounts.len() != raw.accounts.len()
        || backends.len() != raw.backends.len()
    {
        return None;
    }
    Some(Config {
        source: path.to_path_buf(),
        server: server?,
        keyring: keyring?,
        accounts,
        backends,
        limits,
        audit,
        redis,
        pod_identity,
        rate_limits,
        revocation_file,
        files: std::mem::take(&mut v.files),
    })
}

struct Validator<'p, 'a> {
    /// Files read while validating (see `Config::files`).
    files: Vec<PathBuf>,
    p: &'p mut Problems<'a>,
    base: PathBuf,
    dev_mode: bool,
    partition: String,
    /// Every access key id seen so far, to refuse duplicates across users and accounts.
    access_keys: HashMap<String, String>,
    /// Trust-policy principals to check once every account's users and roles are known.
    trust_checks: Vec<TrustCheck>,
}

struct TrustCheck {
    span: Range<usize>,
    at: String,
    principals: Vec<String>,
    /// `"Federated"` principals: OIDC provider ARNs.
    federated: Vec<String>,
}

impl Validator<'_, '_> {
    fn secret(&mut self, value: &Spanned<String>, at: &str, what: &str) -> Option<Secret> {
        if let Some(path) = value.get_ref().strip_prefix("file:") {
            self.files.push(self.base.join(path));
        }
        match resolve_secret(value.get_ref(), &self.base) {
            Ok((secret, source)) => {
                if source == SecretSource::Inline && !self.dev_mode {
                    self.p.warning(
                        &value.span(),
                        at,
                        format!("{what} is written inline outside dev mode; use env:NAME or file:PATH so it stays out of the config file"),
                    );
                }
                Some(secret)
            }
            Err(e) => {
                self.p.error(&value.span(), at, format!("{what}: {e}"));
                None
            }
        }
    }

    fn socket_addr(&mut self, value: &Spanned<String>, at: &str) -> Option<SocketAddr> {
        match value.get_ref().parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.p.error(
                    &value.span(),
                    at,
                    format!(
                        "\"{}\" is not an address like 127.0.0.1:7480 or [::1]:7480",
                        value.get_ref()
                    ),
                );
                None
            }
        }
    }

    fn existing_file(&mut self, value: &Spanned<String>, at: &str) -> Option<PathBuf> {
        let path = self.base.join(value.get_ref());
        if path.is_file() {
            self.files.push(path.clone());
            Some(path)
        } else {
            self.p.error(
                &value.span(),
                at,
                format!("file {} does not exist", path.display()),
            );
            None
        }
    }

    fn name(&mut self, value: &Spanned<String>, at: &str, what: &str, max: usize) -> bool {
        let n = value.get_ref();
        let valid = !n.is_empty()
            && n.len() <= max
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
        if !valid {
            self.p.error(
                &value.span(),
                at,
                format!("{what} \"{n}\" must be 1-{max} characters of letters, digits and +=,.@_-"),
            );
        }
        valid
    }

    fn iam_path(&mut self, value: &Spanned<String>, at: &str) -> bool {
        let path = value.get_ref();
        let valid = path.starts_with('/')
            && path.ends_with('/')
            && path.len() <= 512
            && !path.contains("//")
            && path.bytes().all(|b| (b'!'..=b'~').contains(&b));
        if !valid {
            self.p.error(
                &value.span(),
                at,
                format!(
                    "path \"{path}\" must start and end with '/' (e.g. \"/\" or \"/division/\")"
                ),
            );
        }
        valid
    }
}

/// A stable unique id (`AIDA…`/`AROA…`, 21 characters) derived from account and name, so every
/// replica and every restart agrees without storing anything.
pub fn unique_id(prefix: &str, account: &str, kind: &str, name: &str) -> String {
    let digest = Sha256::digest(format!("stsgate-unique-id\0{kind}\0{account}\0{name}").as_bytes());
    let encoded = data_encoding::BASE32_NOPAD.encode(&digest);
    format!("{prefix}{}", &encoded[..17])
}
