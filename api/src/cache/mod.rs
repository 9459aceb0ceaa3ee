//! Hot, ephemeral state: sessions, rate-limit counters. Redis in production,
//! an in-process map when no Redis is configured.
//!
//! Nothing here is the truth: every caller has a fallback (the database for
//! sessions, a local counter for rate limits), so a Redis outage degrades the
//! server but never fails a request. To keep an outage from costing every
//! request a timeout, a failed command opens a short circuit during which
//! Redis is not tried at all.

use std::time::Duration;

mod memory;
mod redis;

pub use self::{memory::MemoryCache, redis::RedisCache};

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
            Cache::Redis(r) if r.is_degraded() => CacheHealth::Degraded,
            Cache::Redis(_) => CacheHealth::Up,
        }
    }
}
