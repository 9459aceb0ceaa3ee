//! Validation of the free-form `fields` object a mutation carries, against a
//! table of field specs per record type. Every failure names its field, so a
//! device can show the worker what to fix.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use poem_openapi::types::ParseFromJSON;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::context::BatchContext;
pub use super::rejection::{Rejection, RejectionCode};

/// A validator for one field's value, given the batch (for references to
/// sites, people, kit items and the like). Returns the canonical value.
pub type Check = fn(&str, &Value, &BatchContext) -> Result<Value, Rejection>;

/// One writable field of a record type: its name is also its column's.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    /// Its name on the wire, in the record and of its column.
    pub name: &'static str,
    /// Whether `null` is accepted (it clears the field).
    pub nullable: bool,
    /// Whether a create must carry it.
    pub required: bool,
    /// The value check.
    pub check: Check,
    /// Whether its column holds the value as JSON text (lists, objects).
    pub json: bool,
    /// The canonical value (as JSON text) a new record takes when its
    /// create leaves the field out; `null` when there is none.
    pub default: Option<&'static str>,
    /// Whether only callers who see identifiers may read or write it (an
    /// NHS number, a CHAIN id: `records::access`).
    pub restricted: bool,
    /// Whether it is set by the create and never changed by an update (a
    /// referral's person).
    pub fixed: bool,
    /// Whether it is kept in a table of its own (a contact's kit lines)
    /// rather than in the column of its name.
    pub own_table: bool,
}

impl FieldSpec {
    /// A field a create must carry, never `null`.
    pub const fn required(name: &'static str, check: Check) -> Self {
        Self { required: true, ..Self::optional(name, check) }
    }

    /// A field a create may leave out.
    pub const fn optional(name: &'static str, check: Check) -> Self {
        Self {
            name,
            nullable: false,
            required: false,
            check,
            json: false,
            default: None,
            restricted: false,
            fixed: false,
            own_table: false,
        }
    }

    /// Accepts `null`, which clears it.
    pub const fn nullable(self) -> Self {
        Self { nullable: true, ..self }
    }

    /// Stored as JSON text.
    pub const fn json(self) -> Self {
        Self { json: true, ..self }
    }

    /// Read and written only by callers who see identifiers.
    pub const fn restricted(self) -> Self {
        Self { restricted: true, ..self }
    }

    /// Kept in a table of its own, written by the kind's `create`.
    pub const fn own_table(self) -> Self {
        Self { own_table: true, ..self }
    }

    /// Set by the create only.
    pub const fn fixed(self) -> Self {
        Self { fixed: true, ..self }
    }

    /// Takes `default` (JSON text) when a create leaves it out.
    pub const fn or(self, default: &'static str) -> Self {
        Self { default: Some(default), ..self }
    }

    /// The value a new record takes without it.
    pub fn default_value(&self) -> Value {
        self.default.and_then(|d| serde_json::from_str(d).ok()).unwrap_or(Value::Null)
    }
}

/// The fields a new record starts with: every spec's default, then
/// `fields` (checked) over them.
pub fn with_defaults(specs: &[FieldSpec], fields: Map<String, Value>) -> Map<String, Value> {
    let mut all: Map<String, Value> =
        specs.iter().map(|s| (s.name.to_owned(), s.default_value())).collect();
    all.extend(fields);
    all
}

/// Validates `fields` against `specs`: unknown fields, missing required
/// ones (on create) and bad values are refused. Returns the canonical map.
pub fn normalise(
    specs: &[FieldSpec],
    fields: &Map<String, Value>,
    creating: bool,
    ctx: &BatchContext,
) -> Result<Map<String, Value>, Rejection> {
    for name in fields.keys() {
        if !specs.iter().any(|s| s.name == name) {
            return Err(Rejection::new(
                RejectionCode::UnknownField,
                Some(name),
                format!("`{name}` is not a writable field of this record"),
            ));
        }
    }
    let mut out = Map::new();
    for spec in specs {
        match fields.get(spec.name) {
            None if creating && spec.required => {
                return Err(Rejection::invalid(spec.name, "is required"));
            }
            None => {}
            Some(Value::Null) if spec.nullable => {
                out.insert(spec.name.to_owned(), Value::Null);
            }
            Some(Value::Null) if !spec.required && creating => {}
            Some(Value::Null) => return Err(Rejection::invalid(spec.name, "must not be null")),
            Some(value) => match (spec.check)(spec.name, value, ctx)? {
                // A text that trims to nothing is null: refused where null is.
                Value::Null if !spec.nullable => {
                    return Err(Rejection::invalid(spec.name, "must not be empty"));
                }
                checked => {
                    out.insert(spec.name.to_owned(), checked);
                }
            },
        }
    }
    Ok(out)
}

/// Text by the one rule (`crate::text::clean`): a trimmed string of at
/// most `max` characters, newlines and tabs allowed. An empty string
/// counts as null.
pub fn text(field: &str, value: &Value, max: usize) -> Result<Value, Rejection> {
    let Some(s) = value.as_str() else {
        return Err(Rejection::invalid(field, "must be a string"));
    };
    let s =
        crate::text::clean(s, max, true).map_err(|e| Rejection::invalid(field, e.to_string()))?;
    Ok(if s.is_empty() { Value::Null } else { Value::String(s.to_owned()) })
}

/// A field type that knows its own check, so a declaration can leave the
/// check out (`declare_fields!`).
pub trait FieldValue {
    /// Checks and canonicalises a value of this type.
    fn check(field: &str, value: &Value, ctx: &BatchContext) -> Result<Value, Rejection>;
}

impl<const MAX: usize> FieldValue for crate::text::Text<MAX> {
    fn check(field: &str, value: &Value, _: &BatchContext) -> Result<Value, Rejection> {
        text(field, value, MAX)
    }
}

impl FieldValue for bool {
    fn check(field: &str, value: &Value, _: &BatchContext) -> Result<Value, Rejection> {
        boolean(field, value)
    }
}

/// One of an enum's snake_case codes.
pub fn code<T: ParseFromJSON>(field: &str, value: &Value) -> Result<Value, Rejection> {
    match T::parse_from_json(Some(value.clone())) {
        Ok(_) => Ok(value.clone()),
        Err(_) => Err(Rejection::invalid(
            field,
            format!("{value} is not one of the allowed values (see the schema)"),
        )),
    }
}

/// An integer within `min..=max`.
pub fn int(field: &str, value: &Value, min: i64, max: i64) -> Result<Value, Rejection> {
    match value.as_i64() {
        Some(n) if (min..=max).contains(&n) => Ok(Value::from(n)),
        Some(_) => Err(Rejection::invalid(field, format!("must be between {min} and {max}"))),
        None => Err(Rejection::invalid(field, "must be a whole number")),
    }
}

/// `true` or `false`.
pub fn boolean(field: &str, value: &Value) -> Result<Value, Rejection> {
    if value.is_boolean() {
        Ok(value.clone())
    } else {
        Err(Rejection::invalid(field, "must be true or false"))
    }
}

/// A UUID.
pub fn uuid(field: &str, value: &Value) -> Result<Uuid, Rejection> {
    value
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| Rejection::invalid(field, "must be a UUID"))
}

/// The years any date or time a record holds may fall in. Chrono reads
/// years 0, -5000 and +200000, which a client's `format: date` parser
/// does not; nothing in outreach work is dated outside these.
pub const YEARS: std::ops::RangeInclusive<i32> = 1900..=2200;

/// A calendar date, `YYYY-MM-DD`, in `YEARS`.
pub fn date(field: &str, value: &Value) -> Result<NaiveDate, Rejection> {
    let date = value
        .as_str()
        .filter(|s| s.len() == 10)
        .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .ok_or_else(|| Rejection::invalid(field, "must be a date, YYYY-MM-DD"))?;
    if !YEARS.contains(&date.year()) {
        return Err(Rejection::invalid(field, "must be a date between 1900 and 2200"));
    }
    Ok(date)
}

/// An RFC 3339 timestamp in `YEARS`, normalised to UTC.
pub fn timestamp(field: &str, value: &Value) -> Result<DateTime<Utc>, Rejection> {
    let at = value
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| Rejection::invalid(field, "must be an RFC 3339 timestamp"))?;
    if !YEARS.contains(&at.year()) {
        return Err(Rejection::invalid(field, "must be a time between 1900 and 2200"));
    }
    Ok(at)
}

/// Whether a time falls in `YEARS` (for an API key's expiry, which
/// reaches the server outside a record).
pub fn in_years(at: &DateTime<Utc>) -> bool {
    YEARS.contains(&at.year())
}

/// `at` moved into `YEARS`: no earlier than the first instant of the first
/// year, no later than the first instant after the last. No record holds a
/// time outside them, so a list filter moved there selects exactly what it
/// did, and the database never compares a year such as -5000 (Postgres
/// cannot).
pub fn within_years(at: DateTime<Utc>) -> DateTime<Utc> {
    let start_of = |year: i32| {
        NaiveDate::from_ymd_opt(year, 1, 1)
            .and_then(|day| day.and_hms_opt(0, 0, 0))
            .expect("1 January of a year in range")
            .and_utc()
    };
    at.clamp(start_of(*YEARS.start()), start_of(*YEARS.end() + 1))
}

/// Whether `id` is a UUID v7, as the ids of new records must be: they are
/// generated on the device and ordered by their time, so lists that are
/// "oldest first" by id are in creation order. Nil, max, v1 and v4 ids
/// are refused.
pub fn is_uuid_v7(id: Uuid) -> bool {
    id.get_version_num() == 7 && id.get_variant() == uuid::Variant::RFC4122
}

/// A JSON array of at most `max` items.
pub fn array<'v>(field: &str, value: &'v Value, max: usize) -> Result<&'v Vec<Value>, Rejection> {
    match value.as_array() {
        Some(items) if items.len() <= max => Ok(items),
        Some(_) => Err(Rejection::invalid(field, format!("must have at most {max} items"))),
        None => Err(Rejection::invalid(field, "must be an array")),
    }
}

/// A JSON object.
pub fn object<'v>(field: &str, value: &'v Value) -> Result<&'v Map<String, Value>, Rejection> {
    value.as_object().ok_or_else(|| Rejection::invalid(field, "must be an object"))
}

/// Fails when `item` has keys other than `allowed`.
pub fn only_keys(
    field: &str,
    item: &Map<String, Value>,
    allowed: &[&str],
) -> Result<(), Rejection> {
    match item.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(Rejection::invalid(&format!("{field}.{key}"), "is not a known field")),
        None => Ok(()),
    }
}

/// Reads a canonical UUID back.
pub fn uuid_of(map: &Map<String, Value>, name: &str) -> Option<Uuid> {
    map.get(name).and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok())
}
