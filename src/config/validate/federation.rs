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
        let mut thumbprints = Vec::new();
        for t in &r.thumbprints {
            let v = t.get_ref().to_ascii_lowercase();
            if v.len() != 40 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
                self.p.error(
                    &t.span(),
                    at,
                    "a thumbprint is the SHA-1 of a certificate: 40 hexadecimal characters",
                );
                ok = false;
            }
            thumbprints.push(v);
        }
        if thumbprints.len() > 5 {
            self.p
                .error(&r.url.span(), at, "at most 5 thumbprints per provider");
            ok = false;
        }
        let algorithms = match &r.algorithms {
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
                    ok = false;
                }
                list.get_ref().clone()
            }
        };
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
                ok = false;
            }
            if ca_file.is_some() || !thumbprints.is_empty() {
                self.p.error(
                    &span,
                    at,
                    "ca_file and thumbprints apply to fetched keys; a provider with a jwks_file fetches nothing",
                );
                ok = false;
            }
        } else if let Err(e) = super::tls_material::load_roots(ca_file.as_deref()) {
            let span = r.ca_file.as_ref().map_or(r.url.span(), |c| c.span());
            self.p.error(&span, at, e);
            ok = false;
        }
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
}
