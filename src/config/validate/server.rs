//! `[server]`, `[limits]`, `[keyring]`, `[audit]` and `[shared_state]`.

use super::*;

impl Validator<'_, '_> {
    /// `[limits]`: each key within its range, or its default.
    pub(super) fn limits(&mut self, raw: Option<&Spanned<RawLimits>>) -> Limits {
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
            web_identity: WebIdentityLimits {
                max_failures_per_address: ranged(
                    &l.web_identity_max_failures_per_address,
                    "web_identity_max_failures_per_address",
                    u64::from(default.web_identity.max_failures_per_address),
                    1,
                    100_000,
                ) as u32,
                max_failures_per_provider: ranged(
                    &l.web_identity_max_failures_per_provider,
                    "web_identity_max_failures_per_provider",
                    u64::from(default.web_identity.max_failures_per_provider),
                    1,
                    10_000_000,
                ) as u32,
                window: Duration::from_secs(ranged(
                    &l.web_identity_window_seconds,
                    "web_identity_window_seconds",
                    secs(default.web_identity.window),
                    1,
                    86_400,
                )),
                lockout: Duration::from_secs(ranged(
                    &l.web_identity_lockout_seconds,
                    "web_identity_lockout_seconds",
                    secs(default.web_identity.lockout),
                    1,
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

    pub(super) fn server(&mut self, raw: &Spanned<RawServer>) -> Option<ServerConfig> {
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

    pub(super) fn keyring(
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

    pub(super) fn audit(&mut self, raw: Option<&Spanned<RawAudit>>) -> crate::audit::AuditConfig {
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

    pub(super) fn shared_state(
        &mut self,
        raw: Option<&Spanned<RawSharedState>>,
    ) -> Option<RedisSettings> {
        let raw = raw?;
        let s = raw.get_ref();
        let at = "shared_state";
        let sentinel = self.sentinels(raw)?;
        let sentinel_url = Spanned::new(0..0, "redis://sentinel".to_string());
        let redis = match (&s.redis, &sentinel) {
            (Some(url), None) => Some(url),
            (None, Some(_)) => Some(&sentinel_url),
            (Some(url), Some(_)) => {
                self.p.error(
                    &url.span(),
                    at,
                    "name either redis (one server) or sentinels (Redis Sentinel), not both",
                );
                return None;
            }
            (None, None) => None,
        };
        let Some(url) = redis else {
            if s.password.is_some()
                || s.key_prefix.is_some()
                || s.timeout_ms.is_some()
                || s.ca_file.is_some()
            {
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
            Some(("redis" | "rediss", rest)) => {
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
            Some(("unix" | "redis+unix", _)) => {
                self.p.error(
                    &url.span(),
                    at,
                    format!("{text}: only redis:// and rediss:// (TCP, TLS) are supported"),
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
                    format!(
                        "{text} is not a Redis URL; write redis://host:port/db (rediss:// for TLS)"
                    ),
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
        let ca_file = match &s.ca_file {
            Some(f) if !text.starts_with("rediss://") => {
                self.p.error(
                    &f.span(),
                    at,
                    "ca_file is for TLS: write the URL as rediss://host:port/db",
                );
                None
            }
            Some(f) => {
                let path = self.base.join(f.get_ref());
                self.files.push(path.clone());
                match std::fs::read(&path) {
                    Ok(pem) if pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") => {
                        Some(path)
                    }
                    Ok(_) => {
                        self.p.error(
                            &f.span(),
                            at,
                            format!("{} holds no PEM certificate", path.display()),
                        );
                        None
                    }
                    Err(e) => {
                        self.p.error(
                            &f.span(),
                            at,
                            format!("cannot read ca_file {}: {e}", path.display()),
                        );
                        None
                    }
                }
            }
            None => None,
        };
        Some(RedisSettings {
            url: text.clone(),
            password,
            key_prefix,
            timeout: Duration::from_millis(timeout_ms),
            ca_file,
            sentinel,
        })
    }

    /// `sentinels` and `master_name`, when given (`Some(None)`: not given; `None`: wrong).
    #[allow(clippy::option_option)]
    fn sentinels(
        &mut self,
        raw: &Spanned<RawSharedState>,
    ) -> Option<Option<(Vec<String>, String)>> {
        let s = raw.get_ref();
        let at = "shared_state";
        match (s.sentinels.is_empty(), &s.master_name) {
            (true, None) => Some(None),
            (false, Some(name)) => {
                let mut urls = Vec::new();
                for u in &s.sentinels {
                    let text = u.get_ref();
                    let ok = text
                        .strip_prefix("redis://")
                        .is_some_and(|rest| !rest.is_empty() && !rest.contains('@'));
                    if !ok {
                        self.p.error(
                            &u.span(),
                            at,
                            format!("sentinel {text}: write redis://host:port (a password goes in `password`)"),
                        );
                        return None;
                    }
                    urls.push(text.clone());
                }
                Some(Some((urls, name.get_ref().clone())))
            }
            _ => {
                self.p.error(
                    &raw.span(),
                    at,
                    "Redis Sentinel needs both sentinels = [\"redis://host:port\", …] and master_name",
                );
                None
            }
        }
    }
}
