//! The configured OpenID Connect providers at run time ([`Federation`]): each provider's keys
//! ([`provider`]: static, or fetched over https and cached), the attempt limits of the
//! unsigned AssumeRoleWithWebIdentity ([`limits`]), and [`Federation::verify`], which takes a
//! token from its first byte to a verified identity with the provider's rules
//! ([`crate::oidc`] does the checks; this module finds the provider and its key).

mod fetch;
pub mod limits;
pub mod provider;

use std::sync::Arc;

use crate::config::{Account, WebIdentityLimits};
use crate::oidc::{Rules, TokenError, Verified};

pub use limits::AttemptLimits;
pub use provider::ProviderKeys;

/// Why a web identity token gave no identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FederationError {
    /// The token failed a check.
    Token(TokenError),
    /// No provider of the role's account has the token's `iss`.
    UnknownProvider(String),
    /// The provider's keys could not be had (never fetched, or the fetch failed).
    NoKeys,
}

/// A token that passed every check, and the provider that vouched for it.
#[derive(Debug)]
pub struct Identity {
    pub provider: Arc<ProviderKeys>,
    pub token: Verified,
}

/// Every account's OIDC providers, with their account (a handful: looked up by a scan, with
/// no key built per request).
pub struct Federation {
    providers: Vec<(String, Arc<ProviderKeys>)>,
    pub limits: AttemptLimits,
}

impl Federation {
    /// The providers of `accounts`, their static keys read; the fetched ones carry over from
    /// `previous` where a provider's settings are unchanged.
    pub fn build(
        accounts: &[Account],
        limits: WebIdentityLimits,
        previous: Option<&Federation>,
    ) -> Result<Federation, String> {
        let mut providers = Vec::new();
        for account in accounts {
            for p in &account.oidc_providers {
                let carried = previous
                    .and_then(|f| f.provider(&account.id, &p.url))
                    .and_then(|old| old.carried(p));
                let keys = match carried {
                    Some(k) => k,
                    None => {
                        ProviderKeys::new(p).map_err(|e| format!("OIDC provider {}: {e}", p.url))?
                    }
                };
                providers.push((account.id.clone(), Arc::new(keys)));
            }
        }
        let limits = match previous {
            Some(f) => AttemptLimits::carried(&f.limits, limits),
            None => AttemptLimits::new(limits),
        };
        Ok(Federation { providers, limits })
    }

    /// No account has a provider: nothing unsigned can be served.
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    /// The provider of `account` whose URL is `iss`.
    pub fn provider(&self, account: &str, iss: &str) -> Option<&Arc<ProviderKeys>> {
        self.providers
            .iter()
            .find(|(a, p)| a == account && p.config.url == iss)
            .map(|(_, p)| p)
    }

    /// Every provider, for the metrics.
    pub fn providers(&self) -> impl Iterator<Item = &Arc<ProviderKeys>> {
        self.providers.iter().map(|(_, p)| p)
    }

    /// Starts fetching every provider's keys (at start, so the first token does not wait).
    pub fn prefetch(&self) {
        for p in self.providers() {
            if p.current().is_none() {
                let p = p.clone();
                tokio::spawn(async move { p.refresh().await });
            }
        }
    }

    /// Verifies `token` for a role in `account`: its shape and algorithm, the provider its
    /// `iss` names in that account, the key for its `kid`, its signature and claims.
    pub async fn verify(
        &self,
        account: &str,
        token: &str,
        now: i64,
    ) -> Result<Identity, (FederationError, Option<Arc<ProviderKeys>>)> {
        let seen = crate::oidc::peek(token).map_err(|e| (FederationError::Token(e), None))?;
        let provider = self
            .provider(account, &seen.iss)
            .ok_or_else(|| (FederationError::UnknownProvider(seen.iss.clone()), None))?
            .clone();
        let fail = |e: FederationError| (e, Some(provider.clone()));
        let loaded = provider
            .keys_for(seen.kid.as_deref())
            .await
            .ok_or_else(|| fail(FederationError::NoKeys))?;
        let key = loaded
            .set
            .find(seen.kid.as_deref(), seen.alg)
            .map_err(|e| fail(FederationError::Token(e)))?;
        let rules = Rules {
            issuer: &provider.config.url,
            audiences: &provider.config.audiences,
            algorithms: &provider.algorithms,
            skew: provider.config.clock_skew.as_secs() as i64,
            now,
        };
        let verified = crate::oidc::verify(token, &seen, key, &rules)
            .map_err(|e| fail(FederationError::Token(e)))?;
        Ok(Identity {
            provider: provider.clone(),
            token: verified,
        })
    }
}
