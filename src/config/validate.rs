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
}

impl Validator<'_, '_> {
    /// `[limits]`: each key within its range, or its default.
    fn limits(&mut self, raw: Option<&Spanned<RawLimits>>) -> Limits {
        let default = Limits::default();
        let Some(raw) = raw else {
            return default;
        };
        let l = raw.get_ref();
        let mut ranged =
            |v: &Option<Spanned<u64>>, name: &str, fallback: u64, min: u64, max: u64| {
                let Some(v) = v else {
                    return fallback;
                };
                let n = *v.get_ref();
                if !(min..=max).contains(&n) {
                    self.p.error(
                        &v.span(),
                        "limits",
                        format!("{name} must be between {min} and {max}, not {n}"),
                    );
                }
                n.clamp(min, max)
            };
        let secs = |d: std::time::Duration| d.as_secs();
        Limits {
            max_connections: ranged(
                &l.max_connections,
                "max_connections",
                default.max_connections as u64,
                1,
                1_000_000,
            ) as usize,
            header_read_timeout: Duration::from_secs(ranged(
                &l.header_read_timeout_seconds,
                "header_read_timeout_seconds",
                secs(default.header_read_timeout),
                1,
                300,
            )),
            idle_timeout: Duration::from_secs(ranged(
                &l.idle_timeout_seconds,
                "idle_timeout_seconds",
                secs(default.idle_timeout),
                1,
                3600,
            )),
            tls_handshake_timeout: Duration::from_secs(ranged(
                &l.tls_handshake_timeout_seconds,
                "tls_handshake_timeout_seconds",
                secs(default.tls_handshake_timeout),
                1,
                300,
            )),
            body_read_timeout: Duration::from_secs(ranged(
                &l.body_read_timeout_seconds,
                "body_read_timeout_seconds",
                secs(default.body_read_timeout),
                1,
                3600,
            )),
            h2_max_concurrent_streams: ranged(
                &l.h2_max_concurrent_streams,
                "h2_max_concurrent_streams",
                u64::from(default.h2_max_concurrent_streams),
                1,
                10_000,
            ) as u32,
            max_header_bytes: ranged(
                &l.max_header_bytes,
                "max_header_bytes",
                default.max_header_bytes as u64,
                8192,
                1 << 20,
            ) as usize,
            mfa: MfaLimits {
                max_failures: ranged(
                    &l.mfa_max_failures,
                    "mfa_max_failures",
                    u64::from(default.mfa.max_failures),
                    1,
                    100,
                ) as u32,
                window: Duration::from_secs(ranged(
                    &l.mfa_window_seconds,
                    "mfa_window_seconds",
                    secs(default.mfa.window),
                    30,
                    86_400,
                )),
                lockout: Duration::from_secs(ranged(
                    &l.mfa_lockout_seconds,
                    "mfa_lockout_seconds",
                    secs(default.mfa.lockout),
                    30,
                    86_400,
                )),
            },
            auth_failure_logs_per_second: ranged(
                &l.auth_failure_logs_per_second,
                "auth_failure_logs_per_second",
                u64::from(default.auth_failure_logs_per_second),
                1,
                10_000,
            ) as u32,
        }
    }

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

    fn server(&mut self, raw: &Spanned<RawServer>) -> Option<ServerConfig> {
        let s = raw.get_ref();
        let at = "server";
        let listen = self.socket_addr(&s.listen, "server.listen");
        let admin_listen = s
            .admin_listen
            .as_ref()
            .map(|a| self.socket_addr(a, "server.admin_listen"));
        let regions = s.regions.get_ref().clone();
        if regions.is_empty() {
            self.p.error(
                &s.regions.span(),
                at,
                "regions must name at least one region (e.g. [\"us-east-1\"])",
            );
        }
        for r in &regions {
            if r.is_empty()
                || !r
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                self.p.error(
                    &s.regions.span(),
                    at,
                    format!(
                        "region \"{r}\" is not a region name (lower-case letters, digits and '-')"
                    ),
                );
            }
        }
        let mut public_hosts = Vec::new();
        for h in &s.public_hosts {
            let host = h.get_ref();
            if host.is_empty()
                || host.contains(['/', ':', ' '])
                || host.starts_with('.')
                || host != &host.to_ascii_lowercase()
            {
                self.p.error(&h.span(), at, format!("public host \"{host}\" must be a lower-case host name without port or scheme"));
            }
            public_hosts.push(host.clone());
        }
        let skew = *s.max_clock_skew_seconds.get_ref();
        if !(60..=3600).contains(&skew) {
            self.p.error(
                &s.max_clock_skew_seconds.span(),
                at,
                format!(
                    "max_clock_skew_seconds must be between 60 and 3600 (AWS uses 900), not {skew}"
                ),
            );
        }
        let workers = match &s.workers {
            // Measured side by side (README "Benchmarks"): on a machine whose cores the
            // gateway shares, the work-stealing runtime gave the same CPU per request and more
            // throughput, so per-core workers are opt-in.
            None => 0,
            Some(w) => {
                let n = *w.get_ref();
                if n > 1024 {
                    self.p.error(
                        &w.span(),
                        at,
                        format!("workers must be between 0 and 1024, not {n}"),
                    );
                }
                n.min(1024) as usize
            }
        };
        let partition = s.partition.get_ref().clone();
        if partition.is_empty()
            || !partition
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-')
        {
            self.p.error(
                &s.partition.span(),
                at,
                format!("partition \"{partition}\" must be like \"aws\" or \"aws-cn\""),
            );
        }
        let tls = s.tls.as_ref().and_then(|t| {
            let cert = self.existing_file(&t.get_ref().cert, "server.tls.cert");
            let key = self.existing_file(&t.get_ref().key, "server.tls.key");
            Some(TlsFiles {
                cert: cert?,
                key: key?,
            })
        });
        if s.dev_mode {
            self.p.warning(&raw.span(), at, "dev_mode is on: inline secrets are accepted and a missing keyring gets a key that dies with the process; never use this in production");
        }
        Some(ServerConfig {
            listen: listen?,
            admin_listen: match admin_listen {
                Some(a) => Some(a?),
                None => None,
            },
            regions,
            public_hosts,
            max_clock_skew: Duration::from_secs(skew),
            partition,
            dev_mode: s.dev_mode,
            tls,
            workers,
        })
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

    fn keyring(
        &mut self,
        raw: Option<&Spanned<RawKeyring>>,
        server_span: Range<usize>,
    ) -> Option<Keyring> {
        let Some(raw) = raw else {
            if self.dev_mode {
                self.p.warning(&server_span, "keyring", "no [keyring]: dev mode uses a random key for this process only, so tokens die with it");
                let mut key = [0u8; KEYRING_KEY_BYTES];
                getrandom::fill(&mut key).expect("the operating system's random source failed");
                return Some(Keyring {
                    active: "ephemeral".into(),
                    keys: vec![KeyringKey {
                        id: "ephemeral".into(),
                        key,
                    }],
                    ephemeral: true,
                });
            }
            self.p.error(&(0..0), "keyring", "no [keyring] section: add one with a key from `stsgate keygen` (or set server.dev_mode = true for a demo)");
            return None;
        };
        let k = raw.get_ref();
        let mut keys = Vec::new();
        let mut ok = true;
        for (i, key) in k.keys.iter().enumerate() {
            let at = format!("keyring.keys[{i}]");
            let id = key.get_ref().id.get_ref();
            if id.is_empty()
                || id.len() > 64
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            {
                self.p.error(
                    &key.get_ref().id.span(),
                    &at,
                    format!("key id \"{id}\" must be 1-64 letters, digits, '.', '_' or '-'"),
                );
                ok = false;
            }
            if keys.iter().any(|k: &KeyringKey| &k.id == id) {
                self.p.error(
                    &key.get_ref().id.span(),
                    &at,
                    format!("key id \"{id}\" is used twice"),
                );
                ok = false;
            }
            let Some(secret) = self.secret(&key.get_ref().secret, &at, "keyring key") else {
                ok = false;
                continue;
            };
            match data_encoding::BASE64.decode(secret.expose().as_bytes()) {
                Ok(bytes) if bytes.len() == KEYRING_KEY_BYTES => {
                    let mut bytes32 = [0u8; KEYRING_KEY_BYTES];
                    bytes32.copy_from_slice(&bytes);
                    keys.push(KeyringKey {
                        id: id.clone(),
                        key: bytes32,
                    });
                }
                Ok(bytes) => {
                    self.p.error(&key.get_ref().secret.span(), &at, format!("keyring key must be {KEYRING_KEY_BYTES} bytes (base64), this one has {}; run `stsgate keygen`", bytes.len()));
                    ok = false;
                }
                Err(_) => {
                    self.p.error(
                        &key.get_ref().secret.span(),
                        &at,
                        "keyring key is not valid base64; run `stsgate keygen`",
                    );
                    ok = false;
                }
            }
        }
        let active = k.active.get_ref();
        if k.keys.is_empty() {
            self.p.error(
                &raw.span(),
                "keyring",
                "the keyring has no keys; add one from `stsgate keygen`",
            );
            ok = false;
        } else if !k
            .keys
            .iter()
            .any(|key| key.get_ref().id.get_ref() == active)
        {
            self.p.error(
                &k.active.span(),
                "keyring.active",
                format!("active key \"{active}\" is not one of the keyring's keys"),
            );
            ok = false;
        }
        ok.then(|| Keyring {
            active: active.clone(),
            keys,
            ephemeral: false,
        })
    }

    fn account(&mut self, index: usize, raw: &Spanned<RawAccount>) -> Option<Account> {
        let a = raw.get_ref();
        let at = format!("accounts[{index}]");
        let id = a.id.get_ref().clone();
        let account_ok = id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit());
        if !account_ok {
            self.p.error(
                &a.id.span(),
                &at,
                format!("account id \"{id}\" must be exactly 12 digits"),
            );
        }
        let partition = self.partition.clone();
        let mut ok = account_ok;

        // Managed policies first: users and roles refer to them.
        let mut policies: Vec<ManagedPolicy> = Vec::new();
        for (i, pol) in a.policies.iter().enumerate() {
            let pr = pol.get_ref();
            let pat = format!("{at}.policies[{i}] \"{}\"", pr.name.get_ref());
            let name_ok = self.name(&pr.name, &pat, "policy name", 128);
            let path_ok = self.iam_path(&pr.path, &pat);
            if policies.iter().any(|p| &p.name == pr.name.get_ref()) {
                self.p.error(
                    &pr.name.span(),
                    &pat,
                    format!(
                        "policy \"{}\" is defined twice in account {id}",
                        pr.name.get_ref()
                    ),
                );
                ok = false;
            }
            match self.document(&pr.document, PolicyKind::Identity, &pat, MAX_MANAGED_POLICY) {
                Some(document) if name_ok && path_ok => policies.push(ManagedPolicy {
                    name: pr.name.get_ref().clone(),
                    arn: format!(
                        "arn:{partition}:iam::{id}:policy{}{}",
                        pr.path.get_ref(),
                        pr.name.get_ref()
                    ),
                    description: pr.description.clone(),
                    document,
                }),
                _ => ok = false,
            }
        }

        let mut users = Vec::new();
        for (i, user) in a.users.iter().enumerate() {
            let u = user.get_ref();
            let uat = format!("{at}.users[{i}] \"{}\"", u.name.get_ref());
            if a.users[..i]
                .iter()
                .any(|o| o.get_ref().name.get_ref() == u.name.get_ref())
            {
                self.p.error(
                    &u.name.span(),
                    &uat,
                    format!(
                        "user \"{}\" is defined twice in account {id}",
                        u.name.get_ref()
                    ),
                );
                ok = false;
            }
            match self.user(&id, u, &uat, &policies) {
                Some(u) => users.push(u),
                None => ok = false,
            }
        }
        let mut roles = Vec::new();
        for (i, role) in a.roles.iter().enumerate() {
            let r = role.get_ref();
            let rat = format!("{at}.roles[{i}] \"{}\"", r.name.get_ref());
            if a.roles[..i]
                .iter()
                .any(|o| o.get_ref().name.get_ref() == r.name.get_ref())
            {
                self.p.error(
                    &r.name.span(),
                    &rat,
                    format!(
                        "role \"{}\" is defined twice in account {id}",
                        r.name.get_ref()
                    ),
                );
                ok = false;
            }
            match self.role(&id, r, &rat, &policies) {
                Some(r) => roles.push(r),
                None => ok = false,
            }
        }
        ok.then_some(Account {
            id,
            policies,
            users,
            roles,
        })
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

    /// Resolves a managed-policy reference: a name in the same account or its full ARN.
    fn policy_ref(
        &mut self,
        value: &Spanned<String>,
        at: &str,
        account: &str,
        policies: &[ManagedPolicy],
    ) -> Option<usize> {
        let reference = value.get_ref();
        if let Some(i) = policies
            .iter()
            .position(|p| &p.name == reference || &p.arn == reference)
        {
            return Some(i);
        }
        let hint = if reference.starts_with("arn:aws:iam::aws:policy/") {
            " (AWS-managed policies are not built in: define the policy under this account's [[accounts.policies]])"
        } else {
            ""
        };
        self.p.error(
            &value.span(),
            at,
            format!("managed policy \"{reference}\" is not defined in account {account}{hint}"),
        );
        None
    }

    fn inline_policies(
        &mut self,
        raw: &[Spanned<RawInlinePolicy>],
        at: &str,
        max: usize,
    ) -> Option<Vec<InlinePolicy>> {
        let mut out = Vec::new();
        let mut ok = true;
        for (i, pol) in raw.iter().enumerate() {
            let pr = pol.get_ref();
            let pat = format!("{at}.inline_policies[{i}] \"{}\"", pr.name.get_ref());
            ok &= self.name(&pr.name, &pat, "policy name", 128);
            if out
                .iter()
                .any(|p: &InlinePolicy| &p.name == pr.name.get_ref())
            {
                self.p.error(
                    &pr.name.span(),
                    &pat,
                    format!("inline policy \"{}\" is defined twice", pr.name.get_ref()),
                );
                ok = false;
            }
            match self.document(&pr.document, PolicyKind::Identity, &pat, max) {
                Some(document) => out.push(InlinePolicy {
                    name: pr.name.get_ref().clone(),
                    document,
                }),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn user(
        &mut self,
        account: &str,
        u: &RawUser,
        at: &str,
        policies: &[ManagedPolicy],
    ) -> Option<User> {
        let mut ok = self.name(&u.name, at, "user name", 64);
        ok &= self.iam_path(&u.path, at);
        let name = u.name.get_ref().clone();
        let mut access_keys = Vec::new();
        for (i, key) in u.access_keys.iter().enumerate() {
            let k = key.get_ref();
            let kat = format!("{at}.access_keys[{i}]");
            let id = k.id.get_ref();
            match decode_access_key_id(id) {
                Some((KeyKind::LongTerm, acct)) if format!("{acct:012}") == account => {}
                // An invalid account id is reported once, not again for every key.
                Some((KeyKind::LongTerm, _))
                    if !(account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())) =>
                {
                    ok = false
                }
                Some((KeyKind::LongTerm, acct)) => {
                    self.p.error(&k.id.span(), &kat, format!("access key id {id} encodes account {acct:012}, not {account}; create one with `stsgate keygen --access-key {account}`"));
                    ok = false;
                }
                _ => {
                    self.p.error(&k.id.span(), &kat, format!("access key id \"{id}\" is not a long-term AWS-format id (AKIA + 16 base32 characters encoding the account); create one with `stsgate keygen --access-key {account}`"));
                    ok = false;
                }
            }
            if let Some(owner) = self
                .access_keys
                .insert(id.clone(), format!("{account}/{name}"))
            {
                self.p.error(
                    &k.id.span(),
                    &kat,
                    format!("access key id {id} is already used by {owner}"),
                );
                ok = false;
            }
            let active = match k.status.get_ref().as_str() {
                "Active" => true,
                "Inactive" => false,
                other => {
                    self.p.error(
                        &k.status.span(),
                        &kat,
                        format!("status must be \"Active\" or \"Inactive\", not \"{other}\""),
                    );
                    ok = false;
                    false
                }
            };
            match self.secret(&k.secret, &kat, "secret access key") {
                Some(secret) if (16..=128).contains(&secret.expose().len()) => {
                    access_keys.push(AccessKey {
                        id: id.clone(),
                        secret,
                        active,
                    })
                }
                Some(_) => {
                    self.p.error(
                        &k.secret.span(),
                        &kat,
                        "secret access key must be 16 to 128 characters (AWS uses 40)",
                    );
                    ok = false;
                }
                None => ok = false,
            }
        }
        let managed_policies: Vec<_> = u
            .managed_policies
            .iter()
            .map(|r| self.policy_ref(r, at, account, policies))
            .collect();
        let permissions_boundary = u
            .permissions_boundary
            .as_ref()
            .map(|r| self.policy_ref(r, &format!("{at}.permissions_boundary"), account, policies));
        let inline_policies = self.inline_policies(&u.inline_policies, at, MAX_INLINE_USER_POLICY);
        let mut mfa_devices = Vec::new();
        for (i, dev) in u.mfa_devices.iter().enumerate() {
            let d = dev.get_ref();
            let dat = format!("{at}.mfa_devices[{i}]");
            ok &= self.name(&d.name, &dat, "MFA device name", 64);
            match self.secret(&d.seed, &dat, "MFA seed") {
                Some(seed) => {
                    let cleaned: String = seed
                        .expose()
                        .chars()
                        .filter(|c| !c.is_whitespace() && *c != '=')
                        .collect::<String>()
                        .to_ascii_uppercase();
                    match data_encoding::BASE32_NOPAD.decode(cleaned.as_bytes()) {
                        Ok(bytes) if bytes.len() >= 10 => mfa_devices.push(MfaDevice {
                            serial: format!(
                                "arn:{}:iam::{account}:mfa/{}",
                                self.partition,
                                d.name.get_ref()
                            ),
                            seed: Secret::new(data_encoding::BASE32_NOPAD.encode(&bytes)),
                        }),
                        Ok(_) => {
                            self.p.error(&d.seed.span(), &dat, "MFA seed is shorter than 80 bits (16 base32 characters); authenticator apps use 160 bits");
                            ok = false;
                        }
                        Err(_) => {
                            self.p.error(
                                &d.seed.span(),
                                &dat,
                                "MFA seed must be base32 (A-Z, 2-7), as authenticator apps show it",
                            );
                            ok = false;
                        }
                    }
                }
                None => ok = false,
            }
        }
        let managed_policies: Option<Vec<usize>> = managed_policies.into_iter().collect();
        let permissions_boundary = match permissions_boundary {
            Some(Some(i)) => Some(i),
            Some(None) => return None,
            None => None,
        };
        if !ok {
            return None;
        }
        Some(User {
            arn: format!(
                "arn:{}:iam::{account}:user{}{name}",
                self.partition,
                u.path.get_ref()
            ),
            unique_id: unique_id("AIDA", account, "user", &name),
            path: u.path.get_ref().clone(),
            name,
            access_keys,
            managed_policies: managed_policies?,
            inline_policies: inline_policies?,
            permissions_boundary,
            mfa_devices,
            tags: u.tags.clone(),
        })
    }

    fn role(
        &mut self,
        account: &str,
        r: &RawRole,
        at: &str,
        policies: &[ManagedPolicy],
    ) -> Option<Role> {
        let mut ok = self.name(&r.name, at, "role name", 64);
        ok &= self.iam_path(&r.path, at);
        let max = *r.max_session_duration.get_ref();
        if !(3600..=43200).contains(&max) {
            self.p.error(
                &r.max_session_duration.span(),
                at,
                format!("max_session_duration must be between 3600 and 43200 seconds, not {max}"),
            );
            ok = false;
        }
        let trust = self.document(
            &r.trust_policy,
            PolicyKind::Trust,
            &format!("{at}.trust_policy"),
            MAX_TRUST_POLICY,
        );
        let managed: Option<Vec<usize>> = r
            .managed_policies
            .iter()
            .map(|p| self.policy_ref(p, at, account, policies))
            .collect();
        let boundary = r
            .permissions_boundary
            .as_ref()
            .map(|p| self.policy_ref(p, &format!("{at}.permissions_boundary"), account, policies));
        let inline = self.inline_policies(&r.inline_policies, at, MAX_INLINE_ROLE_POLICY);
        let (Some(trust), Some(managed), Some(inline)) = (trust, managed, inline) else {
            return None;
        };
        let permissions_boundary = match boundary {
            Some(Some(i)) => Some(i),
            Some(None) => return None,
            None => None,
        };
        if !ok {
            return None;
        }

        // Lints: who may assume this role, and what it then gets.
        if let Some(root) = lint::trusts_account_root(&trust, account) {
            let admin = managed
                .iter()
                .any(|&i| lint::allows_everything(&policies[i].document))
                || inline.iter().any(|p| lint::allows_everything(&p.document));
            if admin {
                self.p.warning(
                    &r.trust_policy.span(),
                    at,
                    format!(
                        "role \"{}\" is trusted by the account root (\"{root}\") and its permissions allow \"*\" on \"*\": any principal of the account whose own policy allows sts:AssumeRole on it becomes an administrator (the classic AssumeRole escalation); name the users or roles that may assume it instead",
                        r.name.get_ref()
                    ),
                );
            }
        }
        if lint::trusts_everyone(&trust) {
            self.p.warning(
                &r.trust_policy.span(),
                at,
                format!(
                    "the trust policy of role \"{}\" lets anyone (Principal \"*\") assume it",
                    r.name.get_ref()
                ),
            );
        }
        self.trust_checks.push(TrustCheck {
            span: r.trust_policy.span(),
            at: format!("{at}.trust_policy"),
            principals: lint::allowed_aws_principals(&trust).collect(),
        });

        let name = r.name.get_ref().clone();
        Some(Role {
            arn: format!(
                "arn:{}:iam::{account}:role{}{name}",
                self.partition,
                r.path.get_ref()
            ),
            unique_id: unique_id("AROA", account, "role", &name),
            path: r.path.get_ref().clone(),
            name,
            trust_policy: trust,
            managed_policies: managed,
            inline_policies: inline,
            permissions_boundary,
            max_session_duration: Duration::from_secs(max),
            tags: r.tags.clone(),
        })
    }

    /// Like IAM, refuse trust policies that name a user or role of a known account that does
    /// not exist ("Invalid principal in policy").
    fn check_trust_principals(&mut self, accounts: &[Account]) {
        let checks = std::mem::take(&mut self.trust_checks);
        for check in checks {
            for principal in &check.principals {
                let missing = match parse_principal_arn(principal) {
                    Some(PrincipalArn::User { account, .. }) => accounts
                        .iter()
                        .find(|a| a.id == account)
                        .is_some_and(|a| !a.users.iter().any(|u| &u.arn == principal)),
                    Some(PrincipalArn::Role { account, .. }) => accounts
                        .iter()
                        .find(|a| a.id == account)
                        .is_some_and(|a| !a.roles.iter().any(|r| &r.arn == principal)),
                    _ => false,
                };
                if missing {
                    self.p.error(&check.span, &check.at, format!("Invalid principal in policy: \"AWS\":\"{principal}\" (no such user or role is configured)"));
                }
            }
        }
    }

    /// Reads a policy document (inline JSON or `file:PATH`) and parses it as `kind`.
    fn document(
        &mut self,
        value: &Spanned<String>,
        kind: PolicyKind,
        at: &str,
        max_size: usize,
    ) -> Option<PolicyDocument> {
        self.document_text(value, kind, at, max_size)
            .map(|(doc, _)| doc)
    }

    /// As [`Self::document`], with the text it was parsed from (read once, so what is shown is
    /// what is enforced).
    fn document_text(
        &mut self,
        value: &Spanned<String>,
        kind: PolicyKind,
        at: &str,
        max_size: usize,
    ) -> Option<(PolicyDocument, String)> {
        let raw = value.get_ref();
        let (text, from_file) = match raw.strip_prefix("file:") {
            Some(path) => {
                let full = self.base.join(path);
                self.files.push(full.clone());
                match std::fs::read_to_string(&full) {
                    Ok(t) => (t, Some(full)),
                    Err(e) => {
                        self.p.error(
                            &value.span(),
                            at,
                            format!("cannot read policy file {}: {e}", full.display()),
                        );
                        return None;
                    }
                }
            }
            None => (raw.clone(), None),
        };
        let size = policy_size(&text);
        if size > max_size {
            self.p.error(&value.span(), at, format!("the {} policy has {size} characters (not counting whitespace); IAM allows at most {max_size}", kind.label()));
            return None;
        }
        match PolicyDocument::parse(&text, kind)
            .and_then(|doc| CompiledPolicy::compile("check", &doc, kind).map(|_| doc))
        {
            Ok(doc) => Some((doc, text)),
            Err(mut e) => {
                let json_position = e.position.take();
                match (json_position, &from_file) {
                    (Some((line, column)), None) => {
                        // Map the position inside the embedded JSON onto the TOML file.
                        let start = self.p.line_col(value.span().start);
                        let token = self.p.source(&value.span());
                        let first_line_skipped = token.starts_with("'''\n")
                            || token.starts_with("\"\"\"\n")
                            || token.starts_with("'''\r\n")
                            || token.starts_with("\"\"\"\r\n");
                        let delimiter = if token.starts_with("'''") || token.starts_with("\"\"\"") {
                            3
                        } else {
                            1
                        };
                        let position = if first_line_skipped {
                            (start.0 + line, column)
                        } else if line == 1 {
                            (start.0, start.1 + delimiter + column - 1)
                        } else {
                            (start.0 + line - 1, column)
                        };
                        self.p
                            .error_at(position, at, format!("MalformedPolicyDocument: {e}"));
                    }
                    (Some((line, column)), Some(file)) => {
                        self.p.error(
                            &value.span(),
                            at,
                            format!(
                                "MalformedPolicyDocument in {} line {line} column {column}: {e}",
                                file.display()
                            ),
                        );
                    }
                    (None, Some(file)) => self.p.error(
                        &value.span(),
                        at,
                        format!("MalformedPolicyDocument in {}: {e}", file.display()),
                    ),
                    (None, None) => {
                        self.p
                            .error(&value.span(), at, format!("MalformedPolicyDocument: {e}"))
                    }
                }
                None
            }
        }
    }

    fn audit(&mut self, raw: Option<&Spanned<RawAudit>>) -> crate::audit::AuditConfig {
        let Some(raw) = raw else {
            return crate::audit::AuditConfig {
                queue_capacity: crate::audit::DEFAULT_QUEUE,
                ..Default::default()
            };
        };
        let a = raw.get_ref();
        let file = a.file.as_ref().and_then(|f| {
            let path = self.base.join(f.get_ref());
            let dir_ok = path.parent().is_some_and(|d| d.as_os_str().is_empty() || d.is_dir());
            if dir_ok && !path.is_dir() {
                Some(path)
            } else {
                self.p.error(
                    &f.span(),
                    "audit",
                    format!("audit file {} cannot be created: its directory does not exist, or it is a directory", path.display()),
                );
                None
            }
        });
        let queue = a
            .queue_capacity
            .as_ref()
            .map_or(crate::audit::DEFAULT_QUEUE as u64, |q| *q.get_ref());
        if let Some(q) = &a.queue_capacity
            && !(1..=10_000_000).contains(q.get_ref())
        {
            self.p.error(
                &q.span(),
                "audit",
                format!(
                    "queue_capacity must be between 1 and 10000000, not {}",
                    q.get_ref()
                ),
            );
        }
        crate::audit::AuditConfig {
            stdout: a.stdout,
            file,
            queue_capacity: usize::try_from(queue).unwrap_or(crate::audit::DEFAULT_QUEUE),
        }
    }

    fn shared_state(&mut self, raw: Option<&Spanned<RawSharedState>>) -> Option<RedisSettings> {
        let raw = raw?;
        let s = raw.get_ref();
        let at = "shared_state";
        let Some(url) = &s.redis else {
            if s.password.is_some() || s.key_prefix.is_some() || s.timeout_ms.is_some() {
                self.p.error(
                    &raw.span(),
                    at,
                    "[shared_state] needs `redis = \"redis://host:port/db\"`; without it the state stays in this process",
                );
            }
            return None;
        };
        let text = url.get_ref();
        let valid = match text.split_once("://") {
            Some(("redis", rest)) => {
                let authority = rest.split('/').next().unwrap_or_default();
                if authority.contains('@') {
                    self.p.error(
                        &url.span(),
                        at,
                        "put the Redis password in `password = \"env:NAME\"` (or file:PATH), not in the URL",
                    );
                    false
                } else {
                    !authority.is_empty()
                }
            }
            Some(("rediss" | "unix" | "redis+unix", _)) => {
                self.p.error(
                    &url.span(),
                    at,
                    format!("{text}: only redis:// (TCP) is supported"),
                );
                return None;
            }
            _ => false,
        };
        if !valid {
            if !self.p.has_errors() {
                self.p.error(
                    &url.span(),
                    at,
                    format!("{text} is not a Redis URL; write redis://host:port/db"),
                );
            }
            return None;
        }
        let password = s
            .password
            .as_ref()
            .and_then(|p| self.secret(p, at, "shared_state.password"));
        let key_prefix = s
            .key_prefix
            .as_ref()
            .map_or_else(|| "stsgate:".to_string(), |p| p.get_ref().clone());
        let timeout_ms = s.timeout_ms.as_ref().map_or(500, |t| *t.get_ref());
        if let Some(t) = &s.timeout_ms
            && !(10..=60_000).contains(t.get_ref())
        {
            self.p.error(
                &t.span(),
                at,
                format!(
                    "timeout_ms must be between 10 and 60000, not {}",
                    t.get_ref()
                ),
            );
        }
        Some(RedisSettings {
            url: text.clone(),
            password,
            key_prefix,
            timeout: Duration::from_millis(timeout_ms),
        })
    }

    /// Warns about backends no request can reach: an S3 backend after one that takes every
    /// host, an HTTP API backend with the same service, hosts and path prefix as an earlier one.
    fn check_routes(&mut self, raw: &[Spanned<RawBackend>], backends: &[Backend]) {
        if backends.len() != raw.len() {
            return;
        }
        for (i, b) in backends.iter().enumerate() {
            let shadowed_by = backends[..i].iter().find(|earlier| {
                earlier.kind == b.kind
                    && match (&earlier.api, &b.api) {
                        (Some(e), Some(a)) => {
                            e.service == a.service
                                && earlier.path_prefix == b.path_prefix
                                && (earlier.hosts.is_empty() || earlier.hosts == b.hosts)
                        }
                        _ => earlier.hosts.is_empty() || earlier.hosts == b.hosts,
                    }
            });
            if let Some(earlier) = shadowed_by {
                self.p.warning(
                    &raw[i].span(),
                    format!("backends[{i}] \"{}\"", b.name),
                    format!(
                        "no request can reach this backend: backend \"{}\" comes first and takes the same requests",
                        earlier.name
                    ),
                );
            }
        }
    }

    fn api_settings(
        &mut self,
        b: &RawBackend,
        at: &str,
        default_account: Option<&str>,
    ) -> Option<ApiSettings> {
        let mut ok = true;
        let service = b
            .service
            .as_ref()
            .map_or("execute-api".to_string(), |s| s.get_ref().clone());
        if let Some(s) = &b.service
            && (service.is_empty()
                || service.len() > 64
                || !service
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
                || matches!(service.as_str(), "s3" | "sts"))
        {
            self.p.error(
                &s.span(),
                at,
                format!("service \"{service}\" must be lower-case letters, digits and '-', and not s3 or sts"),
            );
            ok = false;
        }
        let mut arn_part = |value: &Option<Spanned<String>>, what: &str, default: &str| -> String {
            let Some(v) = value else {
                return default.to_string();
            };
            let text = v.get_ref();
            if text.is_empty()
                || text.len() > 128
                || !text
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'$' | b'.'))
            {
                self.p.error(
                    &v.span(),
                    at,
                    format!("{what} \"{text}\" must be letters, digits, '-', '_', '.' or '$'"),
                );
                ok = false;
            }
            text.clone()
        };
        let api_id = arn_part(&b.api_id, "api_id", b.name.get_ref());
        let stage = arn_part(&b.stage, "stage", "$default");
        let account = match (&b.account, default_account) {
            (Some(a), _) => {
                if a.get_ref().len() != 12 || !a.get_ref().bytes().all(|c| c.is_ascii_digit()) {
                    self.p
                        .error(&a.span(), at, "account must be a 12-digit account id");
                    ok = false;
                }
                a.get_ref().clone()
            }
            (None, Some(d)) => d.to_string(),
            (None, None) => "000000000000".to_string(),
        };
        let mut header = |value: &Spanned<String>, what: &str| -> Option<http::HeaderName> {
            match http::HeaderName::from_bytes(value.get_ref().as_bytes()) {
                Ok(name) if !crate::api::is_reserved_header(&name) => Some(name),
                Ok(_) => {
                    self.p.error(
                        &value.span(),
                        at,
                        format!("{what} \"{}\" is a header the gateway owns (Host, Authorization, x-amz-*, hop-by-hop)", value.get_ref()),
                    );
                    ok = false;
                    None
                }
                Err(_) => {
                    self.p.error(
                        &value.span(),
                        at,
                        format!("{what} \"{}\" is not a valid header name", value.get_ref()),
                    );
                    ok = false;
                    None
                }
            }
        };
        let forward_headers: Vec<http::HeaderName> = b
            .forward_headers
            .iter()
            .filter_map(|h| header(h, "forward_headers entry"))
            .collect();
        let raw_ids = b.identity_headers.as_ref().map(|i| i.get_ref());
        let mut identity = |field: Option<&Spanned<String>>, default: &'static str| match field {
            None => Some(http::HeaderName::from_static(default)),
            Some(v) if v.get_ref().is_empty() => None,
            Some(v) => header(v, "identity header"),
        };
        let identity_headers = IdentityHeaders {
            principal_arn: identity(
                raw_ids.and_then(|i| i.principal_arn.as_ref()),
                "x-stsgate-principal-arn",
            ),
            account: identity(
                raw_ids.and_then(|i| i.account.as_ref()),
                "x-stsgate-account",
            ),
            user_id: identity(
                raw_ids.and_then(|i| i.user_id.as_ref()),
                "x-stsgate-user-id",
            ),
            session_name: identity(
                raw_ids.and_then(|i| i.session_name.as_ref()),
                "x-stsgate-session-name",
            ),
            source_identity: identity(
                raw_ids.and_then(|i| i.source_identity.as_ref()),
                "x-stsgate-source-identity",
            ),
            mfa_present: identity(
                raw_ids.and_then(|i| i.mfa_present.as_ref()),
                "x-stsgate-mfa-present",
            ),
        };
        let max_body_bytes = b
            .max_body_bytes
            .as_ref()
            .map_or(DEFAULT_API_MAX_BODY, |m| *m.get_ref());
        if let Some(m) = &b.max_body_bytes
            && !(1..=(1u64 << 40)).contains(m.get_ref())
        {
            self.p
                .error(&m.span(), at, "max_body_bytes must be between 1 and 2^40");
            ok = false;
        }
        ok.then_some(ApiSettings {
            service,
            api_id,
            stage,
            account,
            identity_headers,
            forward_headers,
            max_body_bytes,
            allow_method_override: b
                .allow_method_override
                .as_ref()
                .is_some_and(|v| *v.get_ref()),
        })
    }

    fn backend(
        &mut self,
        index: usize,
        raw: &Spanned<RawBackend>,
        default_account: Option<&str>,
        account_ids: &HashSet<String>,
    ) -> Option<Backend> {
        let b = raw.get_ref();
        let at = format!("backends[{index}] \"{}\"", b.name.get_ref());
        let mut ok = self.name(&b.name, &at, "backend name", 64);
        let kind = match b.kind.get_ref().as_str() {
            "s3" => Some(BackendKind::S3),
            "http" => Some(BackendKind::Http),
            other => {
                self.p.error(
                    &b.kind.span(),
                    &at,
                    format!("kind must be \"s3\" or \"http\", not \"{other}\""),
                );
                None
            }
        };
        let url = match b.url.get_ref().parse::<http::Uri>() {
            Ok(u)
                if matches!(u.scheme_str(), Some("http" | "https"))
                    && u.authority().is_some()
                    && u.query().is_none() =>
            {
                Some(u)
            }
            _ => {
                self.p.error(
                    &b.url.span(),
                    &at,
                    format!(
                        "url \"{}\" must be an absolute http:// or https:// URL without a query",
                        b.url.get_ref()
                    ),
                );
                None
            }
        };
        if let Some(prefix) = &b.path_prefix
            && crate::api::canonical_prefix(prefix.get_ref()).is_none()
        {
            self.p.error(
                &prefix.span(),
                &at,
                "path_prefix must start with '/' and be canonical: no empty, '.' or '..' segments, no '%', ';', '\\' or trailing '/'",
            );
            ok = false;
        }
        if kind == Some(BackendKind::S3) {
            for (what, present) in [
                ("path_prefix", b.path_prefix.is_some()),
                ("service", b.service.is_some()),
                ("api_id", b.api_id.is_some()),
                ("stage", b.stage.is_some()),
                ("forward_headers", !b.forward_headers.is_empty()),
                ("allow_method_override", b.allow_method_override.is_some()),
                ("identity_headers", b.identity_headers.is_some()),
                ("max_body_bytes", b.max_body_bytes.is_some()),
            ] {
                if present {
                    self.p.error(
                        &raw.span(),
                        &at,
                        format!(
                            "{what} is a setting of http backends; an s3 backend does not take it"
                        ),
                    );
                    ok = false;
                }
            }
            if let Some(u) = &url
                && u.path() != "/"
                && !u.path().is_empty()
            {
                self.p.error(
                    &b.url.span(),
                    &at,
                    "an s3 backend's url has no path: buckets are addressed at its root",
                );
                ok = false;
            }
        }
        if let Some(u) = &url
            && u.scheme_str() == Some("http")
            && (b.ca_file.is_some() || b.client_cert.is_some())
        {
            self.p.error(
                &b.url.span(),
                &at,
                "ca_file and client_cert apply to https:// backends only",
            );
            ok = false;
        }
        let api = if kind == Some(BackendKind::Http) {
            let api = self.api_settings(b, &at, default_account);
            ok &= api.is_some();
            api
        } else {
            None
        };
        let credentials = match (&b.access_key_id, &b.secret_access_key) {
            (Some(id), Some(secret)) => {
                let id_secret = self.secret(id, &at, "backend access key id");
                let secret = self.secret(secret, &at, "backend secret access key");
                let token = b
                    .session_token
                    .as_ref()
                    .map(|t| self.secret(t, &at, "backend session token"));
                match (id_secret, secret, token) {
                    (Some(id), Some(secret), None) => Some(BackendCredentials {
                        access_key_id: id.expose().to_string(),
                        secret_access_key: secret,
                        session_token: None,
                    }),
                    (Some(id), Some(secret), Some(Some(token))) => Some(BackendCredentials {
                        access_key_id: id.expose().to_string(),
                        secret_access_key: secret,
                        session_token: Some(token),
                    }),
                    _ => {
                        ok = false;
                        None
                    }
                }
            }
            (None, None) => {
                if kind == Some(BackendKind::S3) {
                    self.p.error(&raw.span(), &at, "an s3 backend needs access_key_id and secret_access_key: stsgate re-signs every request with them");
                    ok = false;
                }
                None
            }
            _ => {
                self.p.error(
                    &raw.span(),
                    &at,
                    "access_key_id and secret_access_key go together",
                );
                ok = false;
                None
            }
        };
        let ca_file = b.ca_file.as_ref().map(|c| self.existing_file(c, &at));
        let ca_file = match ca_file {
            Some(Some(f)) => Some(f),
            Some(None) => return None,
            None => None,
        };
        // What `serve` needs to reach an https backend: trust anchors and a TLS server name.
        if let Some(u) = &url
            && u.scheme_str() == Some("https")
        {
            let span = b.ca_file.as_ref().map_or(b.url.span(), |c| c.span());
            if let Err(e) = super::tls_material::load_roots(ca_file.as_deref()) {
                self.p.error(&span, &at, e);
                return None;
            }
            let host = u
                .host()
                .unwrap_or("")
                .trim_start_matches('[')
                .trim_end_matches(']');
            if rustls::pki_types::ServerName::try_from(host).is_err() {
                self.p.error(
                    &b.url.span(),
                    &at,
                    format!("{host} is not a name a TLS certificate can be checked against"),
                );
                return None;
            }
        }
        let client_identity = match (&b.client_cert, &b.client_key) {
            (Some(c), Some(k)) => {
                let (Some(cert), Some(key)) =
                    (self.existing_file(c, &at), self.existing_file(k, &at))
                else {
                    return None;
                };
                if let Err(e) = super::tls_material::load_identity(&cert, &key) {
                    self.p.error(&c.span(), &at, e);
                    return None;
                }
                Some((cert, key))
            }
            (None, None) => None,
            _ => {
                self.p
                    .error(&raw.span(), &at, "client_cert and client_key go together");
                return None;
            }
        };
        let timeout = b.timeout_seconds.as_ref().map_or(60, |t| *t.get_ref());
        if !(1..=3600).contains(&timeout) {
            let span = b
                .timeout_seconds
                .as_ref()
                .map(|t| t.span())
                .unwrap_or_default();
            self.p.error(
                &span,
                &at,
                format!("timeout_seconds must be between 1 and 3600, not {timeout}"),
            );
            ok = false;
        }
        let buckets = if kind == Some(BackendKind::S3) {
            self.buckets(b, &at, default_account, account_ids)
        } else {
            if !b.buckets.is_empty() {
                self.p.error(
                    &raw.span(),
                    &at,
                    "buckets is a setting of s3 backends; an http backend does not take it",
                );
            }
            Some(Buckets::default())
        };
        if !ok {
            return None;
        }
        Some(Backend {
            buckets: buckets?,
            name: b.name.get_ref().clone(),
            kind: kind?,
            url: url?,
            hosts: b.hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
            path_prefix: b.path_prefix.as_ref().map(|p| p.get_ref().clone()),
            region: b.region.clone().unwrap_or_else(|| "us-east-1".to_string()),
            credentials,
            ca_file,
            client_identity,
            api,
            timeout: Duration::from_secs(timeout),
            pass_fingerprints: b.pass_fingerprints,
            allow_bucket_website: b.allow_bucket_website,
        })
    }
}

impl Validator<'_, '_> {
    /// An s3 backend's bucket owners and policies.
    fn buckets(
        &mut self,
        b: &RawBackend,
        at: &str,
        default_account: Option<&str>,
        account_ids: &HashSet<String>,
    ) -> Option<Buckets> {
        let mut ok = true;
        let known = |v: &mut Self, a: &Spanned<String>| -> Option<String> {
            if !account_ids.contains(a.get_ref()) {
                v.p.error(
                    &a.span(),
                    at,
                    format!(
                        "account {} is not one of the configured [[accounts]]",
                        a.get_ref()
                    ),
                );
                return None;
            }
            Some(a.get_ref().clone())
        };
        let default = match &b.account {
            Some(a) => known(self, a),
            None => Some(default_account.unwrap_or("000000000000").to_string()),
        };
        let default = default?;
        let mut entries = Vec::new();
        let mut names = HashSet::new();
        for (i, raw) in b.buckets.iter().enumerate() {
            let e = raw.get_ref();
            let name = e.name.get_ref();
            let here = format!("{at} buckets[{i}] \"{name}\"");
            let valid_name = (1..=63).contains(&name.len())
                && name
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"-.*?".contains(&c));
            if !valid_name {
                self.p.error(
                    &e.name.span(),
                    &here,
                    "a bucket name (or pattern) is 1 to 63 of a-z, 0-9, '-', '.', with '*' and '?' as wildcards",
                );
                ok = false;
                continue;
            }
            if !names.insert(name.clone()) {
                self.p.error(
                    &e.name.span(),
                    &here,
                    format!("bucket {name} is listed twice"),
                );
                ok = false;
            }
            let account = match &e.account {
                Some(a) => known(self, a),
                None => Some(default.clone()),
            };
            let managed_file = match (&e.policy, e.manage_policy) {
                (Some(text), true) => match text.get_ref().strip_prefix("file:") {
                    Some(path) => Some(self.base.join(path)),
                    None => {
                        self.p.error(
                            &text.span(),
                            &here,
                            "manage_policy needs policy = \"file:PATH\": the file Put/DeleteBucketPolicy write",
                        );
                        ok = false;
                        continue;
                    }
                },
                (None, true) => {
                    self.p.error(
                        &e.name.span(),
                        &here,
                        "manage_policy needs policy = \"file:PATH\": the file Put/DeleteBucketPolicy write",
                    );
                    ok = false;
                    continue;
                }
                _ => None,
            };
            if managed_file.is_some() && name.contains(['*', '?']) {
                self.p.error(
                    &e.name.span(),
                    &here,
                    "manage_policy applies to one bucket, not a pattern",
                );
                ok = false;
                continue;
            }
            // A managed policy's file may be missing: the bucket has no policy until one is put.
            let absent = managed_file.as_ref().is_some_and(|f| !f.exists());
            if let Some(f) = managed_file.as_ref().filter(|_| absent) {
                self.files.push(f.clone());
            }
            let policy = match e.policy.as_ref().filter(|_| !absent) {
                Some(text) => {
                    // AWS's bucket policy limit is 20 KB.
                    match self.document_text(text, PolicyKind::Resource, &here, 20 * 1024) {
                        Some((doc, source)) => {
                            let public = crate::policy::is_public(&doc);
                            match CompiledPolicy::compile(
                                format!("bucket policy of {name}"),
                                &doc,
                                PolicyKind::Resource,
                            ) {
                                Ok(c) => {
                                    if public {
                                        self.p.warning(
                                            &text.span(),
                                            &here,
                                            format!("bucket {name} is public: its policy grants access to any principal (\"*\") without a condition that limits who"),
                                        );
                                    }
                                    Some((std::sync::Arc::new(c), source, public))
                                }
                                Err(e) => {
                                    self.p.error(&text.span(), &here, e.to_string());
                                    None
                                }
                            }
                        }
                        None => None,
                    }
                }
                None => None,
            };
            if e.policy.is_some() && !absent && policy.is_none() {
                ok = false;
                continue;
            }
            let Some(account) = account else {
                ok = false;
                continue;
            };
            let public = policy.as_ref().is_some_and(|p| p.2);
            let mut entry =
                BucketEntry::new(name, &account, policy.map(|(c, t, _)| (c, t)), public);
            entry.managed_file = managed_file;
            entries.push(entry);
        }
        ok.then_some(Buckets {
            default_account: default,
            entries,
        })
    }
}

/// A stable unique id (`AIDA…`/`AROA…`, 21 characters) derived from account and name, so every
/// replica and every restart agrees without storing anything.
pub fn unique_id(prefix: &str, account: &str, kind: &str, name: &str) -> String {
    let digest = Sha256::digest(format!("stsgate-unique-id\0{kind}\0{account}\0{name}").as_bytes());
    let encoded = data_encoding::BASE32_NOPAD.encode(&digest);
    format!("{prefix}{}", &encoded[..17])
}
