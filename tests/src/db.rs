//! Raw SQL on a test app's database, for set-ups and checks behind the API
//! (breaking a rule on purpose, counting rows). Each helper runs on either
//! backend and panics with the SQL when it fails.

use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, Value};

use crate::TestApp;

/// `sql` written with `?` placeholders, as `backend` takes it: unchanged on
/// SQLite, numbered `$1`, `$2`, … on Postgres. Every `?` is a placeholder,
/// even inside a quoted literal.
pub fn placeholders(backend: DbBackend, sql: &str) -> String {
    if backend != DbBackend::Postgres {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len());
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// Runs a statement written with `?` placeholders (see [`placeholders`])
/// with `values` bound in order.
pub async fn exec(app: &TestApp, sql: &str, values: Vec<Value>) {
    let backend = app.state.db.get_database_backend();
    let sql = placeholders(backend, sql);
    app.state
        .db
        .execute_raw(Statement::from_sql_and_values(backend, &sql, values))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Runs a query written with `?` placeholders (see [`placeholders`]) with
/// `values` bound in order, and answers its rows.
pub async fn query(app: &TestApp, sql: &str, values: Vec<Value>) -> Vec<QueryResult> {
    let backend = app.state.db.get_database_backend();
    let sql = placeholders(backend, sql);
    app.state
        .db
        .query_all_raw(Statement::from_sql_and_values(backend, &sql, values))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// How many rows `table` holds. `table` is put into the SQL as it is: pass
/// a table name, never input.
pub async fn count(app: &TestApp, table: &str) -> i64 {
    let row = app
        .state
        .db
        .query_one_raw(Statement::from_string(
            app.state.db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

#[cfg(test)]
mod tests {
    use sea_orm::DbBackend;

    use super::placeholders;

    #[test]
    fn placeholders_are_numbered_on_postgres_only() {
        let sql = "UPDATE persons SET alias = ? WHERE id = ? AND version = ?";
        assert_eq!(placeholders(DbBackend::Sqlite, sql), sql);
        assert_eq!(
            placeholders(DbBackend::Postgres, sql),
            "UPDATE persons SET alias = $1 WHERE id = $2 AND version = $3"
        );
        assert_eq!(placeholders(DbBackend::Postgres, "SELECT 1"), "SELECT 1");
    }
}
