//! MFA state shared by every replica through Redis (`[shared_state] redis = "redis://…"`).
//!
//! Keys (under `key_prefix`, default `stsgate:`):
//! - `mfa:used:{device}:{step}`: a spent code, `SET NX` so exactly one replica wins it, expiring
//!   when the code can no longer be valid;
//! - `mfa:fail:{subject}`: a sorted set of failure times (sliding window), trimmed, added to and
//!   counted in one `MULTI`, expiring after the window;
//! - `mfa:lock:{subject}`: present while the subject is locked out;
//! - `revocations`: a hash of revocation records (JSON) by scope (JSON), read by every replica
//!   (see `server::revoke_http`);
//! - `rl:{rule}:{key}`: a shared rate limit bucket (tokens, time), expiring once full again.
//!
//! Every operation is bounded by `timeout_ms`; an error or a timeout is [`Unavailable`] and the
//! MFA attempt fails closed. The connection is made on first use and remade after an I/O error,
//! so Redis may start after the gateway, restart, or be replaced behind the same address.

use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::config::RedisSettings;

/// The shared store could not be read or written: the attempt fails closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unavailable;

pub struct RedisState {
    source: Source,
    /// The connection in use; with Sentinel, dropped after a failure so that the next
    /// operation asks the sentinels for the master again.
    manager: tokio::sync::Mutex<Option<ConnectionManager>>,
    prefix: String,
    timeout: Duration,
}

/// Where the Redis server is: one address, or whichever server the sentinels name master.
#[allow(clippy::large_enum_variant)] // one per gateway
enum Source {
    Direct(redis::Client),
    Sentinel(tokio::sync::Mutex<redis::sentinel::SentinelClient>),
}

impl RedisState {
    /// A store for `settings`. Nothing connects until the first MFA attempt.
    pub fn new(settings: &RedisSettings) -> Result<RedisState, String> {
        use redis::IntoConnectionInfo;
        let mut info = settings
            .url
            .as_str()
            .into_connection_info()
            .map_err(|e| format!("shared_state.redis: {e}"))?;
        if let Some(password) = &settings.password {
            let redis = info
                .redis_settings()
                .clone()
                .set_password(password.expose());
            info = info.set_redis_settings(redis);
        }
        if let Some((sentinels, master)) = &settings.sentinel {
            let mut node = redis::sentinel::SentinelNodeConnectionInfo::default();
            if let Some(password) = &settings.password {
                node = node.set_redis_connection_info(
                    info.redis_settings()
                        .clone()
                        .set_password(password.expose()),
                );
            }
            let client = redis::sentinel::SentinelClient::build(
                sentinels.clone(),
                master,
                Some(node),
                redis::sentinel::SentinelServerType::Master,
            )
            .map_err(|e| format!("shared_state.sentinels: {e}"))?;
            return Ok(RedisState {
                source: Source::Sentinel(tokio::sync::Mutex::new(client)),
                manager: tokio::sync::Mutex::new(None),
                prefix: settings.key_prefix.clone(),
                timeout: settings.timeout,
            });
        }
        let client = match &settings.ca_file {
            // rediss:// with a private CA: that bundle instead of the system's roots.
            Some(ca) => {
                let root_cert = std::fs::read(ca)
                    .map_err(|e| format!("shared_state.ca_file {}: {e}", ca.display()))?;
                redis::Client::build_with_tls(
                    info,
                    redis::TlsCertificates {
                        client_tls: None,
                        root_cert: Some(root_cert),
                    },
                )
            }
            None => redis::Client::open(info),
        }
        .map_err(|e| format!("shared_state.redis: {e}"))?;
        Ok(RedisState {
            source: Source::Direct(client),
            manager: tokio::sync::Mutex::new(None),
            prefix: settings.key_prefix.clone(),
            timeout: settings.timeout,
        })
    }

    async fn connection(&self) -> Result<ConnectionManager, Unavailable> {
        let mut slot = self.manager.lock().await;
        if let Some(m) = &*slot {
            return Ok(m.clone());
        }
        let client = match &self.source {
            Source::Direct(client) => client.clone(),
            Source::Sentinel(sentinels) => {
                let asked = async { sentinels.lock().await.async_get_client().await };
                match tokio::time::timeout(self.timeout, asked).await {
                    Ok(Ok(client)) => client,
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "shared_state.sentinels: no master named");
                        return Err(Unavailable);
                    }
                    Err(_) => {
                        tracing::error!("shared_state.sentinels: no answer in time");
                        return Err(Unavailable);
                    }
                }
            }
        };
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(self.timeout);
        let manager = ConnectionManager::new_lazy_with_config(client, config).map_err(|e| {
            tracing::error!(error = %e, "shared_state.redis: cannot set up the connection");
            Unavailable
        })?;
        *slot = Some(manager.clone());
        Ok(manager)
    }

    /// After a failure through Sentinel: the master may have changed, ask again next time.
    async fn forget(&self) {
        if matches!(self.source, Source::Sentinel(_)) {
            *self.manager.lock().await = None;
        }
    }

    /// Runs one Redis exchange within the timeout; any error is [`Unavailable`] (and logged).
    async fn run<T, F>(
        &self,
        what: &str,
        f: impl FnOnce(ConnectionManager) -> F,
    ) -> Result<T, Unavailable>
    where
        F: Future<Output = redis::RedisResult<T>>,
    {
        let conn = self.connection().await?;
        match tokio::time::timeout(self.timeout, f(conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                tracing::error!(operation = what, error = %e, "shared_state.redis: request failed");
                self.forget().await;
                Err(Unavailable)
            }
            Err(_) => {
                tracing::error!(
                    operation = what,
                    timeout_ms = self.timeout.as_millis() as u64,
                    "shared_state.redis: no answer in time"
                );
                self.forget().await;
                Err(Unavailable)
            }
        }
    }

    fn key(&self, kind: &str, rest: &str) -> String {
        format!("{}mfa:{kind}:{rest}", self.prefix)
    }

    /// Takes a token from the shared bucket `key` (`rate` a second, `burst` at most, kept as a
    /// hash of tokens and time, Redis's own clock): `0` when taken, else the milliseconds until
    /// one is there. One script, so replicas never race on a bucket.
    pub async fn take_token(&self, key: &str, rate: f64, burst: f64) -> Result<u64, Unavailable> {
        static SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
            redis::Script::new(
                r"
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) / 1000 * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / rate * 1000) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return wait
",
            )
        });
        let key = format!("{}rl:{key}", self.prefix);
        self.run("take a rate limit token", |mut c| async move {
            SCRIPT
                .key(key)
                .arg(rate)
                .arg(burst)
                .invoke_async::<u64>(&mut c)
                .await
        })
        .await
    }

    /// Stores a revocation record (JSON) under its scope (JSON) in the `revocations` hash.
    pub async fn put_revocation(&self, field: &str, record: &str) -> Result<(), Unavailable> {
        let key = format!("{}revocations", self.prefix);
        let (field, record) = (field.to_string(), record.to_string());
        self.run("store revocation", |mut c| async move {
            c.hset::<_, _, _, ()>(key, field, record).await
        })
        .await
    }

    /// Removes expired revocation records (their scopes, JSON) from the hash.
    pub async fn drop_revocations(&self, fields: Vec<String>) -> Result<(), Unavailable> {
        let key = format!("{}revocations", self.prefix);
        self.run("drop expired revocations", |mut c| async move {
            c.hdel::<_, _, ()>(key, fields).await
        })
        .await
    }

    /// Every (scope, record) of the `revocations` hash.
    pub async fn revocations(&self) -> Result<Vec<(String, String)>, Unavailable> {
        let key = format!("{}revocations", self.prefix);
        self.run("read revocations", |mut c| async move {
            c.hgetall::<_, Vec<(String, String)>>(key).await
        })
        .await
    }

    pub async fn any_locked(&self, subjects: &[String]) -> Result<bool, Unavailable> {
        let keys: Vec<String> = subjects.iter().map(|s| self.key("lock", s)).collect();
        self.run("check lockout", |mut c| async move {
            let n: u64 = c.exists(keys).await?;
            Ok(n > 0)
        })
        .await
    }

    pub async fn use_code(&self, device: &str, step: u64, until: u64) -> Result<bool, Unavailable> {
        let key = self.key("used", &format!("{device}:{step}"));
        let now = unix_now();
        let ttl = until.saturating_sub(now).max(1);
        self.run("spend code", |mut c| async move {
            let set: Option<String> = redis::cmd("SET")
                .arg(key)
                .arg(1)
                .arg("NX")
                .arg("EX")
                .arg(ttl)
                .query_async(&mut c)
                .await?;
            Ok(set.is_some())
        })
        .await
    }

    pub async fn add_failure(
        &self,
        subject: &str,
        now: u64,
        window: u64,
    ) -> Result<u32, Unavailable> {
        let key = self.key("fail", subject);
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).expect("the operating system's random source failed");
        let member = format!("{now}:{}", hex::encode(nonce));
        self.run("count failure", |mut c| async move {
            let (n,): (u32,) = redis::pipe()
                .atomic()
                .cmd("ZREMRANGEBYSCORE")
                .arg(&key)
                .arg("-inf")
                .arg(now.saturating_sub(window))
                .ignore()
                .cmd("ZADD")
                .arg(&key)
                .arg(now)
                .arg(member)
                .ignore()
                .cmd("ZCARD")
                .arg(&key)
                .cmd("EXPIRE")
                .arg(&key)
                .arg(window.max(1))
                .ignore()
                .query_async(&mut c)
                .await?;
            Ok(n)
        })
        .await
    }

    pub async fn clear_failures(&self, subjects: &[String]) -> Result<(), Unavailable> {
        let keys: Vec<String> = subjects.iter().map(|s| self.key("fail", s)).collect();
        self.run("clear failures", |mut c| async move {
            let _: u64 = c.del(keys).await?;
            Ok(())
        })
        .await
    }

    pub async fn lock(&self, subject: &str, until: u64) -> Result<(), Unavailable> {
        let key = self.key("lock", subject);
        let ttl = until.saturating_sub(unix_now()).max(1);
        self.run("lock out", |mut c| async move {
            let _: () = c.set_ex(key, until, ttl).await?;
            Ok(())
        })
        .await
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
