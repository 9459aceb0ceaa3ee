//! Many new rows of one table in one statement, whose text and plan do
//! not depend on how many rows there are.
//!
//! A multi-row `INSERT ... VALUES` binds every value of every row (2,000
//! parameters for 100 contacts) and is a new statement text for every row
//! count, so Postgres parses and plans it anew each time: the sync
//! benchmark's profile of a push had Postgres planning 19% of its time and
//! the server 25% of its own building and binding those statements. On
//! Postgres each column goes instead as one typed array, in binary, and
//! `UNNEST` turns them back into rows: one short statement per table and
//! set of nullable columns, prepared once per connection. (Rows as one JSON
//! parameter, `json_populate_recordset`, were tried first: Postgres 15's
//! JSON parser then took a quarter of its push time.)
//!
//! The array binding cannot carry NULL elements, so a column holding a
//! NULL in any row goes with a placeholder in those rows and a `bool[]` of
//! which rows are NULL. Columns a row leaves unset keep their defaults
//! (they are not in the column list).
//!
//! SQLite plans a statement in microseconds and has no arrays: it keeps
//! multi-row inserts, in chunks under its bind limit, as does Postgres for
//! a value of a kind not carried here.

use chrono::DateTime;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbBackend, DbErr, EntityName, EntityTrait, IdenStatic,
    Iterable, QueryTrait, Statement, Value, sea_query::ArrayType,
};
use uuid::Uuid;

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
/// hold a value of a kind not carried in arrays, or set other columns
/// than the first row).
pub fn statements<A>(backend: DbBackend, rows: Vec<A>) -> Vec<Statement>
where
    A: ActiveModelTrait + Clone + Send,
{
    if rows.is_empty() {
        return Vec::new();
    }
    if backend == DbBackend::Postgres
        && let Some(statement) = as_arrays(&rows)
    {
        return vec![statement];
    }
    rows.chunks(CHUNK)
        .map(|chunk| <A::Entity as EntityTrait>::insert_many(chunk.to_vec()).build(backend))
        .collect()
}

/// `INSERT INTO t (cols) SELECT ... FROM UNNEST($1::type[], ...)`, or
/// `None` when the rows cannot all go that way.
fn as_arrays<A: ActiveModelTrait>(rows: &[A]) -> Option<Statement> {
    let all: Vec<<A::Entity as EntityTrait>::Column> =
        <A::Entity as EntityTrait>::Column::iter().collect();
    let mut columns: Vec<(&str, Vec<Value>)> = Vec::new();
    for column in &all {
        let values: Vec<Option<Value>> = rows.iter().map(|r| r.get(*column).into_value()).collect();
        match (values.iter().all(Option::is_some), values.iter().all(Option::is_none)) {
            (true, _) => columns.push((column.as_str(), values.into_iter().flatten().collect())),
            (_, true) => {}
            // Another set of columns than the first row's.
            _ => return None,
        }
    }
    let mut arrays = Vec::with_capacity(columns.len() * 2);
    let mut select = Vec::with_capacity(columns.len());
    for (_, values) in columns.iter_mut() {
        let column = ColumnArray::of(std::mem::take(values))?;
        select.push(column.select(arrays.len() + 1));
        column.push_into(&mut arrays);
    }
    let entity = <A::Entity as Default>::default();
    let table = match entity.schema_name() {
        Some(schema) => format!("{}.{}", quoted(schema), quoted(entity.table_name())),
        None => quoted(entity.table_name()),
    };
    let list = columns.iter().map(|(name, _)| quoted(name)).collect::<Vec<_>>().join(", ");
    let (params, names) = unnest_parameters(&arrays, 1);
    let sql = format!(
        "INSERT INTO {table} ({list}) SELECT {} FROM UNNEST({params}) AS r({names})",
        select.join(", ")
    );
    Some(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        arrays.into_iter().map(|(array, _)| array),
    ))
}

/// One column's values as `UNNEST` takes them: a typed array, and when
/// any is NULL, a `bool[]` of which.
pub struct ColumnArray {
    values: Value,
    sql_type: &'static str,
    nulls: Option<Value>,
}

impl ColumnArray {
    /// The array of `values` (all of one kind; `None` otherwise, or for a
    /// kind not carried in arrays).
    pub fn of(values: Vec<Value>) -> Option<Self> {
        let (array_type, sql_type, placeholder) = element(values.first()?)?;
        let kind = std::mem::discriminant(&values[0]);
        if values.iter().any(|v| std::mem::discriminant(v) != kind) {
            return None;
        }
        let nulls = values.iter().any(|v| !v.is_some()).then(|| {
            let flags = values.iter().map(|v| Value::Bool(Some(!v.is_some()))).collect();
            Value::Array(ArrayType::Bool, Some(Box::new(flags)))
        });
        let filled = values.into_iter().map(|v| if v.is_some() { v } else { placeholder.clone() });
        let values = Value::Array(array_type, Some(Box::new(filled.collect())));
        Some(Self { values, sql_type, nulls })
    }

    /// The select-list expression for the column whose values are the
    /// `UNNEST` output column `v{first}` (and its flags `v{first + 1}`).
    pub fn select(&self, first: usize) -> String {
        match self.nulls {
            Some(_) => format!("CASE WHEN v{} THEN NULL ELSE v{first} END", first + 1),
            None => format!("v{first}"),
        }
    }

    /// Appends its parameters (array, SQL element type) to `arrays`.
    pub fn push_into(self, arrays: &mut Vec<(Value, &'static str)>) {
        arrays.push((self.values, self.sql_type));
        if let Some(nulls) = self.nulls {
            arrays.push((nulls, "bool"));
        }
    }
}

/// `$1::uuid[], $2::text[], ...` for `arrays`, numbered from `first`, and
/// the `UNNEST` output names `v1, v2, ...`.
pub fn unnest_parameters(arrays: &[(Value, &'static str)], first: usize) -> (String, String) {
    let params = arrays
        .iter()
        .enumerate()
        .map(|(i, (_, sql_type))| format!("${}::{sql_type}[]", i + first))
        .collect::<Vec<_>>()
        .join(", ");
    let names = (1..=arrays.len()).map(|i| format!("v{i}")).collect::<Vec<_>>().join(", ");
    (params, names)
}

/// A column's array element type, its SQL name, and the placeholder for
/// a NULL; `None` for the kinds of value not carried in arrays.
fn element(value: &Value) -> Option<(ArrayType, &'static str, Value)> {
    Some(match value {
        Value::Bool(_) => (ArrayType::Bool, "bool", Value::Bool(Some(false))),
        Value::SmallInt(_) => (ArrayType::SmallInt, "int2", Value::SmallInt(Some(0))),
        Value::Int(_) => (ArrayType::Int, "int4", Value::Int(Some(0))),
        Value::BigInt(_) => (ArrayType::BigInt, "int8", Value::BigInt(Some(0))),
        Value::String(_) => (ArrayType::String, "text", Value::String(Some(String::new()))),
        Value::Uuid(_) => (ArrayType::Uuid, "uuid", Value::Uuid(Some(Uuid::nil()))),
        Value::ChronoDateTimeUtc(_) => (
            ArrayType::ChronoDateTimeUtc,
            "timestamptz",
            Value::ChronoDateTimeUtc(Some(DateTime::UNIX_EPOCH)),
        ),
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
        assert!(many[0].sql.contains("FROM UNNEST($1::uuid[]"), "{}", many[0].sql);
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
        assert!(!mixed[0].sql.contains("UNNEST"));
    }

    #[test]
    fn a_null_goes_as_a_placeholder_and_a_flag() {
        let with_null = |note: Option<&str>| outpost_entity::sync_change::ActiveModel {
            organisation_id: Set(Uuid::nil()),
            seq: Set(1),
            entity: Set("contact".into()),
            record_id: Set(Uuid::nil()),
            op: Set("upsert".into()),
            version: Set(1),
            visibility: Set("org".into()),
            site_id: Set(None),
            owner_user_id: Set(note.map(|_| Uuid::nil())),
            audience_user_id: Set(None),
            changed_at: Set(Utc.timestamp_opt(1_700_000_000, 0).unwrap()),
        };
        let statement =
            &statements(DbBackend::Postgres, vec![with_null(None), with_null(Some("x"))])[0];
        assert!(statement.sql.contains("CASE WHEN"), "{}", statement.sql);
        assert_eq!(
            statement.values.as_ref().map(|v| v.0.len()),
            Some(11 + 3),
            "a flag per column holding a NULL"
        );
    }
}
