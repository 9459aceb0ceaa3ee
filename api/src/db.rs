//! Connecting to the database and bringing its schema up to date.

use std::time::Duration;

use outpost_migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr, RuntimeErr, SqlxError};

/// Connects to `url` (Postgres or SQLite). SQLite gets one connection, WAL
/// and a busy timeout, so the embedded default never fails on a locked file.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    if url.starts_with("sqlite:") {
        create_parent_dir(url)?;
        options.max_connections(1).map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    } else {
        options.max_connections(max_connections).min_connections(1);
    }
    Ok(Database::connect(options).await?)
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None).await?;
    Ok(())
}

fn create_parent_dir(url: &str) -> anyhow::Result<()> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = std::path::Path::new(path).parent().filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)?;
    }
    Ok(())
}

/// Whether a database error is the storage being briefly unreachable (a
/// restart, a dropped connection, an exhausted pool, a lock held too long)
/// rather than a fault in the request or the code. Such a request did not
/// commit, or committed and is safe to repeat (pushes are idempotent), so
/// the client is told to retry: 503 with `Retry-After`, never 500.
pub fn is_transient(err: &DbErr) -> bool {
    let runtime = match err {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Conn(runtime) | DbErr::Exec(runtime) | DbErr::Query(runtime) => runtime,
        _ => return false,
    };
    let RuntimeErr::SqlxError(sqlx) = runtime else { return false };
    match sqlx.as_ref() {
        SqlxError::Io(_)
        | SqlxError::Tls(_)
        | SqlxError::Protocol(_)
        | SqlxError::PoolTimedOut
        | SqlxError::PoolClosed
        | SqlxError::WorkerCrashed => true,
        SqlxError::Database(db) => db.code().is_some_and(|code| transient_sqlstate(&code)),
        _ => false,
    }
}

/// SQLSTATEs (Postgres) and result codes (SQLite) that mean "try again".
fn transient_sqlstate(code: &str) -> bool {
    // 08xxx connection exception; 57P01..57P03 the server is shutting down,
    // crashed or still starting; 53300 too many connections; 40001 and
    // 40P01 serialisation failure and deadlock (the transaction rolled back).
    code.starts_with("08")
        || code.starts_with("57P")
        || matches!(code, "53300" | "40001" | "40P01")
        // SQLite: SQLITE_BUSY and SQLITE_LOCKED, and their extended codes.
        || matches!(code, "5" | "6" | "261" | "262" | "517")
}

#[cfg(test)]
mod tests {
    use super::transient_sqlstate;

    #[test]
    fn restarts_and_lost_connections_are_transient() {
        for code in ["08006", "08003", "57P01", "57P03", "53300", "40001", "40P01", "5"] {
            assert!(transient_sqlstate(code), "{code}");
        }
        for code in ["23505", "23503", "42P01", "22P02", "19"] {
            assert!(!transient_sqlstate(code), "{code}");
        }
    }
}
