//! The Redis cache: a reconnecting connection manager behind a short
//! circuit breaker, so an outage costs requests no timeouts.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicI64, Ordering},
    },
    time::Duration,
};

use redis::{
    AsyncCommands, Client, IntoConnectionInfo, aio::ConnectionManager, aio::ConnectionManagerConfig,
};

use super::{CIRCUIT_OPEN_FOR, CacheError, CacheHealth};

/// Redis through a reconnecting connection manager.
#[derive(Clone)]
pub struct RedisCache {
    inner: Arc<RedisInner>,
}

struct RedisInner {
    prefix: String,
    connection: ConnectionManager,
    degraded: AtomicBool,
    /// Unix milliseconds until which Redis is not tried (circuit open).
    skip_until_ms: AtomicI64,
    /// Keys whose deletion failed while Redis was away (full, prefixed).
    /// They are deleted before any other command once Redis answers again,
    /// so a Redis that comes back with its data (a network partition, a
    /// paused process) never serves an entry this instance revoked, such as
    /// the session of a user who logged out during the outage.
    owed_deletions: Mutex<Vec<String>>,
}

/// Most keys remembered for deletion; past this the oldest are dropped (and
/// the session module's own retries still cover them).
const MAX_OWED_DELETIONS: usize = 100_000;

// Atomically counts a hit and starts the window on the first one, so a
// counter can never be left without an expiry.
const HIT_SCRIPT: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
";

impl RedisCache {
    /// Whether the last command failed (the circuit may be open).
    pub(super) fn is_degraded(&self) -> bool {
        self.inner.degraded.load(Ordering::Relaxed)
    }

    pub(super) fn new(url: &str, prefix: &str, timeout: Duration) -> anyhow::Result<Self> {
        // redis-rs leaves Nagle on by default: a command written in two
        // parts would wait for Redis's delayed ACK (tests/faults/sockets.rs).
        let info = url
            .into_connection_info()?
            .set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true));
        let client = Client::open(info)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1);
        let connection = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Self {
            inner: Arc::new(RedisInner {
                prefix: prefix.to_owned(),
                connection,
                degraded: AtomicBool::new(false),
                skip_until_ms: AtomicI64::new(0),
                owed_deletions: Mutex::default(),
            }),
        })
    }

    pub(super) fn key(&self, key: &str) -> String {
        format!("{}{key}", self.inner.prefix)
    }

    pub(super) fn now_ms() -> i64 {
        chrono::Utc::now().timestamp_millis()
    }

    /// Runs a command unless the circuit is open; a failure opens it.
    pub(super) async fn run<T, F, Fut>(&self, f: F) -> Result<T, CacheError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if Self::now_ms() < self.inner.skip_until_ms.load(Ordering::Relaxed) {
            return Err(CacheError::Unavailable("circuit open after a recent failure".into()));
        }
        self.settle_owed_deletions().await?;
        match f(self.inner.connection.clone()).await {
            Ok(value) => {
                if self.inner.degraded.swap(false, Ordering::Relaxed) {
                    tracing::info!("redis answers again; leaving degraded mode");
                }
                Ok(value)
            }
            Err(err) => {
                self.trip(&err);
                Err(CacheError::Unavailable(err.to_string()))
            }
        }
    }

    /// Deletes the keys owed from an outage before anything else runs.
    pub(super) async fn settle_owed_deletions(&self) -> Result<(), CacheError> {
        let owed = std::mem::take(&mut *self.owed());
        if owed.is_empty() {
            return Ok(());
        }
        let mut c = self.inner.connection.clone();
        match c.del::<_, ()>(&owed).await {
            Ok(()) => {
                tracing::info!(count = owed.len(), "deleted keys owed from a redis outage");
                Ok(())
            }
            Err(err) => {
                self.owe(owed);
                self.trip(&err);
                Err(CacheError::Unavailable(err.to_string()))
            }
        }
    }

    pub(super) fn owed(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.inner.owed_deletions.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn owe(&self, keys: Vec<String>) {
        let mut owed = self.owed();
        // A deletion retried during the outage must not pile up copies.
        let fresh: Vec<String> = keys.into_iter().filter(|k| !owed.contains(k)).collect();
        owed.extend(fresh);
        let excess = owed.len().saturating_sub(MAX_OWED_DELETIONS);
        owed.drain(..excess);
    }

    pub(super) fn trip(&self, err: &redis::RedisError) {
        let until = Self::now_ms() + CIRCUIT_OPEN_FOR.as_millis() as i64;
        self.inner.skip_until_ms.store(until, Ordering::Relaxed);
        if !self.inner.degraded.swap(true, Ordering::Relaxed) {
            tracing::warn!(error = %err, "redis unavailable; serving from fallbacks");
        }
    }

    pub(super) async fn get_and_touch(
        &self,
        key: &str,
        ttl: Duration,
    ) -> Result<Option<String>, CacheError> {
        let key = self.key(key);
        self.run(|mut c| async move {
            redis::cmd("GETEX")
                .arg(key)
                .arg("PX")
                .arg(ttl.as_millis() as u64)
                .query_async(&mut c)
                .await
        })
        .await
    }

    pub(super) async fn get_many(
        &self,
        keys: &[String],
    ) -> Result<Vec<Option<String>>, CacheError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        self.run(|mut c| async move { redis::cmd("MGET").arg(keys).query_async(&mut c).await })
            .await
    }

    pub(super) async fn set_many(
        &self,
        entries: &[(String, String)],
        ttl: Duration,
    ) -> Result<(), CacheError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for (key, value) in entries {
            pipe.pset_ex(self.key(key), value, ttl.as_millis() as u64).ignore();
        }
        self.run(|mut c| async move { pipe.query_async::<()>(&mut c).await }).await
    }

    pub(super) async fn set(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<(), CacheError> {
        let key = self.key(key);
        let value = value.to_owned();
        self.run(|mut c| async move { c.pset_ex(key, value, ttl.as_millis() as u64).await }).await
    }

    pub(super) async fn delete(&self, keys: &[String]) -> Result<(), CacheError> {
        if keys.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        let owed = keys.clone();
        let deleted = self.run(|mut c| async move { c.del::<_, ()>(keys).await }).await;
        if deleted.is_err() {
            self.owe(owed);
        }
        deleted
    }

    pub(super) async fn hit(&self, key: &str, window: Duration) -> Result<(u64, u64), CacheError> {
        let key = self.key(key);
        let (count, ttl_ms): (u64, i64) = self
            .run(|mut c| async move {
                redis::Script::new(HIT_SCRIPT)
                    .key(key)
                    .arg(window.as_millis() as u64)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok((count, (ttl_ms.max(0) as u64).div_ceil(1000).max(1)))
    }

    pub(super) async fn peek_counter(&self, key: &str) -> Result<(u64, u64), CacheError> {
        let key = self.key(key);
        let (count, ttl_ms): (Option<u64>, i64) = self
            .run(
                |mut c| async move { redis::pipe().get(&key).pttl(&key).query_async(&mut c).await },
            )
            .await?;
        Ok((count.unwrap_or(0), (ttl_ms.max(0) as u64).div_ceil(1000)))
    }

    pub(super) async fn flush_namespace(&self) -> Result<(), CacheError> {
        let pattern = format!("{}*", self.inner.prefix);
        self.run(|mut c| async move {
            let mut cursor: u64 = 0;
            loop {
                let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(&mut c)
                    .await?;
                if !keys.is_empty() {
                    c.del::<_, ()>(keys).await?;
                }
                if next == 0 {
                    return Ok(());
                }
                cursor = next;
            }
        })
        .await
    }

    pub(super) async fn probe(&self) -> CacheHealth {
        let mut c = self.inner.connection.clone();
        let pong: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut c).await;
        match pong {
            Ok(_) => {
                self.inner.degraded.store(false, Ordering::Relaxed);
                self.inner.skip_until_ms.store(0, Ordering::Relaxed);
                let _ = self.settle_owed_deletions().await;
                CacheHealth::Up
            }
            Err(err) => {
                self.trip(&err);
                CacheHealth::Degraded
            }
        }
    }
}
