//! One provider's keys at run time. A static `jwks_file` is read once (at load and reload).
//! Fetched keys are cached; a token whose `kid` the cache lacks makes at most one fetch per
//! `refetch_interval`, and a request waits for at most one fetch (the one in flight, or its
//! own). Keys older than `max_key_age` are refreshed in the background when next used. A fetch
//! that fails keeps the last good set (logged and counted); with no set at all, tokens are
//! refused (`IDPCommunicationError`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use crate::config::OidcProvider;
use crate::oidc::KeySet;

/// A key set and when it was fetched.
#[derive(Debug)]
pub struct Loaded {
    pub set: KeySet,
    pub at: Instant,
}

/// Fetch outcomes of one provider, for the metrics.
#[derive(Debug, Default)]
pub struct FetchCounters {
    pub ok: AtomicU64,
    pub failed: AtomicU64,
}

pub struct ProviderKeys {
    pub config: OidcProvider,
    /// `config.algorithms`, parsed once.
    pub algorithms: Vec<crate::oidc::Algorithm>,
    /// `None` for a static `jwks_file`.
    tls: Option<Arc<rustls::ClientConfig>>,
    keys: RwLock<Option<Arc<Loaded>>>,
    last_attempt: Mutex<Option<Instant>>,
    /// Held while a fetch is in flight.
    fetching: tokio::sync::Mutex<()>,
    pub counters: FetchCounters,
}

impl std::fmt::Debug for ProviderKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProviderKeys({})", self.config.url)
    }
}

/// The provider's algorithm names (checked by `config`) as the JWT library's values.
fn algorithms(config: &OidcProvider) -> Vec<crate::oidc::Algorithm> {
    config
        .algorithms
        .iter()
        .filter_map(|a| crate::oidc::algorithm(a))
        .collect()
}

impl ProviderKeys {
    /// A provider with its static keys read, or ready to fetch.
    pub fn new(config: &OidcProvider) -> Result<ProviderKeys, String> {
        let (tls, keys) = match &config.jwks_file {
            Some(path) => {
                let text = std::fs::read(path)
                    .map_err(|e| format!("cannot read jwks_file {}: {e}", path.display()))?;
                let set = KeySet::parse(&text)
                    .map_err(|e| format!("jwks_file {}: {e}", path.display()))?;
                let loaded = Loaded {
                    set,
                    at: Instant::now(),
                };
                (None, Some(Arc::new(loaded)))
            }
            None => {
                let roots = crate::config::tls_material::load_roots(config.ca_file.as_deref())?;
                let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
                (Some(Arc::new(tls)), None)
            }
        };
        Ok(ProviderKeys {
            config: config.clone(),
            algorithms: algorithms(config),
            tls,
            keys: RwLock::new(keys),
            last_attempt: Mutex::new(None),
            fetching: tokio::sync::Mutex::new(()),
            counters: FetchCounters::default(),
        })
    }

    /// The same provider in a reloaded config: its cached keys and counters carry over.
    pub fn carried(&self, config: &OidcProvider) -> Option<ProviderKeys> {
        if config != &self.config || self.tls.is_none() {
            return None;
        }
        Some(ProviderKeys {
            config: config.clone(),
            algorithms: self.algorithms.clone(),
            tls: self.tls.clone(),
            keys: RwLock::new(self.current()),
            last_attempt: Mutex::new(*self.last_attempt.lock().expect("not poisoned")),
            fetching: tokio::sync::Mutex::new(()),
            counters: FetchCounters {
                ok: AtomicU64::new(self.counters.ok.load(Ordering::Relaxed)),
                failed: AtomicU64::new(self.counters.failed.load(Ordering::Relaxed)),
            },
        })
    }

    pub fn current(&self) -> Option<Arc<Loaded>> {
        self.keys.read().expect("not poisoned").clone()
    }

    /// The key set to verify a token with `kid`: the cached one if it has that key (refreshed
    /// in the background when old), else after at most one fetch. `None`: no keys at all.
    pub async fn keys_for(self: &Arc<Self>, kid: Option<&str>) -> Option<Arc<Loaded>> {
        if let Some(loaded) = self.current()
            && (loaded.set.has(kid) || self.tls.is_none())
        {
            if self.tls.is_some() && loaded.at.elapsed() >= self.config.max_key_age {
                let this = self.clone();
                tokio::spawn(async move { this.refresh().await });
            }
            return Some(loaded);
        }
        self.refresh().await;
        self.current()
    }

    /// Fetches the keys unless a fetch was made within the refetch interval; waits for a fetch
    /// in flight rather than starting another.
    pub async fn refresh(&self) {
        let Some(tls) = &self.tls else {
            return;
        };
        let _in_flight = self.fetching.lock().await;
        {
            let mut last = self.last_attempt.lock().expect("not poisoned");
            if last.is_some_and(|t| t.elapsed() < self.config.refetch_interval) {
                return;
            }
            *last = Some(Instant::now());
        }
        let fetched = super::fetch::jwks(&self.config, tls)
            .await
            .and_then(|body| KeySet::parse(&body));
        match fetched {
            Ok(set) => {
                tracing::info!(provider = %self.config.url, keys = set.len(), "OIDC provider keys fetched");
                self.counters.ok.fetch_add(1, Ordering::Relaxed);
                *self.keys.write().expect("not poisoned") = Some(Arc::new(Loaded {
                    set,
                    at: Instant::now(),
                }));
            }
            Err(e) => {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(provider = %self.config.url, error = %e, kept_last_good = self.current().is_some(), "OIDC provider keys could not be fetched");
            }
        }
    }
}
