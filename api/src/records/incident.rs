//! Incidents: overdoses, naloxone given, violence, safeguarding concerns.
//! Append-only like contacts: reports are never edited in place.

use chrono::{DateTime, Utc};
use outpost_entity::incident;
use poem_openapi::Object;
use sea_orm::Set;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{
    checks,
    context::{Actor, BatchContext},
    fields::{
        FieldSpec, Rejection, array, bool_of, boolean, code, int, int_of, json_text, object,
        only_keys, str_of, text, uuid_of,
    },
    vocab::{IncidentOutcome, IncidentType, Severity},
};
use crate::domain::parse_stored;

/// The fields of an incident.
pub const SPECS: &[FieldSpec] = &[
    FieldSpec { name: "occurred_at", nullable: false, required: true, check: checks::occurred_at },
    FieldSpec { name: "site_id", nullable: true, required: false, check: checks::site_id },
    FieldSpec {
        name: "location_area",
        nullable: true,
        required: false,
        check: checks::location_area,
    },
    FieldSpec {
        name: "incident_type",
        nullable: false,
        required: true,
        check: |f, v, _| code::<IncidentType>(f, v),
    },
    FieldSpec {
        name: "severity",
        nullable: false,
        required: true,
        check: |f, v, _| code::<Severity>(f, v),
    },
    FieldSpec { name: "people", nullable: false, required: false, check: people },
    FieldSpec {
        name: "substances",
        nullable: false,
        required: false,
        check: checks::substance_list,
    },
    FieldSpec {
        name: "ambulance_called",
        nullable: false,
        required: false,
        check: |f, v, _| boolean(f, v),
    },
    FieldSpec {
        name: "ambulance_arrived",
        nullable: false,
        required: false,
        check: |f, v, _| boolean(f, v),
    },
    FieldSpec {
        name: "naloxone_doses",
        nullable: false,
        required: false,
        check: |f, v, _| int(f, v, 0, 20),
    },
    FieldSpec {
        name: "rescue_breaths",
        nullable: false,
        required: false,
        check: |f, v, _| boolean(f, v),
    },
    FieldSpec {
        name: "outcome",
        nullable: true,
        required: false,
        check: |f, v, _| code::<IncidentOutcome>(f, v),
    },
    FieldSpec { name: "note", nullable: true, required: false, check: checks::note },
];

/// People involved: a linked person, or an unknown party described (never a
/// free-text name).
fn people(field: &str, value: &Value, ctx: &BatchContext) -> Result<Value, Rejection> {
    let mut out = Vec::new();
    for (i, item) in array(field, value, 20)?.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let entry = object(&at, item)?;
        only_keys(&at, entry, &["person_id", "unknown_party"])?;
        match (entry.get("person_id"), entry.get("unknown_party")) {
            (Some(id), None) => {
                out.push(
                    json!({ "person_id": checks::person_id(&format!("{at}.person_id"), id, ctx)? }),
                );
            }
            (None, Some(description)) => {
                let description = text(&format!("{at}.unknown_party"), description, 200)?;
                if description.is_null() {
                    return Err(Rejection::invalid(
                        &format!("{at}.unknown_party"),
                        "must not be empty",
                    ));
                }
                out.push(json!({ "unknown_party": description }));
            }
            _ => {
                return Err(Rejection::invalid(
                    &at,
                    "needs exactly one of person_id or unknown_party",
                ));
            }
        }
    }
    Ok(Value::Array(out))
}

/// The row to insert for a new incident.
pub fn new_row(
    id: Uuid,
    actor: &Actor,
    fields: &Map<String, Value>,
    now: DateTime<Utc>,
) -> incident::ActiveModel {
    incident::ActiveModel {
        id: Set(id),
        organisation_id: Set(actor.organisation_id),
        version: Set(1),
        occurred_at: Set(str_of(fields, "occurred_at")
            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now)),
        site_id: Set(uuid_of(fields, "site_id")),
        location_area: Set(str_of(fields, "location_area")),
        incident_type: Set(str_of(fields, "incident_type").unwrap_or_default()),
        severity: Set(str_of(fields, "severity").unwrap_or_default()),
        people: Set(json_text(fields, "people", "[]")),
        substances: Set(json_text(fields, "substances", "[]")),
        ambulance_called: Set(bool_of(fields, "ambulance_called").unwrap_or(false)),
        ambulance_arrived: Set(bool_of(fields, "ambulance_arrived").unwrap_or(false)),
        naloxone_doses: Set(int_of(fields, "naloxone_doses").unwrap_or(0) as i32),
        rescue_breaths: Set(bool_of(fields, "rescue_breaths").unwrap_or(false)),
        outcome: Set(str_of(fields, "outcome")),
        note: Set(str_of(fields, "note")),
        recorded_by: Set(actor.user_id),
        device_id: Set(actor.device_id),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    }
}

/// Someone involved in an incident.
#[derive(Object, Clone, serde::Deserialize)]
pub struct InvolvedParty {
    /// A known person.
    pub person_id: Option<Uuid>,
    /// A description of someone unknown (never a name).
    pub unknown_party: Option<String>,
}

/// An incident, as the API and the sync feed show it.
#[derive(Object)]
pub struct IncidentView {
    /// Its id (generated on the device).
    pub id: Uuid,
    /// The server's version.
    pub version: i64,
    /// When it happened (device time).
    pub occurred_at: DateTime<Utc>,
    /// Where.
    pub site_id: Option<Uuid>,
    /// Roughly where, when not at a site.
    pub location_area: Option<String>,
    /// What happened.
    pub incident_type: IncidentType,
    /// How serious it was.
    pub severity: Severity,
    /// Who was involved.
    pub people: Vec<InvolvedParty>,
    /// Suspected substances (codes).
    pub substances: Vec<String>,
    /// Whether an ambulance was called.
    pub ambulance_called: bool,
    /// Whether it arrived.
    pub ambulance_arrived: bool,
    /// Naloxone doses given.
    pub naloxone_doses: i32,
    /// Whether rescue breaths were given.
    pub rescue_breaths: bool,
    /// How it ended.
    pub outcome: Option<IncidentOutcome>,
    /// A note.
    pub note: Option<String>,
    /// Who recorded it.
    pub recorded_by: Option<Uuid>,
    /// When the server stored it.
    pub created_at: DateTime<Utc>,
}

impl From<incident::Model> for IncidentView {
    fn from(m: incident::Model) -> Self {
        Self {
            id: m.id,
            version: m.version,
            occurred_at: m.occurred_at,
            site_id: m.site_id,
            location_area: m.location_area,
            incident_type: parse_stored(&m.incident_type).unwrap_or(IncidentType::MedicalEmergency),
            severity: parse_stored(&m.severity).unwrap_or(Severity::Moderate),
            people: serde_json::from_str(&m.people).unwrap_or_default(),
            substances: serde_json::from_str(&m.substances).unwrap_or_default(),
            ambulance_called: m.ambulance_called,
            ambulance_arrived: m.ambulance_arrived,
            naloxone_doses: m.naloxone_doses,
            rescue_breaths: m.rescue_breaths,
            outcome: m.outcome.as_deref().and_then(|o| parse_stored(o).ok()),
            note: m.note,
            recorded_by: m.recorded_by,
            created_at: m.created_at,
        }
    }
}
