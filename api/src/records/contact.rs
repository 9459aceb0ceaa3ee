//! Contacts: the atomic, append-only record of an encounter, with the kit
//! handed out. A contact is never edited in place, so it can never conflict;
//! a mistaken one is deleted (a tombstone) and recorded again.

use chrono::{DateTime, Utc};
use outpost_entity::{contact, kit_line};
use poem_openapi::Object;
use sea_orm::Set;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{
    checks,
    context::{Actor, BatchContext},
    fields::{
        FieldSpec, Rejection, RejectionCode, array, bool_of, code, int, int_of, json_text, object,
        only_keys, str_of, uuid_of,
    },
    vocab::{ContactType, Intervention, KnownBy, LivingSituation},
};
use crate::domain::parse_stored;

/// The fields of a contact.
pub const SPECS: &[FieldSpec] = &[
    FieldSpec { name: "occurred_at", nullable: false, required: true, check: checks::occurred_at },
    FieldSpec { name: "site_id", nullable: true, required: false, check: checks::site_id },
    FieldSpec {
        name: "location_area",
        nullable: true,
        required: false,
        check: checks::location_area,
    },
    FieldSpec { name: "person_id", nullable: true, required: false, check: checks::person_id },
    FieldSpec { name: "worker_ids", nullable: false, required: false, check: checks::worker_ids },
    FieldSpec {
        name: "contact_type",
        nullable: false,
        required: true,
        check: |f, v, _| code::<ContactType>(f, v),
    },
    FieldSpec {
        name: "living_situation",
        nullable: true,
        required: false,
        check: |f, v, _| code::<LivingSituation>(f, v),
    },
    FieldSpec { name: "interventions", nullable: false, required: false, check: interventions },
    FieldSpec {
        name: "substances",
        nullable: false,
        required: false,
        check: checks::substances_known,
    },
    FieldSpec { name: "note", nullable: true, required: false, check: checks::note },
    FieldSpec {
        name: "returns_count",
        nullable: false,
        required: false,
        check: |f, v, _| int(f, v, 0, 100_000),
    },
    FieldSpec {
        name: "returns_estimated",
        nullable: false,
        required: false,
        check: |f, v, _| super::fields::boolean(f, v),
    },
    FieldSpec { name: "kit_lines", nullable: false, required: false, check: kit_lines },
];

fn interventions(field: &str, value: &Value, _: &BatchContext) -> Result<Value, Rejection> {
    let mut out = Vec::new();
    for (i, item) in array(field, value, 20)?.iter().enumerate() {
        let item = code::<Intervention>(&format!("{field}[{i}]"), item)?;
        if !out.contains(&item) {
            out.push(item);
        }
    }
    Ok(Value::Array(out))
}

fn kit_lines(field: &str, value: &Value, ctx: &BatchContext) -> Result<Value, Rejection> {
    let mut out = Vec::new();
    for (i, item) in array(field, value, 50)?.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let line = object(&at, item)?;
        only_keys(&at, line, &["item", "quantity", "for_others"])?;
        let code = line.get("item").and_then(Value::as_str).unwrap_or_default();
        if !ctx.catalogue.has_kit_item(code) {
            return Err(Rejection::new(
                RejectionCode::UnknownKitItem,
                Some(&format!("{at}.item")),
                format!("`{code}` is not an item of the kit catalogue"),
            ));
        }
        let quantity = int(
            &format!("{at}.quantity"),
            line.get("quantity").unwrap_or(&Value::Null),
            1,
            10_000,
        )?;
        let for_others = match line.get("for_others") {
            None | Some(Value::Null) => json!(0),
            Some(v) => int(&format!("{at}.for_others"), v, 0, quantity.as_i64().unwrap_or(0))?,
        };
        out.push(json!({ "item": code, "quantity": quantity, "for_others": for_others }));
    }
    Ok(Value::Array(out))
}

/// The rows to insert for a new contact: the contact and its kit lines.
pub fn new_rows(
    id: Uuid,
    actor: &Actor,
    fields: &Map<String, Value>,
    now: DateTime<Utc>,
) -> (contact::ActiveModel, Vec<kit_line::ActiveModel>) {
    let occurred_at = str_of(fields, "occurred_at")
        .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now);
    let mut workers: Vec<Value> =
        fields.get("worker_ids").and_then(Value::as_array).cloned().unwrap_or_default();
    if let Some(me) = actor.user_id.map(|u| json!(u.to_string()))
        && !workers.contains(&me)
    {
        workers.insert(0, me);
    }
    let row = contact::ActiveModel {
        id: Set(id),
        organisation_id: Set(actor.organisation_id),
        version: Set(1),
        occurred_at: Set(occurred_at),
        site_id: Set(uuid_of(fields, "site_id")),
        location_area: Set(str_of(fields, "location_area")),
        person_id: Set(uuid_of(fields, "person_id")),
        worker_ids: Set(Value::Array(workers).to_string()),
        contact_type: Set(str_of(fields, "contact_type").unwrap_or_default()),
        living_situation: Set(str_of(fields, "living_situation")),
        interventions: Set(json_text(fields, "interventions", "[]")),
        substances: Set(json_text(fields, "substances", "[]")),
        note: Set(str_of(fields, "note")),
        returns_count: Set(int_of(fields, "returns_count").unwrap_or(0) as i32),
        returns_estimated: Set(bool_of(fields, "returns_estimated").unwrap_or(false)),
        recorded_by: Set(actor.user_id),
        device_id: Set(actor.device_id),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    };
    let lines = fields
        .get("kit_lines")
        .and_then(Value::as_array)
        .map(|lines| {
            lines
                .iter()
                .enumerate()
                .map(|(i, line)| kit_line::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    organisation_id: Set(actor.organisation_id),
                    contact_id: Set(id),
                    position: Set(i as i16),
                    item_code: Set(line["item"].as_str().unwrap_or_default().to_owned()),
                    quantity: Set(line["quantity"].as_i64().unwrap_or(0) as i32),
                    for_others: Set(line["for_others"].as_i64().unwrap_or(0) as i32),
                })
                .collect()
        })
        .unwrap_or_default();
    (row, lines)
}

/// Kit handed out.
#[derive(Object, Clone)]
pub struct KitLineView {
    /// The kit catalogue code.
    pub item: String,
    /// How many.
    pub quantity: i32,
    /// How many of them were taken for other people.
    pub for_others: i32,
}

/// A substance and how its use is known.
#[derive(Object, Clone, serde::Deserialize)]
pub struct SubstanceSeen {
    /// The substance code (street names are mapped onto codes).
    pub substance: String,
    /// How it is known.
    pub known_by: KnownBy,
}

/// A contact, as the API and the sync feed show it.
#[derive(Object)]
pub struct ContactView {
    /// Its id (generated on the device).
    pub id: Uuid,
    /// The server's version.
    pub version: i64,
    /// When it happened (device time: data, not ordering).
    pub occurred_at: DateTime<Utc>,
    /// Where.
    pub site_id: Option<Uuid>,
    /// Roughly where, when not at a site.
    pub location_area: Option<String>,
    /// Who (absent for an anonymous contact).
    pub person_id: Option<Uuid>,
    /// The staff present; the recorder first.
    pub worker_ids: Vec<Uuid>,
    /// What kind of contact.
    pub contact_type: ContactType,
    /// The living situation seen.
    pub living_situation: Option<LivingSituation>,
    /// What was done.
    pub interventions: Vec<Intervention>,
    /// Substances reported.
    pub substances: Vec<SubstanceSeen>,
    /// A note.
    pub note: Option<String>,
    /// Used equipment returned.
    pub returns_count: i32,
    /// Whether `returns_count` is an estimate.
    pub returns_estimated: bool,
    /// Kit handed out.
    pub kit_lines: Vec<KitLineView>,
    /// Who recorded it.
    pub recorded_by: Option<Uuid>,
    /// When the server stored it.
    pub created_at: DateTime<Utc>,
}

impl ContactView {
    /// The view of a stored contact and its kit lines (in order).
    pub fn new(m: contact::Model, lines: Vec<kit_line::Model>) -> Self {
        Self {
            id: m.id,
            version: m.version,
            occurred_at: m.occurred_at,
            site_id: m.site_id,
            location_area: m.location_area,
            person_id: m.person_id,
            worker_ids: serde_json::from_str(&m.worker_ids).unwrap_or_default(),
            contact_type: parse_stored(&m.contact_type).unwrap_or(ContactType::StreetOutreach),
            living_situation: m.living_situation.as_deref().and_then(|s| parse_stored(s).ok()),
            interventions: serde_json::from_str(&m.interventions).unwrap_or_default(),
            substances: serde_json::from_str(&m.substances).unwrap_or_default(),
            note: m.note,
            returns_count: m.returns_count,
            returns_estimated: m.returns_estimated,
            kit_lines: lines
                .into_iter()
                .map(|l| KitLineView {
                    item: l.item_code,
                    quantity: l.quantity,
                    for_others: l.for_others,
                })
                .collect(),
            recorded_by: m.recorded_by,
            created_at: m.created_at,
        }
    }
}
