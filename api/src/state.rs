//! What every request handler shares.

use std::{sync::Arc, time::Duration};

use sea_orm::DatabaseConnection;

use crate::{
    cache::{Cache, MemoryCache},
    config::Config,
    metrics::Metrics,
};

/// Shared server state; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The database: the truth for everything that must last. Writes and
    /// reads inside a write go here.
    pub db: DatabaseConnection,
    /// Reads that decide no write (a pull's feed and records, a reader's
    /// sites): on SQLite a pool of read-only connections beside the one
    /// writer, which WAL lets read while it writes; on Postgres the same
    /// pool as `db`. Always the primary's data, never a lagging replica
    /// (a pull's cursor must not skip a change; docs/scaling.md).
    pub reads: DatabaseConnection,
    /// Redis, or the in-process stand-in.
    pub cache: Cache,
    /// Where rate-limit counters go while Redis is down.
    pub local_counters: MemoryCache,
    /// The configuration in force.
    pub config: Arc<Config>,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// The time deadlines are measured against.
    pub clock: crate::clock::Clock,
    /// The key webhook endpoints' signing secrets derive from.
    pub webhook_key: [u8; 32],
}

impl AppState {
    /// Idle lifetime of a session.
    pub fn session_idle_ttl(&self) -> Duration {
        Duration::from_secs(self.config.session.idle_ttl_secs)
    }
}
