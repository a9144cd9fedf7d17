//! `[[backends]]`: S3 and HTTP API backends, their routes, HTTP API settings, bucket owners and policies.

use super::*;

impl Validator<'_, '_> {
    /// Warns about backends no request can reach: an S3 backend after one that takes every
    /// host, an HTTP API backend with the same service, hosts and path prefix as an earlier one.
    pub(super) fn check_routes(&mut self, raw: &[Spanned<RawBackend>], backends: &[Backend]) {
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

    pub(super) fn api_settings(
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
        let cors = self.cors(b.cors.as_ref(), false, at, &(0..0));
        ok &= cors.is_some();
        ok.then_some(ApiSettings {
            cors: cors.and_then(|c| c.0),
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

    pub(super) fn backend(
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
                (
                    "cors (buckets take theirs in [[backends.buckets]])",
                    b.cors.is_some(),
                ),
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

    /// An s3 backend's bucket owners and policies.
    pub(super) fn buckets(
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
            if e.manage_cors && name.contains(['*', '?']) {
                self.p.error(
                    &e.name.span(),
                    &here,
                    "manage_cors applies to one bucket, not a pattern",
                );
                ok = false;
                continue;
            }
            let Some((cors, managed_cors_file)) =
                self.cors(e.cors.as_ref(), e.manage_cors, &here, &e.name.span())
            else {
                ok = false;
                continue;
            };
            let public = policy.as_ref().is_some_and(|p| p.2);
            let mut entry =
                BucketEntry::new(name, &account, policy.map(|(c, t, _)| (c, t)), public);
            entry.managed_file = managed_file;
            entry.cors = cors;
            entry.managed_cors_file = managed_cors_file;
            entries.push(entry);
        }
        ok.then_some(Buckets {
            default_account: default,
            entries,
        })
    }
}
