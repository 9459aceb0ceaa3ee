//! People: often pseudonymous, editable, merged field by field.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use outpost_entity::person;
use poem_openapi::Object;
use sea_orm::Set;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{access, context::Actor};
use super::{
    context::BatchContext,
    fields::{
        FieldSpec, Rejection, array, code, date, int, int_of, json_text, object, only_keys, str_of,
        text,
    },
    vocab::{DobQuality, Gender, NameQuality, RiskKind, RiskPriority},
};
use crate::{domain::parse_stored, sync::EntityKind};

/// The writable fields of a person.
pub const SPECS: &[FieldSpec] = &[
    FieldSpec { name: "alias", nullable: true, required: false, check: |f, v, _| text(f, v, 100) },
    FieldSpec { name: "initials", nullable: true, required: false, check: initials },
    FieldSpec {
        name: "name_quality",
        nullable: false,
        required: false,
        check: |f, v, _| code::<NameQuality>(f, v),
    },
    FieldSpec { name: "birth_year", nullable: true, required: false, check: birth_year },
    FieldSpec { name: "birth_date", nullable: true, required: false, check: birth_date },
    FieldSpec {
        name: "dob_quality",
        nullable: false,
        required: false,
        check: |f, v, _| code::<DobQuality>(f, v),
    },
    FieldSpec {
        name: "gender",
        nullable: true,
        required: false,
        check: |f, v, _| code::<Gender>(f, v),
    },
    FieldSpec {
        name: "description",
        nullable: true,
        required: false,
        check: |f, v, _| text(f, v, 500),
    },
    FieldSpec { name: "risk_flags", nullable: false, required: false, check: risk_flags },
    FieldSpec { name: "nhs_number", nullable: true, required: false, check: nhs_number },
    FieldSpec {
        name: "chain_id",
        nullable: true,
        required: false,
        check: |f, v, _| text(f, v, 32),
    },
];

/// The identifier fields: shown to and written by managers and admins only
/// (`records::access`).
pub const IDENTIFIER_FIELDS: &[&str] = &["nhs_number", "chain_id"];

/// The fields a person starts with when a create leaves them out.
pub fn defaults() -> Map<String, Value> {
    let mut map = Map::new();
    for spec in SPECS {
        map.insert(spec.name.into(), Value::Null);
    }
    map.insert("name_quality".into(), json!("not_collected"));
    map.insert("dob_quality".into(), json!("not_collected"));
    map.insert("risk_flags".into(), json!([]));
    map
}

fn initials(field: &str, value: &Value, _: &BatchContext) -> Result<Value, Rejection> {
    let value = text(field, value, 8)?;
    if let Some(s) = value.as_str() {
        if !s.chars().all(|c| c.is_alphabetic() || c == '.' || c == ' ' || c == '-') {
            return Err(Rejection::invalid(field, "must be letters"));
        }
        return Ok(Value::String(s.to_uppercase()));
    }
    Ok(value)
}

fn birth_year(field: &str, value: &Value, ctx: &BatchContext) -> Result<Value, Rejection> {
    int(field, value, 1900, i64::from(ctx.now.year()))
}

fn birth_date(field: &str, value: &Value, ctx: &BatchContext) -> Result<Value, Rejection> {
    let d = date(field, value)?;
    if d > ctx.now.date_naive() || d.year() < 1900 {
        return Err(Rejection::invalid(field, "must be between 1900 and today"));
    }
    Ok(Value::String(d.format("%Y-%m-%d").to_string()))
}

fn risk_flags(field: &str, value: &Value, _: &BatchContext) -> Result<Value, Rejection> {
    let mut out = Vec::new();
    for (i, item) in array(field, value, 20)?.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let flag = object(&at, item)?;
        only_keys(&at, flag, &["kind", "priority", "expires_on", "note"])?;
        let null = Value::Null;
        let kind = code::<RiskKind>(&format!("{at}.kind"), flag.get("kind").unwrap_or(&null))?;
        let priority = code::<RiskPriority>(
            &format!("{at}.priority"),
            flag.get("priority").unwrap_or(&json!("medium")),
        )?;
        let expires_on = match flag.get("expires_on") {
            None | Some(Value::Null) => Value::Null,
            Some(v) => Value::String(date(&format!("{at}.expires_on"), v)?.to_string()),
        };
        let note = match flag.get("note") {
            None | Some(Value::Null) => Value::Null,
            Some(v) => text(&format!("{at}.note"), v, 200)?,
        };
        out.push(
            json!({ "kind": kind, "priority": priority, "expires_on": expires_on, "note": note }),
        );
    }
    Ok(Value::Array(out))
}

/// An NHS number: ten digits (spaces allowed) whose last is the modulus 11
/// check digit of the first nine.
fn nhs_number(field: &str, value: &Value, _: &BatchContext) -> Result<Value, Rejection> {
    let raw = value.as_str().ok_or_else(|| Rejection::invalid(field, "must be a string"))?;
    let digits: Vec<u32> = raw
        .chars()
        .filter(|c| *c != ' ')
        .map(|c| c.to_digit(10))
        .collect::<Option<_>>()
        .ok_or_else(|| Rejection::invalid(field, "must be ten digits"))?;
    if digits.len() != 10 {
        return Err(Rejection::invalid(field, "must be ten digits"));
    }
    let sum: u32 = digits[..9].iter().enumerate().map(|(i, d)| d * (10 - i as u32)).sum();
    let check = (11 - sum % 11) % 11;
    if check == 10 || check != digits[9] {
        return Err(Rejection::invalid(field, "is not a valid NHS number (check digit)"));
    }
    Ok(Value::String(digits.iter().map(|d| char::from_digit(*d, 10).unwrap_or('0')).collect()))
}

/// The writable fields of a stored person, canonical.
pub fn to_map(m: &person::Model) -> Map<String, Value> {
    let risk_flags: Value = serde_json::from_str(&m.risk_flags).unwrap_or_else(|_| json!([]));
    let mut map = Map::new();
    map.insert("alias".into(), json!(m.alias));
    map.insert("initials".into(), json!(m.initials));
    map.insert("name_quality".into(), json!(m.name_quality));
    map.insert("birth_year".into(), json!(m.birth_year));
    map.insert("birth_date".into(), json!(m.birth_date.map(|d| d.format("%Y-%m-%d").to_string())));
    map.insert("dob_quality".into(), json!(m.dob_quality));
    map.insert("gender".into(), json!(m.gender));
    map.insert("description".into(), json!(m.description));
    map.insert("risk_flags".into(), risk_flags);
    map.insert("nhs_number".into(), json!(m.nhs_number));
    map.insert("chain_id".into(), json!(m.chain_id));
    map
}

/// Writes canonical `fields` onto an active model.
pub fn apply(active: &mut person::ActiveModel, fields: &Map<String, Value>) {
    for name in fields.keys() {
        match name.as_str() {
            "alias" => active.alias = Set(str_of(fields, name)),
            "initials" => active.initials = Set(str_of(fields, name)),
            "name_quality" => {
                active.name_quality = Set(str_of(fields, name).unwrap_or_default());
            }
            "birth_year" => active.birth_year = Set(int_of(fields, name).map(|y| y as i32)),
            "birth_date" => {
                active.birth_date = Set(str_of(fields, name)
                    .and_then(|s| NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok()));
            }
            "dob_quality" => active.dob_quality = Set(str_of(fields, name).unwrap_or_default()),
            "gender" => active.gender = Set(str_of(fields, name)),
            "description" => active.description = Set(str_of(fields, name)),
            "risk_flags" => active.risk_flags = Set(json_text(fields, name, "[]")),
            "nhs_number" => active.nhs_number = Set(str_of(fields, name)),
            "chain_id" => active.chain_id = Set(str_of(fields, name)),
            _ => {}
        }
    }
}

/// A new person row from canonical fields (defaults filled in).
pub fn new_row(
    id: Uuid,
    organisation_id: Uuid,
    fields: &Map<String, Value>,
    field_versions: String,
    created_by: Option<Uuid>,
    now: DateTime<Utc>,
) -> person::ActiveModel {
    let mut active = person::ActiveModel {
        id: Set(id),
        organisation_id: Set(organisation_id),
        version: Set(1),
        field_versions: Set(field_versions),
        created_by: Set(created_by),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
        ..Default::default()
    };
    apply(&mut active, fields);
    active
}

/// A risk flag shown to staff wherever the person appears.
#[derive(Object, Clone, serde::Deserialize)]
pub struct RiskFlag {
    /// What the risk is.
    pub kind: RiskKind,
    /// How urgent it is.
    pub priority: RiskPriority,
    /// When it lapses, if it does.
    pub expires_on: Option<NaiveDate>,
    /// A short note.
    pub note: Option<String>,
}

/// A person, as the API and the sync feed show them.
#[derive(Object)]
pub struct PersonView {
    /// Its id (generated on the device).
    pub id: Uuid,
    /// The server's version; send it as `base_version` or `If-Match`.
    pub version: i64,
    /// Street name or alias.
    pub alias: Option<String>,
    /// Initials.
    pub initials: Option<String>,
    /// How good the name is.
    pub name_quality: NameQuality,
    /// Year of birth.
    pub birth_year: Option<i32>,
    /// Date of birth.
    pub birth_date: Option<NaiveDate>,
    /// How good the date of birth is.
    pub dob_quality: DobQuality,
    /// Gender.
    pub gender: Option<Gender>,
    /// A short description, to recognise them next time.
    pub description: Option<String>,
    /// Risk flags.
    pub risk_flags: Vec<RiskFlag>,
    /// NHS number (managers and admins only; `null` for others).
    pub nhs_number: Option<String>,
    /// CHAIN id (managers and admins only; `null` for others).
    pub chain_id: Option<String>,
    /// When the server first stored it.
    pub created_at: DateTime<Utc>,
    /// When the server last changed it.
    pub updated_at: DateTime<Utc>,
}

impl PersonView {
    /// The view of a stored person as `actor` may see it: each identifier
    /// only when `records::access` lets them read it.
    pub fn for_actor(m: person::Model, actor: &Actor) -> Self {
        let readable = |field: &str| access::may_read(actor, EntityKind::Person, field);
        let (nhs, chain) = (readable("nhs_number"), readable("chain_id"));
        Self {
            id: m.id,
            version: m.version,
            name_quality: parse_stored(&m.name_quality).unwrap_or(NameQuality::NotCollected),
            dob_quality: parse_stored(&m.dob_quality).unwrap_or(DobQuality::NotCollected),
            gender: m.gender.as_deref().and_then(|g| parse_stored(g).ok()),
            risk_flags: serde_json::from_str(&m.risk_flags).unwrap_or_default(),
            nhs_number: m.nhs_number.filter(|_| nhs),
            chain_id: m.chain_id.filter(|_| chain),
            alias: m.alias,
            initials: m.initials,
            birth_year: m.birth_year,
            birth_date: m.birth_date,
            description: m.description,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}
