//! People: often pseudonymous, editable, merged field by field.

use crate::caller::Actor;
use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use outpost_entity::{person, record_revision};
use poem_openapi::{Object, types::ToJSON};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set, sea_query::Expr,
};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{
    access,
    context::BatchContext,
    fields::{
        FieldSpec, Rejection, RejectionCode, array, code, date, int, object, only_keys, text,
        with_defaults,
    },
    kind::{Changes, SyncRecord},
    rejection::ApplyError,
    row,
    vocab::{DobQuality, Gender, NameQuality, RiskKind, RiskPriority},
};
use crate::sync::{EntityKind, feed::FeedEntry, writer::BatchWriter};
use crate::text::Text;

crate::declare_fields! {
    /// The writable fields of a person.
    specs SPECS;
    /// A person to record.
    create CreatePerson, push CreatePersonFields;
    /// Changes to a person; absent fields stay as they are, `null` clears
    /// a field that may be empty.
    update UpdatePerson;
    fields {
        /// Street name or alias.
        alias: nullable Text<100>;
        /// Initials.
        initials: nullable Text<8> = initials;
        /// How good the name is (default `not_collected`).
        name_quality: optional NameQuality, or(r#""not_collected""#);
        /// Year of birth.
        #[oai(validator(minimum(value = "1900")))]
        birth_year: nullable i64 = birth_year;
        /// Date of birth.
        birth_date: nullable NaiveDate = birth_date;
        /// How good the date of birth is (default `not_collected`).
        dob_quality: optional DobQuality, or(r#""not_collected""#);
        /// Gender.
        gender: nullable Gender;
        /// A short description, to recognise them next time.
        description: nullable Text<500>;
        /// Risk flags (the whole list: `[]` removes them all).
        #[oai(validator(max_items = 20))]
        risk_flags: optional Vec<RiskFlagInput> = risk_flags, json, or("[]");
        /// NHS number: ten digits, check digit verified (managers and admins only).
        nhs_number: nullable Text<16> = nhs_number, restricted;
        /// CHAIN id (managers and admins only).
        chain_id: nullable Text<32>, restricted;
    }
}

/// A risk flag to record.
#[derive(Object)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct RiskFlagInput {
    /// What the risk is.
    pub kind: RiskKind,
    /// How urgent it is (default `medium`).
    #[oai(nullable)]
    pub priority: Option<RiskPriority>,
    /// When it lapses, if it does.
    #[oai(nullable)]
    pub expires_on: Option<NaiveDate>,
    /// A short note.
    #[oai(nullable)]
    pub note: Option<Text<200>>,
}

/// The fields a person starts with when a create leaves them out.
pub fn defaults() -> Map<String, Value> {
    with_defaults(SPECS, Map::new())
}

/// People: often pseudonymous, editable and merged field by field, seen by
/// all the organisation's staff (no site places them), erased rather than
/// deleted.
pub struct Person;

impl SyncRecord for Person {
    const KIND: EntityKind = EntityKind::Person;
    const FIELDS: &'static [FieldSpec] = SPECS;
    const CHANGES: Changes = Changes::Merged;
    const PLACED: bool = false;
    type Entity = person::Entity;
    type Row = person::ActiveModel;

    fn view(model: person::Model, actor: &Actor) -> Option<Value> {
        PersonView::for_actor(model, actor).to_json()
    }

    async fn create<C: ConnectionTrait>(
        _db: &C,
        ctx: &mut BatchContext,
        w: &mut BatchWriter,
        id: Uuid,
        fields: Map<String, Value>,
    ) -> Result<(), ApplyError> {
        let all = with_defaults(SPECS, fields);
        let versions = all.keys().map(|k| (k.clone(), 1i64)).collect::<BTreeMap<_, _>>();
        let mut row = person::ActiveModel {
            id: Set(id),
            organisation_id: Set(ctx.actor.organisation_id),
            version: Set(1),
            field_versions: Set(serde_json::to_string(&versions).unwrap_or_default()),
            created_by: Set(ctx.actor.user_id),
            created_at: Set(ctx.now),
            updated_at: Set(ctx.now),
            deleted_at: Set(None),
            ..Default::default()
        };
        row::set_fields(&mut row, SPECS, &all)?;
        w.insert(EntityKind::Person, [row]);
        w.revision(&ctx.actor, EntityKind::Person, id, 1, &all);
        w.change(FeedEntry::upsert(EntityKind::Person, id, 1));
        ctx.persons.insert(id);
        Ok(())
    }

    fn may_delete(
        actor: &Actor,
        _placement: (Option<Uuid>, Option<Uuid>),
    ) -> Result<(), Rejection> {
        if actor.may_erase_people() {
            return Ok(());
        }
        Err(Rejection::new(
            RejectionCode::Forbidden,
            None,
            "only managers and admins may erase a person",
        ))
    }

    /// Erasure: the personal details go; the id stays so contacts and
    /// referrals that counted this person still add up.
    fn erased() -> Map<String, Value> {
        let mut erased = defaults();
        erased.remove("name_quality");
        erased.remove("dob_quality");
        erased
    }

    async fn deleted<C: ConnectionTrait>(
        db: &C,
        ctx: &mut BatchContext,
        _w: &mut BatchWriter,
        id: Uuid,
    ) -> Result<(), DbErr> {
        ctx.persons.remove(&id);
        // The revisions held every earlier version of the details: they go
        // too (their versions stay, as the checks expect).
        record_revision::Entity::update_many()
            .col_expr(
                record_revision::Column::Snapshot,
                Expr::value(Value::Object(defaults()).to_string()),
            )
            .filter(record_revision::Column::OrganisationId.eq(ctx.actor.organisation_id))
            .filter(record_revision::Column::Entity.eq(EntityKind::Person.as_str()))
            .filter(record_revision::Column::RecordId.eq(id))
            .exec(db)
            .await?;
        Ok(())
    }
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

/// A risk flag shown to staff wherever the person appears.
#[derive(Object, Clone, serde::Serialize, serde::Deserialize)]
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

super::view::wire_as_serde!(RiskFlag);

crate::declare_view! {
    /// A person, as the API and the sync feed show them.
    pub struct PersonView from person::Model {
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
}

impl PersonView {
    /// The view of a stored person as `actor` may see it: each identifier
    /// only when `records::access` lets them read it.
    pub fn for_actor(m: person::Model, actor: &Actor) -> Self {
        let readable = |field: &str| access::may_read(actor, EntityKind::Person, field);
        let view = Self::from(m);
        Self {
            nhs_number: view.nhs_number.filter(|_| readable("nhs_number")),
            chain_id: view.chain_id.filter(|_| readable("chain_id")),
            ..view
        }
    }
}
