//! Incidents: overdoses, naloxone given, violence, safeguarding concerns.
//! Append-only like contacts: reports are never edited in place.

use crate::caller::Actor;
use chrono::{DateTime, Utc};
use outpost_entity::incident;
use poem_openapi::{Object, types::ToJSON};
use sea_orm::ConnectionTrait;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{
    checks,
    context::BatchContext,
    fields::{FieldSpec, Rejection, array, int, object, only_keys, text, uuid_of, with_defaults},
    kind::{Changes, SyncRecord},
    rejection::ApplyError,
    row,
    vocab::{IncidentOutcome, IncidentType, Severity},
};
use crate::sync::{EntityKind, feed::FeedEntry, writer::BatchWriter};
use crate::text::Text;

crate::declare_fields! {
    /// The fields of an incident.
    specs SPECS;
    /// An incident to record.
    create CreateIncident, push CreateIncidentFields;
    fields {
        /// When it happened.
        occurred_at: required DateTime<Utc> = checks::occurred_at;
        /// Where.
        site_id: nullable Uuid = checks::site_id;
        /// Roughly where, when not at a site.
        location_area: nullable Text<100>;
        /// What happened.
        incident_type: required IncidentType;
        /// How serious it was.
        severity: required Severity;
        /// Who was involved.
        #[oai(validator(max_items = 20))]
        people: optional Vec<InvolvedPartyInput> = people, json, or("[]");
        /// Suspected substances (codes or street names).
        #[oai(validator(max_items = 20))]
        substances: optional Vec<Text<100>> = checks::substance_list, json, or("[]");
        /// Whether an ambulance was called.
        ambulance_called: optional bool, or("false");
        /// Whether it arrived.
        ambulance_arrived: optional bool, or("false");
        /// Naloxone doses given, 0 to 20.
        #[oai(validator(minimum(value = "0"), maximum(value = "20")))]
        naloxone_doses: optional i64 = |f, v, _| int(f, v, 0, 20), or("0");
        /// Whether rescue breaths were given.
        rescue_breaths: optional bool, or("false");
        /// How it ended.
        outcome: nullable IncidentOutcome;
        /// A note.
        note: nullable Text<4000>;
    }
}

/// Someone involved: exactly one of `person_id` and `unknown_party`.
#[derive(Object)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct InvolvedPartyInput {
    /// A known person.
    #[oai(nullable)]
    pub person_id: Option<Uuid>,
    /// A description of someone unknown (never a name).
    #[oai(nullable)]
    pub unknown_party: Option<Text<200>>,
}

/// Incidents: append-only, placed at a site.
pub struct Incident;

impl SyncRecord for Incident {
    const KIND: EntityKind = EntityKind::Incident;
    const FIELDS: &'static [FieldSpec] = SPECS;
    const CHANGES: Changes = Changes::AppendOnly;
    const PLACED: bool = true;
    type Entity = incident::Entity;
    type Row = incident::ActiveModel;

    fn view(model: incident::Model, _actor: &Actor) -> Option<Value> {
        IncidentView::from(model).to_json()
    }

    async fn create<C: ConnectionTrait>(
        _db: &C,
        ctx: &mut BatchContext,
        w: &mut BatchWriter,
        id: Uuid,
        fields: Map<String, Value>,
    ) -> Result<(), ApplyError> {
        let all = with_defaults(SPECS, fields);
        let row: incident::ActiveModel = row::recorded(id, &ctx.actor, ctx.now, SPECS, &all)?;
        w.insert(EntityKind::Incident, [row]);
        let site = uuid_of(&all, "site_id");
        w.change(FeedEntry::upsert(EntityKind::Incident, id, 1).at_site(site, ctx.actor.user_id));
        Ok(())
    }
}

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

/// Someone involved in an incident.
#[derive(Object, Clone, serde::Serialize, serde::Deserialize)]
pub struct InvolvedParty {
    /// A known person.
    pub person_id: Option<Uuid>,
    /// A description of someone unknown (never a name).
    pub unknown_party: Option<String>,
}

super::view::wire_as_serde!(InvolvedParty);

crate::declare_view! {
    /// An incident, as the API and the sync feed show it.
    pub struct IncidentView from incident::Model {
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
}
