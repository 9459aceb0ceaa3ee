//! Hot, ephemeral state: sessions, rate-limit counters. Redis in production,
//! an in-process map when no Redis is configured.
//!
//! Nothing here is the truth: every caller has a fallback (the database for
//! sessions, a local counter for rate limits), so a Redis outage degrades the
//! server but never fails a request. To keep an outage from costing every
//! request a timeout, a failed command opens a short circuit during which
//! Redis is not tried at all.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicI64, Ordering},
    },
    time::{Duration, Instant},
};

use redis::{AsyncCommands, Client, aio::ConnectionManager, aio::ConnectionManagerConfig};

/// How long Redis is left alone after a failed command.
const CIRCUIT_OPEN_FOR: Duration = Duration::from_secs(2);

/// Why a cache command did not run.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// Redis did not answer, or answered with an error.
    #[error("redis unavailable: {0}")]
    Unavailable(String),
}

/// Whether the hot state is served as designed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheHealth {
    /// No Redis configured: the in-process cache serves (single instance).
    InProcess,
    /// Redis answers.
    Up,
    /// Redis is configured but not answering: the server runs on fallbacks.
    Degraded,
}

/// The cache the server talks to.
#[derive(Clone)]
pub enum Cache {
    /// The in-process stand-in.
    Memory(MemoryCache),
    /// Redis, with a circuit breaker.
    Redis(RedisCache),
}

impl Cache {
    /// Redis when a URL is given, the in-process map otherwise.
    pub fn new(redis_url: Option<&str>, prefix: &str, timeout: Duration) -> anyhow::Result<Self> {
        Ok(match redis_url {
            None => Cache::Memory(MemoryCache::new(prefix)),
            Some(url) => Cache::Redis(RedisCache::new(url, prefix, timeout)?),
        })
    }

    /// Reads a value and, when found, restarts its expiry (a sliding TTL).
    pub async fn get_and_touch(
        &self,
        key: &str,
        ttl: Duration,
    ) -> Result<Option<String>, CacheError> {
        match self {
            Cache::Memory(m) => Ok(m.get_and_touch(key, ttl)),
            Cache::Redis(r) => r.get_and_touch(key, ttl).await,
        }
    }

    /// Stores a value with an expiry.
    pub async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError> {
        match self {
            Cache::Memory(m) => {
                m.set(key, value, ttl);
                Ok(())
            }
            Cache::Redis(r) => r.set(key, value, ttl).await,
        }
    }

    /// Reads several values at once (one round trip on Redis).
    pub async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, CacheError> {
        match self {
            Cache::Memory(m) => Ok(keys.iter().map(|k| m.get(k)).collect()),
            Cache::Redis(r) => r.get_many(keys).await,
        }
    }

    /// Stores several values with one expiry (one pipelined round trip).
    pub async fn set_many(
        &self,
        entries: &[(String, String)],
        ttl: Duration,
    ) -> Result<(), CacheError> {
        match self {
            Cache::Memory(m) => {
                for (key, value) in entries {
                    m.set(key, value, ttl);
                }
                Ok(())
            }
            Cache::Redis(r) => r.set_many(entries, ttl).await,
        }
    }

    /// Deletes keys.
    pub async fn delete(&self, keys: &[String]) -> Result<(), CacheError> {
        match self {
            Cache::Memory(m) => {
                m.delete(keys);
                Ok(())
            }
            Cache::Redis(r) => r.delete(keys).await,
        }
    }

    /// Adds one to a counter that resets `window` after its first hit;
    /// answers the new count and the seconds until it resets.
    pub async fn hit(&self, key: &str, window: Duration) -> Result<(u64, u64), CacheError> {
        match self {
            Cache::Memory(m) => Ok(m.hit(key, window)),
            Cache::Redis(r) => r.hit(key, window).await,
        }
    }

    /// Reads a counter without changing it: its count and seconds to reset.
    pub async fn peek_counter(&self, key: &str) -> Result<(u64, u64), CacheError> {
        match self {
            Cache::Memory(m) => Ok(m.peek_counter(key)),
            Cache::Redis(r) => r.peek_counter(key).await,
        }
    }

    /// Deletes every key under this instance's prefix (operators and tests:
    /// the same effect as a Redis flush, without touching other tenants of
    /// the same Redis).
    pub async fn flush_namespace(&self) -> Result<(), CacheError> {
        match self {
            Cache::Memory(m) => {
                m.clear();
                Ok(())
            }
            Cache::Redis(r) => r.flush_namespace().await,
        }
    }

    /// Asks Redis now (ignoring the circuit) whether it answers.
    pub async fn probe(&self) -> CacheHealth {
        match self {
            Cache::Memory(_) => CacheHealth::InProcess,
            Cache::Redis(r) => r.probe().await,
        }
    }

    /// The last known health, without a round trip.
    pub fn health(&self) -> CacheHealth {
        match self {
            Cache::Memory(_) => CacheHealth::InProcess,
            Cache::Redis(r) if r.inner.degraded.load(Ordering::Relaxed) => CacheHealth::Degraded,
            Cache::Redis(_) => CacheHealth::Up,
        }
    }
}

/// An in-process map with expiries; what `OUTPOST_REDIS_URL` unset gives.
#[derive(Clone)]
pub struct MemoryCache {
    prefix: String,
    entries: Arc<Mutex<HashMap<String, (String, Instant)>>>,
}

impl MemoryCache {
    /// An empty cache.
    pub fn new(prefix: &str) -> Self {
        Self { prefix: prefix.to_owned(), entries: Arc::default() }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn with_entries<T>(&self, f: impl FnOnce(&mut HashMap<String, (String, Instant)>) -> T) -> T {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Sweep expired entries now and then so the map cannot grow without
        // bound on a long-running single instance.
        if entries.len() > 10_000 {
            let now = Instant::now();
            entries.retain(|_, (_, expires)| *expires > now);
        }
        f(&mut entries)
    }

    fn get_and_touch(&self, key: &str, ttl: Duration) -> Option<String> {
        let key = self.key(key);
        self.with_entries(|entries| {
            let now = Instant::now();
            match entries.get_mut(&key) {
                Some((value, expires)) if *expires > now => {
                    *expires = now + ttl;
                    Some(value.clone())
                }
                Some(_) => {
                    entries.remove(&key);
                    None
                }
                None => None,
            }
        })
    }

    fn get(&self, key: &str) -> Option<String> {
        let key = self.key(key);
        self.with_entries(|entries| {
            entries
                .get(&key)
                .filter(|(_, expires)| *expires > Instant::now())
                .map(|(v, _)| v.clone())
        })
    }

    fn set(&self, key: &str, value: &str, ttl: Duration) {
        let key = self.key(key);
        self.with_entries(|entries| {
            entries.insert(key, (value.to_owned(), Instant::now() + ttl));
        });
    }

    fn delete(&self, keys: &[String]) {
        let keys: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        self.with_entries(|entries| {
            for key in &keys {
                entries.remove(key);
            }
        });
    }

    /// Adds one to a windowed counter.
    pub fn hit(&self, key: &str, window: Duration) -> (u64, u64) {
        let key = self.key(key);
        self.with_entries(|entries| {
            let now = Instant::now();
            let entry = entries.entry(key).or_insert_with(|| ("0".into(), now + window));
            if entry.1 <= now {
                *entry = ("0".into(), now + window);
            }
            let count = entry.0.parse::<u64>().unwrap_or(0) + 1;
            entry.0 = count.to_string();
            (count, entry.1.saturating_duration_since(now).as_secs().max(1))
        })
    }

    /// Reads a windowed counter.
    pub fn peek_counter(&self, key: &str) -> (u64, u64) {
        let key = self.key(key);
        self.with_entries(|entries| {
            let now = Instant::now();
            match entries.get(&key) {
                Some((count, expires)) if *expires > now => (
                    count.parse().unwrap_or(0),
                    expires.saturating_duration_since(now).as_secs().max(1),
                ),
                _ => (0, 0),
            }
        })
    }

    fn clear(&self) {
        self.with_entries(HashMap::clear);
    }
}

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
    fn new(url: &str, prefix: &str, timeout: Duration) -> anyhow::Result<Self> {
        let client = Client::open(url)?;
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

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.inner.prefix)
    }

    fn now_ms() -> i64 {
        chrono::Utc::now().timestamp_millis()
    }

    /// Runs a command unless the circuit is open; a failure opens it.
    async fn run<T, F, Fut>(&self, f: F) -> Result<T, CacheError>
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
    async fn settle_owed_deletions(&self) -> Result<(), CacheError> {
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

    fn owed(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.inner.owed_deletions.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn owe(&self, keys: Vec<String>) {
        let mut owed = self.owed();
        // A deletion retried during the outage must not pile up copies.
        let fresh: Vec<String> = keys.into_iter().filter(|k| !owed.contains(k)).collect();
        owed.extend(fresh);
        let excess = owed.len().saturating_sub(MAX_OWED_DELETIONS);
        owed.drain(..excess);
    }

    fn trip(&self, err: &redis::RedisError) {
        let until = Self::now_ms() + CIRCUIT_OPEN_FOR.as_millis() as i64;
        self.inner.skip_until_ms.store(until, Ordering::Relaxed);
        if !self.inner.degraded.swap(true, Ordering::Relaxed) {
            tracing::warn!(error = %err, "redis unavailable; serving from fallbacks");
        }
    }

    async fn get_and_touch(&self, key: &str, ttl: Duration) -> Result<Option<String>, CacheError> {
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

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, CacheError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        self.run(|mut c| async move { redis::cmd("MGET").arg(keys).query_async(&mut c).await })
            .await
    }

    async fn set_many(
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

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError> {
        let key = self.key(key);
        let value = value.to_owned();
        self.run(|mut c| async move { c.pset_ex(key, value, ttl.as_millis() as u64).await }).await
    }

    async fn delete(&self, keys: &[String]) -> Result<(), CacheError> {
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

    async fn hit(&self, key: &str, window: Duration) -> Result<(u64, u64), CacheError> {
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

    async fn peek_counter(&self, key: &str) -> Result<(u64, u64), CacheError> {
        let key = self.key(key);
        let (count, ttl_ms): (Option<u64>, i64) = self
            .run(
                |mut c| async move { redis::pipe().get(&key).pttl(&key).query_async(&mut c).await },
            )
            .await?;
        Ok((count.unwrap_or(0), (ttl_ms.max(0) as u64).div_ceil(1000)))
    }

    async fn flush_namespace(&self) -> Result<(), CacheError> {
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

    async fn probe(&self) -> CacheHealth {
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
