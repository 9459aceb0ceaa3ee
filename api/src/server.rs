//! Building the shared state and serving it.

use std::{sync::Arc, time::Duration};

use poem::{Server, listener::TcpAcceptor};
use tokio::net::TcpListener as TokioListener;

use crate::{
    cache::{Cache, MemoryCache},
    config::Config,
    db, http,
    metrics::Metrics,
    state::AppState,
};

/// Connects to the database (running migrations) and to the cache.
pub async fn build_state(config: Config) -> anyhow::Result<AppState> {
    let url = config.effective_database_url();
    let db = db::connect(&url, config.database_max_connections).await?;
    db::migrate(&db).await?;
    let reads = db::connect_reads(&url, &db).await?;
    let cache = Cache::new(
        config.redis_url.as_deref(),
        &config.redis_key_prefix,
        Duration::from_millis(config.redis_timeout_ms),
    )?;
    Ok(AppState {
        db,
        reads,
        cache,
        local_counters: MemoryCache::new(&config.redis_key_prefix),
        metrics: Metrics::new(),
        clock: Default::default(),
        webhook_key: webhook_key(&config)?,
        config: Arc::new(config),
    })
}

/// Serves on an already-bound listener until `shutdown` resolves.
pub async fn serve(
    state: AppState,
    listener: TokioListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    crate::allocator::return_freed_memory();
    spawn_tombstone_purge(state.clone());
    spawn_referral_deadlines(state.clone());
    crate::webhooks::worker::spawn(crate::webhooks::worker::Deliverer::new(
        state.db.clone(),
        state.webhook_key,
        state.config.webhooks.clone(),
    ));
    let limits = state.config.connections.clone();
    let acceptor = http::connection::GuardedAcceptor::new(
        TcpAcceptor::from_tokio(listener)?,
        limits.per_address,
        Duration::from_secs(limits.request_timeout_secs.max(1)),
    );
    Server::new_with_acceptor(acceptor)
        .idle_timeout(Duration::from_secs(limits.idle_timeout_secs.max(1)))
        .run_with_graceful_shutdown(http::app(state), shutdown, Some(Duration::from_secs(10)))
        .await?;
    Ok(())
}

/// Purges sync tombstones past the horizon once an hour.
fn spawn_tombstone_purge(state: AppState) {
    let keep = chrono::Duration::days(i64::from(state.config.tombstone_horizon_days));
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(3600));
        loop {
            every.tick().await;
            match crate::sync::retention::purge_tombstones(&state.db, keep).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "sync tombstones past the horizon purged"),
                Err(err) => tracing::warn!(error = %err, "tombstone purge failed; next hour again"),
            }
        }
    });
}

/// Marks overdue referrals and expires unanswered ones, every
/// `referral_deadlines_every_secs`. Safe beside other instances doing the
/// same (each referral is locked and checked again).
fn spawn_referral_deadlines(state: AppState) {
    let every = Duration::from_secs(state.config.referral_deadlines_every_secs.max(1));
    tokio::spawn(async move {
        // The first run one period after start, not at once: a fleet
        // restarting together does not run it all at the same moment.
        let mut every = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let now = state.clock.now();
            match crate::records::referral::deadline_job::run(&state.db, now).await {
                Ok(run) if run.overdue + run.expired > 0 => {
                    tracing::info!(
                        overdue = run.overdue,
                        expired = run.expired,
                        "referral deadlines"
                    )
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "referral deadline job failed; next run again")
                }
            }
        }
    });
}

/// The webhook signing key: the configured one, else one kept in the data
/// directory (made on first start; right for a single instance only).
fn webhook_key(config: &Config) -> anyhow::Result<[u8; 32]> {
    if let Some(text) = &config.webhooks.signing_key {
        return Ok(crate::webhooks::signing::key_of(text));
    }
    let path = config.data_dir.join("webhook-signing.key");
    if let Ok(text) = std::fs::read_to_string(&path) {
        return Ok(crate::webhooks::signing::key_of(text.trim()));
    }
    std::fs::create_dir_all(&config.data_dir)?;
    let text = crate::secrets::new_secret("");
    write_private(&path, &text)?;
    Ok(crate::webhooks::signing::key_of(&text))
}

/// Writes a file only its owner can read.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}
