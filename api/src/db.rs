//! Connecting to the database and bringing its schema up to date.

use std::time::Duration;

use outpost_migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr, RuntimeErr, SqlxError};

/// Connects to `url` (Postgres or SQLite). SQLite gets one connection, WAL
/// and a busy timeout, so the embedded default never fails on a locked file.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<DatabaseConnection> {
    let mut options = pool_options(url);
    if url.starts_with("sqlite:") {
        create_parent_dir(url)?;
        options.max_connections(1).map_sqlx_sqlite_opts(|opts| {
            sqlite_connection(opts).journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
        });
    } else {
        ensure_postgres_database(url).await?;
        // No JIT: it pays off for long analytical queries, never for a
        // sync server's index lookups, yet Postgres's cost estimates
        // (guesses, without statistics) tipped a pull page's lookups over
        // `jit_above_cost`, and compiling them took a third of Postgres's
        // time in the benchmark's full pull (docs/performance.md).
        options
            .max_connections(max_connections)
            .min_connections(1)
            .map_sqlx_postgres_opts(|opts| opts.options([("jit", "off")]));
    }
    Ok(Database::connect(options).await?)
}

/// Connections for reads outside a write. SQLite serialises everything on
/// its one connection, so 20 devices pulling at once queued behind each
/// other and behind every push; WAL lets readers work beside the writer,
/// so a file database gets a pool of read-only connections (one per core,
/// two to eight). An in-memory database is private to its connection, and
/// Postgres's pool serves both already: those read through `writer`.
pub async fn connect_reads(
    url: &str,
    writer: &DatabaseConnection,
) -> anyhow::Result<DatabaseConnection> {
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    if !url.starts_with("sqlite:") || in_memory {
        return Ok(writer.clone());
    }
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(2);
    let mut options = pool_options(url);
    options
        .max_connections(cores.clamp(2, 8) as u32)
        .min_connections(1)
        .map_sqlx_sqlite_opts(|opts| sqlite_connection(opts).read_only(true));
    Ok(Database::connect(options).await?)
}

/// What every pool of ours has: bounded waits, and no statement logging
/// (statements carry people's data).
fn pool_options(url: &str) -> ConnectOptions {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    options
}

/// What every SQLite connection has: a busy timeout, so the embedded
/// default never fails on a locked file, and foreign keys enforced.
fn sqlite_connection(
    opts: sea_orm::sqlx::sqlite::SqliteConnectOptions,
) -> sea_orm::sqlx::sqlite::SqliteConnectOptions {
    opts.busy_timeout(Duration::from_secs(10)).foreign_keys(true)
}

/// Creates the Postgres database `url` names when it does not exist yet
/// (a fresh server has only `postgres`), when the role may; otherwise says
/// exactly what to run.
async fn ensure_postgres_database(url: &str) -> anyhow::Result<()> {
    use sea_orm::sqlx::{
        Connection, Executor,
        postgres::{PgConnectOptions, PgConnection},
    };
    let target: PgConnectOptions = url.parse()?;
    let err = match PgConnection::connect_with(&target).await {
        Ok(conn) => {
            let _ = conn.close().await;
            return Ok(());
        }
        Err(err) => err,
    };
    let missing = matches!(&err, SqlxError::Database(db) if db.code().as_deref() == Some("3D000"));
    let Some(name) = target.get_database().filter(|_| missing).map(str::to_owned) else {
        return Err(err.into());
    };
    let maintenance = target.clone().database("postgres");
    let created = async {
        let mut conn = PgConnection::connect_with(&maintenance).await?;
        let create = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
        // A name we quoted ourselves, so the SQL is ours.
        conn.execute(sea_orm::sqlx::AssertSqlSafe(create)).await?;
        conn.close().await
    };
    match created.await {
        Ok(()) => {
            tracing::info!(database = %name, "created the database, which did not exist");
            Ok(())
        }
        // Another instance created it at the same moment.
        Err(SqlxError::Database(db)) if db.code().as_deref() == Some("42P04") => Ok(()),
        Err(create_err) => anyhow::bail!(
            "database \"{name}\" does not exist, and this role may not create it \
             ({create_err}). Create it once, as a role that may: \
             createdb -h {host} -p {port} -U <user> {name}  \
             (or: psql -h {host} -p {port} -U <user> -c 'CREATE DATABASE \"{name}\"')",
            host = target.get_host(),
            port = target.get_port(),
        ),
    }
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

/// Whether a failed transaction lost a race with a concurrent one and is
/// worth running again: a unique key taken meanwhile, a deadlock, a
/// serialisation failure, a busy SQLite file. Decided by SQLSTATE and
/// result code, never by the error's text.
pub fn is_lost_race(err: &DbErr) -> bool {
    sqlstate(err).is_some_and(|code| lost_race_sqlstate(&code))
}

/// SQLSTATEs (Postgres) and extended result codes (SQLite) of a lost race.
fn lost_race_sqlstate(code: &str) -> bool {
    // 23505 unique violation; 40001 and 40P01 serialisation failure and
    // deadlock. SQLite: 2067 and 1555 (a unique or primary key taken),
    // 5, 6, 261, 262 and 517 (busy or locked).
    matches!(code, "23505" | "40001" | "40P01")
        || matches!(code, "2067" | "1555" | "5" | "6" | "261" | "262" | "517")
}

/// The SQLSTATE (Postgres) or result code (SQLite) of a database error.
pub fn sqlstate(err: &DbErr) -> Option<String> {
    let (DbErr::Conn(runtime) | DbErr::Exec(runtime) | DbErr::Query(runtime)) = err else {
        return None;
    };
    let RuntimeErr::SqlxError(sqlx) = runtime else { return None };
    match sqlx.as_ref() {
        SqlxError::Database(db) => db.code().map(|c| c.into_owned()),
        _ => None,
    }
}

/// What a unique key means to a client when a request finds it taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UniqueKey {
    /// The constraint or index name on Postgres.
    pub postgres: &'static str,
    /// The columns SQLite names in its message (`table.column, ...`).
    pub sqlite: &'static str,
    /// The problem code a client branches on.
    pub code: &'static str,
    /// The request field at fault.
    pub field: Option<&'static str>,
    /// For people.
    pub detail: &'static str,
}

/// An email is a sign-in name across the whole service. The answer is the
/// same whichever organisation holds the address, and names neither.
pub const EMAIL_TAKEN: UniqueKey = UniqueKey {
    postgres: "users_email_key",
    sqlite: "users.email",
    code: "email_taken",
    field: Some("email"),
    detail: "that email cannot be used for a new account: it is already a sign-in name",
};

/// Every unique key a request can run into, by meaning. A check before an
/// insert reads the same facts, but two concurrent requests can both pass
/// it; the database then decides, and this table turns its answer into the
/// same 409 the check would have given.
pub const UNIQUE_KEYS: &[UniqueKey] = &[
    EMAIL_TAKEN,
    UniqueKey {
        postgres: "substance_names_pkey",
        sqlite: "substance_names.organisation_id, substance_names.name_key",
        code: "alias_taken",
        field: Some("aliases"),
        detail: "a name of this substance already names another substance",
    },
    UniqueKey {
        postgres: "uq_substances_code",
        sqlite: "substances.organisation_id, substances.code",
        code: "code_taken",
        field: Some("code"),
        detail: "that code is already in use in this organisation",
    },
    UniqueKey {
        postgres: "uq_kit_items_code",
        sqlite: "kit_items.organisation_id, kit_items.code",
        code: "code_taken",
        field: Some("code"),
        detail: "that code is already in use in this organisation",
    },
    UniqueKey {
        postgres: "organisations_slug_key",
        sqlite: "organisations.slug",
        code: "slug_taken",
        field: Some("slug"),
        detail: "that slug is already in use",
    },
];

/// The unique key of `UNIQUE_KEYS` a failed write ran into, when that is
/// why it failed. Any other key is not a client's doing (a change number
/// or a revision taken twice would be a bug of ours): it stays an error.
pub fn unique_key_taken(err: &DbErr) -> Option<UniqueKey> {
    let Some(sea_orm::SqlErr::UniqueConstraintViolation(message)) = err.sql_err() else {
        return None;
    };
    UNIQUE_KEYS
        .iter()
        .find(|k| {
            message.contains(&format!("\"{}\"", k.postgres))
                || message.trim_end().ends_with(k.sqlite)
        })
        .copied()
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
    fn unique_keys_deadlocks_and_busy_files_are_lost_races() {
        for code in ["23505", "40001", "40P01", "2067", "1555", "5", "517"] {
            assert!(super::lost_race_sqlstate(code), "{code}");
        }
        // Not null, foreign key and check violations are not races.
        for code in ["23502", "23503", "23514", "19", "787", "1299"] {
            assert!(!super::lost_race_sqlstate(code), "{code}");
        }
    }

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
