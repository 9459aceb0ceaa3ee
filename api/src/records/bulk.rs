//! Many new rows of one table in one statement, whose text and plan do
//! not depend on how many rows there are.
//!
//! A multi-row `INSERT ... VALUES` binds every value of every row (2,000
//! parameters for 100 contacts) and is a new statement text for every row
//! count, so Postgres parses and plans it anew each time: the sync
//! benchmark's profile of a push had Postgres planning 19% of its time and
//! the server 25% of its own building and binding those statements. On
//! Postgres the rows go instead as one JSON parameter that
//! `json_populate_recordset` turns into rows of the table's own type: one
//! short statement per table, prepared once per connection, and each value
//! read by its column's type. Columns a row leaves unset keep their
//! defaults (they are not in the column list).
//!
//! SQLite plans a statement in microseconds and has no such function: it
//! keeps multi-row inserts, in chunks under its bind limit.

use chrono::SecondsFormat;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbBackend, DbErr, EntityName, EntityTrait, IdenStatic,
    Iterable, QueryTrait, Statement, Value,
};
use serde_json::{Map, Value as Json};

/// Rows per multi-row insert: under the bind-parameter limits of SQLite
/// (32,766) and Postgres (65,535) for every table's width.
const CHUNK: usize = 400;

/// Inserts `rows` (all of one table) without reading anything back.
pub async fn insert<C, A>(db: &C, rows: Vec<A>) -> Result<(), DbErr>
where
    C: ConnectionTrait,
    A: ActiveModelTrait + Clone + Send,
{
    for statement in statements(db.get_database_backend(), rows) {
        db.execute_raw(statement).await?;
    }
    Ok(())
}

/// The statements that insert `rows` on `backend`: one on Postgres,
/// multi-row inserts in chunks otherwise (and on Postgres, should a row
/// hold a value JSON cannot carry exactly, or set other columns than the
/// first row).
pub fn statements<A>(backend: DbBackend, rows: Vec<A>) -> Vec<Statement>
where
    A: ActiveModelTrait + Clone + Send,
{
    if rows.is_empty() {
        return Vec::new();
    }
    if backend == DbBackend::Postgres
        && let Some(statement) = as_recordset(&rows)
    {
        return vec![statement];
    }
    rows.chunks(CHUNK)
        .map(|chunk| <A::Entity as EntityTrait>::insert_many(chunk.to_vec()).build(backend))
        .collect()
}

/// `INSERT INTO t (cols) SELECT cols FROM json_populate_recordset(NULL::t, $1)`,
/// or `None` when the rows cannot all go that way.
fn as_recordset<A: ActiveModelTrait>(rows: &[A]) -> Option<Statement> {
    let all: Vec<<A::Entity as EntityTrait>::Column> =
        <A::Entity as EntityTrait>::Column::iter().collect();
    let included: Vec<bool> = all.iter().map(|c| !rows[0].get(*c).is_not_set()).collect();
    let columns: Vec<&str> =
        all.iter().zip(&included).filter(|(_, set)| **set).map(|(c, _)| c.as_str()).collect();
    let mut records = Vec::with_capacity(rows.len());
    for row in rows {
        let mut record = Map::with_capacity(columns.len());
        for (column, set) in all.iter().zip(&included) {
            match (set, row.get(*column).into_value()) {
                (true, Some(value)) => {
                    record.insert(column.as_str().to_owned(), to_json(value)?);
                }
                (false, None) => {}
                // Another set of columns than the first row's.
                _ => return None,
            }
        }
        records.push(Json::Object(record));
    }
    let entity = <A::Entity as Default>::default();
    let table = match entity.schema_name() {
        Some(schema) => format!("{}.{}", quoted(schema), quoted(entity.table_name())),
        None => quoted(entity.table_name()),
    };
    let list = columns.iter().map(|c| quoted(c)).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "INSERT INTO {table} ({list}) SELECT {list} FROM json_populate_recordset(NULL::{table}, $1::json)"
    );
    let rows = Json::Array(records).to_string();
    Some(Statement::from_sql_and_values(DbBackend::Postgres, sql, [Value::from(rows)]))
}

/// A column value as JSON that its column's input function reads back
/// exactly; `None` for the kinds of value this does not carry.
fn to_json(value: Value) -> Option<Json> {
    Some(match value {
        Value::Bool(v) => v.map_or(Json::Null, Json::Bool),
        Value::TinyInt(v) => v.map_or(Json::Null, Json::from),
        Value::SmallInt(v) => v.map_or(Json::Null, Json::from),
        Value::Int(v) => v.map_or(Json::Null, Json::from),
        Value::BigInt(v) => v.map_or(Json::Null, Json::from),
        Value::TinyUnsigned(v) => v.map_or(Json::Null, Json::from),
        Value::SmallUnsigned(v) => v.map_or(Json::Null, Json::from),
        Value::Unsigned(v) => v.map_or(Json::Null, Json::from),
        Value::BigUnsigned(v) => v.map_or(Json::Null, Json::from),
        Value::String(v) => v.map_or(Json::Null, Json::String),
        Value::Uuid(v) => v.map_or(Json::Null, |u| Json::String(u.to_string())),
        // Microseconds, truncated: what Postgres stores, and what the
        // binary encoding of the same value would have sent.
        Value::ChronoDateTimeUtc(v) => {
            v.map_or(Json::Null, |t| Json::String(t.to_rfc3339_opts(SecondsFormat::Micros, true)))
        }
        Value::ChronoDateTimeWithTimeZone(v) => {
            v.map_or(Json::Null, |t| Json::String(t.to_rfc3339_opts(SecondsFormat::Micros, true)))
        }
        Value::ChronoDate(v) => v.map_or(Json::Null, |d| Json::String(d.to_string())),
        Value::Json(v) => v.map_or(Json::Null, |j| *j),
        // Floats (NaN has no JSON), bytes, times without a date, arrays:
        // not in any table written in bulk; the plain insert takes them.
        _ => return None,
    })
}

/// A double-quoted SQL identifier.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use outpost_entity::kit_line;
    use sea_orm::Set;
    use uuid::Uuid;

    fn line(position: i16) -> kit_line::ActiveModel {
        kit_line::ActiveModel {
            id: Set(Uuid::nil()),
            organisation_id: Set(Uuid::nil()),
            contact_id: Set(Uuid::nil()),
            position: Set(position),
            item_code: Set("needle_1ml".into()),
            quantity: Set(10),
            for_others: Set(0),
        }
    }

    #[test]
    fn postgres_gets_one_statement_whatever_the_count() {
        let one = statements(DbBackend::Postgres, vec![line(0)]);
        let many = statements(DbBackend::Postgres, (0..1000).map(line).collect());
        assert_eq!((one.len(), many.len()), (1, 1));
        assert_eq!(one[0].sql, many[0].sql, "one text, so one prepared statement");
        assert!(many[0].sql.contains("json_populate_recordset(NULL::\"kit_lines\""));
    }

    #[test]
    fn sqlite_keeps_multi_row_inserts_under_its_bind_limit() {
        let many = statements(DbBackend::Sqlite, (0..1000).map(line).collect());
        assert_eq!(many.len(), 3);
    }

    #[test]
    fn rows_setting_other_columns_fall_back_to_plain_inserts() {
        let mut partial = line(1);
        partial.for_others = sea_orm::ActiveValue::NotSet;
        let mixed = statements(DbBackend::Postgres, vec![line(0), partial]);
        assert!(!mixed[0].sql.contains("json_populate_recordset"));
    }

    #[test]
    fn timestamps_go_as_truncated_microseconds() {
        let t = Utc.timestamp_opt(1_700_000_000, 123_456_789).unwrap();
        assert_eq!(
            to_json(Value::ChronoDateTimeUtc(Some(t))),
            Some(Json::String("2023-11-14T22:13:20.123456Z".into()))
        );
        assert_eq!(to_json(Value::Double(Some(1.5))), None);
    }
}
