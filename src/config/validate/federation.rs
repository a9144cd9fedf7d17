//! `[[accounts.oidc_providers]]`: OpenID Connect providers, checked as IAM checks them (an
//! https URL without query or fragment, 1–100 client ids, up to 5 SHA-1 thumbprints), plus what
//! the gateway needs to get their keys (a readable `ca_file`, or a `jwks_file` that holds a key
//! it can use).

use super::*;

impl Validator<'_, '_> {
    pub(super) fn oidc_provider(
        &mut self,
        account: &str,
        at: &str,
        raw: &Spanned<RawOidcProvider>,
    ) -> Option<OidcProvider> {
        let r = raw.get_ref();
        let url = r.url.get_ref().clone();
        let mut ok = true;
        let rest = url.strip_prefix("https://").unwrap_or("");
        let host = rest.split('/').next().unwrap_or("");
        if rest.is_empty()
            || host.is_empty()
            || url.len() > 255
            || url.ends_with('/')
            || url.contains(['?', '#', ' '])
            || url.parse::<http::Uri>().is_err()
        {
            self.p.error(
                &r.url.span(),
                at,
                format!(
                    "url \"{url}\" must be the issuer exactly as tokens carry it in iss: https://HOST[:PORT][/PATH], at most 255 characters, without a trailing slash, query or fragment"
                ),
            );
            ok = false;
        }
        let audiences = r.audiences.get_ref();
        if audiences.is_empty()
            || audiences.len() > 100
            || audiences.iter().any(|a| a.is_empty() || a.len() > 255)
        {
            self.p.error(
                &r.audiences.span(),
                at,
                "audiences must list 1 to 100 client ids of 1 to 255 characters (a token's aud must name one)",
            );
            ok = false;
        }
        let thumbprints = self.thumbprints(r, at, &mut ok);
        let algorithms = self.algorithms(r, at, &mut ok);
        let (ca_file, jwks_file) = self.key_source(r, at, !thumbprints.is_empty(), &mut ok)?;
        let mut seconds =
            |v: &Option<Spanned<u64>>, name: &str, default: u64, min: u64, max: u64| {
                let n = v.as_ref().map_or(default, |s| *s.get_ref());
                if !(min..=max).contains(&n) {
                    let span = v.as_ref().map_or(r.url.span(), |s| s.span());
                    self.p.error(
                        &span,
                        at,
                        format!("{name} must be between {min} and {max}, not {n}"),
                    );
                }
                Duration::from_secs(n.clamp(min, max))
            };
        let refetch_interval = seconds(
            &r.refetch_interval_seconds,
            "refetch_interval_seconds",
            60,
            1,
            86_400,
        );
        let max_key_age = seconds(
            &r.max_key_age_seconds,
            "max_key_age_seconds",
            3600,
            60,
            604_800,
        );
        let clock_skew = seconds(&r.clock_skew_seconds, "clock_skew_seconds", 60, 0, 600);
        let partition = self.partition.clone();
        ok.then(|| OidcProvider {
            arn: format!("arn:{partition}:iam::{account}:oidc-provider/{rest}"),
            key: rest.to_string(),
            url: url.clone(),
            audiences: audiences.clone(),
            ca_file,
            jwks_file,
            thumbprints,
            algorithms,
            refetch_interval,
            max_key_age,
            clock_skew,
        })
    }

    /// `thumbprints`: at most 5 SHA-1 hex digests, kept lower-case.
    fn thumbprints(&mut self, r: &RawOidcProvider, at: &str, ok: &mut bool) -> Vec<String> {
        let mut thumbprints = Vec::new();
        for t in &r.thumbprints {
            let v = t.get_ref().to_ascii_lowercase();
            if v.len() != 40 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
                self.p.error(
                    &t.span(),
                    at,
                    "a thumbprint is the SHA-1 of a certificate: 40 hexadecimal characters",
                );
                *ok = false;
            }
            thumbprints.push(v);
        }
        if thumbprints.len() > 5 {
            self.p
                .error(&r.url.span(), at, "at most 5 thumbprints per provider");
            *ok = false;
        }
        thumbprints
    }

    /// `algorithms`: a non-empty subset of the web identity list (the default: all of it).
    fn algorithms(&mut self, r: &RawOidcProvider, at: &str, ok: &mut bool) -> Vec<String> {
        match &r.algorithms {
            None => WEB_IDENTITY_ALGORITHMS
                .iter()
                .map(|a| a.to_string())
                .collect(),
            Some(list) => {
                let bad: Vec<&String> = list
                    .get_ref()
                    .iter()
                    .filter(|a| crate::oidc::algorithm(a).is_none())
                    .collect();
                if list.get_ref().is_empty() || !bad.is_empty() {
                    self.p.error(
                        &list.span(),
                        at,
                        format!(
                            "algorithms must be some of {} (never none, HS*, PS* or EdDSA); not {bad:?}",
                            WEB_IDENTITY_ALGORITHMS.join(", ")
                        ),
                    );
                    *ok = false;
                }
                list.get_ref().clone()
            }
        }
    }

    /// Where the keys come from: a readable `ca_file` (or the system's roots) for fetched keys,
    /// or a `jwks_file` holding a usable key, which takes no CA and no thumbprints. `None`: a
    /// named file does not exist (already reported).
    #[allow(clippy::type_complexity)]
    fn key_source(
        &mut self,
        r: &RawOidcProvider,
        at: &str,
        pinned: bool,
        ok: &mut bool,
    ) -> Option<(Option<PathBuf>, Option<PathBuf>)> {
        let ca_file = match &r.ca_file {
            Some(c) => Some(self.existing_file(c, at)?),
            None => None,
        };
        let jwks_file = match &r.jwks_file {
            Some(j) => Some(self.existing_file(j, at)?),
            None => None,
        };
        if let Some(path) = &jwks_file {
            let span = r.jwks_file.as_ref().map_or(r.url.span(), |j| j.span());
            let parsed = std::fs::read(path)
                .map_err(|e| e.to_string())
                .and_then(|t| crate::oidc::KeySet::parse(&t));
            if let Err(e) = parsed {
                self.p
                    .error(&span, at, format!("jwks_file {}: {e}", path.display()));
                *ok = false;
            }
            if ca_file.is_some() || pinned {
                self.p.error(
                    &span,
                    at,
                    "ca_file and thumbprints apply to fetched keys; a provider with a jwks_file fetches nothing",
                );
                *ok = false;
            }
        } else if let Err(e) = super::tls_material::load_roots(ca_file.as_deref()) {
            let span = r.ca_file.as_ref().map_or(r.url.span(), |c| c.span());
            self.p.error(&span, at, e);
            *ok = false;
        }
        Some((ca_file, jwks_file))
    }
}

impl Validator<'_, '_> {
    /// `[pod_identity]`: a cluster name as EKS takes one, and associations whose role exists,
    /// whose provider is an OIDC provider of the role's account listing the audience, and whose
    /// duration fits the role.
    pub(super) fn pod_identity(
        &mut self,
        raw: &Spanned<RawPodIdentity>,
        accounts: &[Account],
        partition: &str,
        default_region: &str,
    ) -> Option<PodIdentity> {
        let r = raw.get_ref();
        let at = "pod_identity";
        let name = r.cluster_name.get_ref().clone();
        let mut ok = true;
        let name_ok = !name.is_empty()
            && name.len() <= 100
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok {
            self.p.error(
                &r.cluster_name.span(),
                at,
                "cluster_name must be 1 to 100 letters, digits, '-' or '_', starting with a letter or digit",
            );
            ok = false;
        }
        let region = r
            .region
            .as_ref()
            .map_or(default_region.to_string(), |s| s.get_ref().clone());
        let mut associations = Vec::new();
        for (i, a) in r.associations.iter().enumerate() {
            let aat = format!("pod_identity.associations[{i}]");
            match self.pod_association(a.get_ref(), &aat, accounts) {
                Some(a) => associations.push(a),
                None => ok = false,
            }
        }
        if associations.is_empty() && ok {
            self.p.error(
                &raw.span(),
                at,
                "[pod_identity] has no [[pod_identity.associations]]: no token could get a role",
            );
            ok = false;
        }
        let account = associations
            .first()
            .map_or(String::new(), |a: &PodAssociation| a.account.clone());
        ok.then(|| PodIdentity {
            cluster_arn: format!("arn:{partition}:eks:{region}:{account}:cluster/{name}"),
            cluster_name: name,
            associations,
        })
    }

    fn pod_association(
        &mut self,
        a: &RawPodAssociation,
        at: &str,
        accounts: &[Account],
    ) -> Option<PodAssociation> {
        let role_arn = a.role_arn.get_ref().clone();
        let account_id = role_arn.split(':').nth(4).unwrap_or("").to_string();
        let Some(account) = accounts.iter().find(|x| x.id == account_id) else {
            self.p.error(
                &a.role_arn.span(),
                at,
                format!("role_arn {role_arn}: no account {account_id} is configured"),
            );
            return None;
        };
        let Some(role) = account.roles.iter().find(|r| r.arn == role_arn) else {
            self.p.error(
                &a.role_arn.span(),
                at,
                format!("role_arn {role_arn} is not a role of account {account_id}"),
            );
            return None;
        };
        let audience = a
            .audience
            .as_ref()
            .map_or(POD_IDENTITY_SERVICE.to_string(), |s| s.get_ref().clone());
        let provider_url = a.provider.get_ref();
        let Some(provider) = account
            .oidc_providers
            .iter()
            .find(|p| &p.url == provider_url)
        else {
            self.p.error(
                &a.provider.span(),
                at,
                format!(
                    "provider {provider_url} is not an OIDC provider of account {account_id} (the role's): list it in [[accounts.oidc_providers]]"
                ),
            );
            return None;
        };
        if !provider.audiences.contains(&audience) {
            let span = a.audience.as_ref().map_or(a.provider.span(), |s| s.span());
            self.p.error(
                &span,
                at,
                format!(
                    "audience \"{audience}\" is not among the audiences of provider {provider_url}"
                ),
            );
            return None;
        }
        let max = role.max_session_duration.as_secs();
        let duration = a.duration_seconds.as_ref().map_or(3600, |d| *d.get_ref());
        if !(900..=max).contains(&duration) {
            let span = a
                .duration_seconds
                .as_ref()
                .map_or(a.role_arn.span(), |d| d.span());
            self.p.error(
                &span,
                at,
                format!(
                    "duration_seconds must be between 900 and the role's max_session_duration ({max}), not {duration}"
                ),
            );
            return None;
        }
        let subject = a.subject.get_ref().clone();
        if subject.is_empty() {
            self.p
                .error(&a.subject.span(), at, "subject must not be empty");
            return None;
        }
        Some(PodAssociation {
            provider: provider_url.clone(),
            account: account_id,
            subject_pattern: crate::policy::pattern::Glob::new(&subject, false),
            subject,
            audience,
            role_arn,
            duration_seconds: duration as i64,
        })
    }
}
