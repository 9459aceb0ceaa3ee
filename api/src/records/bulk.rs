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

use chrono::{DateTime, NaiveDate};
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
    let (names, values): (Vec<&str>, Vec<Vec<Value>>) = columns.into_iter().unzip();
    let unnest = Unnest::of(values, 1)?;
    let entity = <A::Entity as Default>::default();
    let table = match entity.schema_name() {
        Some(schema) => format!("{}.{}", quoted(schema), quoted(entity.table_name())),
        None => quoted(entity.table_name()),
    };
    let list = names.iter().map(|name| quoted(name)).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "INSERT INTO {table} ({list}) SELECT {} FROM {} AS r({})",
        unnest.select, unnest.call, unnest.names
    );
    Some(Statement::from_sql_and_values(DbBackend::Postgres, sql, unnest.values))
}

/// Columns of values as `UNNEST` takes them: each a typed array bound in
/// binary, with a `bool[]` of which rows are NULL for a column that holds
/// any (the array binding cannot carry NULL elements: sea-query-sqlx turns
/// each array into a `Vec<T>` and panics on a NULL, so every element bound
/// here is a value of its array's kind).
pub struct Unnest {
    /// `UNNEST($first::uuid[], ...)`.
    pub call: String,
    /// Its output columns' names, `v1, v2, ...`.
    pub names: String,
    /// One expression per column, NULL where flagged.
    pub select: String,
    /// The parameters, in order from `$first`.
    pub values: Vec<Value>,
}

impl Unnest {
    /// The columns' arrays, bound from `$first`; `None` when a column's
    /// values are not all of one kind, or of a kind not carried here.
    pub fn of(columns: Vec<Vec<Value>>, first: usize) -> Option<Self> {
        let (mut params, mut select, mut values) = (Vec::new(), Vec::new(), Vec::new());
        for column in columns {
            let (array_type, sql_type, placeholder) = element(column.first()?)?;
            let kind = std::mem::discriminant(&column[0]);
            if column.iter().any(|v| std::mem::discriminant(v) != kind) {
                return None;
            }
            // Flags only for a column that holds a NULL.
            let nulls: Option<Vec<Value>> = column
                .iter()
                .any(|v| !v.is_some())
                .then(|| column.iter().map(|v| Value::Bool(Some(!v.is_some()))).collect());
            let filled =
                column.into_iter().map(|v| if v.is_some() { v } else { placeholder.clone() });
            values.push(Value::Array(array_type, Some(Box::new(filled.collect()))));
            params.push(format!("${}::{sql_type}[]", first + params.len()));
            let value = format!("v{}", values.len());
            if let Some(nulls) = nulls {
                values.push(Value::Array(ArrayType::Bool, Some(Box::new(nulls))));
                params.push(format!("${}::bool[]", first + params.len()));
                select.push(format!("CASE WHEN v{} THEN NULL ELSE {value} END", values.len()));
            } else {
                select.push(value);
            }
        }
        let names = (1..=values.len()).map(|i| format!("v{i}")).collect::<Vec<_>>().join(", ");
        Some(Self {
            call: format!("UNNEST({})", params.join(", ")),
            names,
            select: select.join(", "),
            values,
        })
    }
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
        Value::ChronoDate(_) => {
            (ArrayType::ChronoDate, "date", Value::ChronoDate(Some(NaiveDate::default())))
        }
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
            naloxone: Set(None),
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

    fn change(owner: Option<Uuid>) -> outpost_entity::sync_change::ActiveModel {
        outpost_entity::sync_change::ActiveModel {
            organisation_id: Set(Uuid::nil()),
            seq: Set(1),
            entity: Set("contact".into()),
            record_id: Set(Uuid::nil()),
            op: Set("upsert".into()),
            version: Set(1),
            visibility: Set("org".into()),
            site_id: Set(None),
            owner_user_id: Set(owner),
            audience_user_id: Set(None),
            changed_at: Set(Utc.timestamp_opt(1_700_000_000, 0).unwrap()),
        }
    }

    /// What keeps sea-query-sqlx's array binding from panicking: every
    /// element bound is a value (never NULL) of its array's kind.
    fn assert_bindable(statement: &Statement) {
        for value in &statement.values.as_ref().unwrap().0 {
            let Value::Array(array_type, Some(elements)) = value else {
                panic!("not an array: {value:?}")
            };
            for element in elements.iter() {
                assert!(element.is_some(), "a NULL element in {array_type:?}");
                assert_eq!(&element.array_type(), array_type, "{element:?}");
            }
        }
    }

    #[test]
    fn a_null_goes_as_a_placeholder_and_a_flag() {
        let rows = vec![change(None), change(Some(Uuid::nil()))];
        let statement = &statements(DbBackend::Postgres, rows)[0];
        assert!(statement.sql.contains("CASE WHEN"), "{}", statement.sql);
        // site_id and audience_user_id (all NULL) and owner_user_id
        // (one NULL) each have their flags.
        assert_eq!(statement.values.as_ref().map(|v| v.0.len()), Some(11 + 3));
        assert_bindable(statement);
    }

    #[test]
    fn a_date_goes_through_unnest_too() {
        let person = outpost_entity::person::ActiveModel {
            birth_date: Set(Some(chrono::NaiveDate::from_ymd_opt(1990, 2, 3).unwrap())),
            ..Default::default()
        };
        // Only the columns set are inserted; a date is carried too.
        let statement = &statements(DbBackend::Postgres, vec![person.clone(), person])[0];
        assert!(statement.sql.contains("$1::date[]"), "{}", statement.sql);
        assert_bindable(statement);
        let lines = statements(DbBackend::Postgres, (0..3).map(line).collect());
        assert_bindable(&lines[0]);
    }
}
