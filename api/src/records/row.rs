//! A record's checked fields to and from its row, by column name: a field
//! is the column of the same name, so a new field needs no mapping code.
//! A field without its column, or a value its column cannot hold, is an
//! error here (never a field silently not written); the drift test and the
//! record unit tests keep names and columns together.

use crate::caller::Actor;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ColumnType, DbErr, EntityTrait, ModelTrait, Value as Db,
};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::fields::FieldSpec;

/// The column of `E` called `name`.
pub fn column<E: EntityTrait>(name: &str) -> Result<E::Column, DbErr> {
    E::Column::from_str(name)
        .map_err(|_| DbErr::Custom(format!("{} has no column `{name}`", E::default().table_name())))
}

/// Sets the column `name` of a row.
pub fn set<A: ActiveModelTrait>(active: &mut A, name: &str, value: Db) -> Result<(), DbErr> {
    active.try_set(column::<A::Entity>(name)?, value)
}

/// Writes canonical `fields` (checked against `specs`) onto a row; the
/// fields kept in tables of their own are the kind's to write.
pub fn set_fields<A: ActiveModelTrait>(
    active: &mut A,
    specs: &[FieldSpec],
    fields: &Map<String, Value>,
) -> Result<(), DbErr> {
    for (name, value) in fields {
        let spec = spec_of(specs, name)?;
        if spec.own_table {
            continue;
        }
        let col = column::<A::Entity>(name)?;
        let db = to_db(col.def().get_column_type(), spec, value)
            .ok_or_else(|| DbErr::Custom(format!("`{name}` does not fit its column: {value}")))?;
        active.try_set(col, db)?;
    }
    Ok(())
}

/// A new row recorded by `actor` (a contact, an incident, a referral):
/// the server-owned columns (`id`, `organisation_id`, `version` 1,
/// `recorded_by`, `device_id`, `created_at`, `updated_at`, no
/// `deleted_at`), then `fields`.
pub fn recorded<A: ActiveModelTrait>(
    id: Uuid,
    actor: &Actor,
    now: DateTime<Utc>,
    specs: &[FieldSpec],
    fields: &Map<String, Value>,
) -> Result<A, DbErr> {
    let mut row = <A as ActiveModelTrait>::default();
    set(&mut row, "id", Db::Uuid(Some(id)))?;
    set(&mut row, "organisation_id", Db::Uuid(Some(actor.organisation_id)))?;
    set(&mut row, "version", Db::BigInt(Some(1)))?;
    set(&mut row, "recorded_by", Db::Uuid(actor.user_id))?;
    set(&mut row, "device_id", Db::Uuid(actor.device_id))?;
    set(&mut row, "created_at", Db::ChronoDateTimeUtc(Some(now)))?;
    set(&mut row, "updated_at", Db::ChronoDateTimeUtc(Some(now)))?;
    set(&mut row, "deleted_at", Db::ChronoDateTimeUtc(None))?;
    set_fields(&mut row, specs, fields)?;
    Ok(row)
}

/// The canonical fields of a stored row, as `specs` name them.
pub fn fields_of<M: ModelTrait>(
    model: &M,
    specs: &[FieldSpec],
) -> Result<Map<String, Value>, DbErr> {
    let mut out = Map::new();
    for spec in specs.iter().filter(|s| !s.own_table) {
        let value = model.get(column::<M::Entity>(spec.name)?);
        let json = to_json(spec, value).ok_or_else(|| {
            DbErr::Custom(format!("`{}` has a column type not mapped", spec.name))
        })?;
        out.insert(spec.name.to_owned(), json);
    }
    Ok(out)
}

/// A field's column value: the UUID in `name`, if set.
pub fn uuid_of<M: ModelTrait>(model: &M, name: &str) -> Result<Option<Uuid>, DbErr> {
    Ok(match model.get(column::<M::Entity>(name)?) {
        Db::Uuid(id) => id,
        _ => None,
    })
}

/// A field's column value: the integer in `name` (0 when not one).
pub fn int_of<M: ModelTrait>(model: &M, name: &str) -> Result<i64, DbErr> {
    Ok(match model.get(column::<M::Entity>(name)?) {
        Db::BigInt(v) => v.unwrap_or_default(),
        Db::Int(v) => v.map(i64::from).unwrap_or_default(),
        Db::SmallInt(v) => v.map(i64::from).unwrap_or_default(),
        _ => 0,
    })
}

/// Whether the timestamp column `name` is set (a tombstone's `deleted_at`).
pub fn is_set<M: ModelTrait>(model: &M, name: &str) -> Result<bool, DbErr> {
    Ok(!matches!(model.get(column::<M::Entity>(name)?), Db::ChronoDateTimeUtc(None)))
}

fn spec_of<'s>(specs: &'s [FieldSpec], name: &str) -> Result<&'s FieldSpec, DbErr> {
    specs
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| DbErr::Custom(format!("`{name}` is not a field of this record")))
}

/// A canonical JSON value as the column type holds it. `None` when it
/// does not fit.
fn to_db(column: &ColumnType, spec: &FieldSpec, value: &Value) -> Option<Db> {
    let null = value.is_null();
    Some(match column {
        ColumnType::String(_) | ColumnType::Text | ColumnType::Char(_) => Db::String(match value {
            Value::Null => None,
            Value::String(s) if !spec.json => Some(s.clone()),
            v if spec.json => Some(v.to_string()),
            _ => return None,
        }),
        ColumnType::Boolean => Db::Bool(if null { None } else { Some(value.as_bool()?) }),
        ColumnType::SmallInteger => {
            Db::SmallInt(if null { None } else { Some(i16::try_from(value.as_i64()?).ok()?) })
        }
        ColumnType::Integer => {
            Db::Int(if null { None } else { Some(i32::try_from(value.as_i64()?).ok()?) })
        }
        ColumnType::BigInteger => Db::BigInt(if null { None } else { Some(value.as_i64()?) }),
        ColumnType::Uuid => {
            Db::Uuid(if null { None } else { Some(Uuid::parse_str(value.as_str()?).ok()?) })
        }
        ColumnType::Date => Db::ChronoDate(if null {
            None
        } else {
            Some(NaiveDate::parse_from_str(value.as_str()?, "%Y-%m-%d").ok()?)
        }),
        ColumnType::TimestampWithTimeZone => Db::ChronoDateTimeUtc(if null {
            None
        } else {
            Some(DateTime::parse_from_rfc3339(value.as_str()?).ok()?.with_timezone(&Utc))
        }),
        _ => return None,
    })
}

/// A column value as canonical JSON (what `fields::normalise` produces).
fn to_json(spec: &FieldSpec, value: Db) -> Option<Value> {
    Some(match value {
        Db::String(Some(s)) if spec.json => serde_json::from_str(&s).ok()?,
        Db::String(s) => s.map(Value::String).unwrap_or(Value::Null),
        Db::Bool(b) => b.map(Value::Bool).unwrap_or(Value::Null),
        Db::SmallInt(n) => n.map(Value::from).unwrap_or(Value::Null),
        Db::Int(n) => n.map(Value::from).unwrap_or(Value::Null),
        Db::BigInt(n) => n.map(Value::from).unwrap_or(Value::Null),
        Db::Uuid(u) => u.map(|u| Value::String(u.to_string())).unwrap_or(Value::Null),
        Db::ChronoDate(d) => {
            d.map(|d| Value::String(d.format("%Y-%m-%d").to_string())).unwrap_or(Value::Null)
        }
        Db::ChronoDateTimeUtc(t) => t
            .map(|t| Value::String(t.to_rfc3339_opts(SecondsFormat::Micros, true)))
            .unwrap_or(Value::Null),
        _ => return None,
    })
}
