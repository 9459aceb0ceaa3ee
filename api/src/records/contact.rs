//! Contacts: the atomic, append-only record of an encounter, with the kit
//! handed out. A contact is never edited in place, so it can never conflict;
//! a mistaken one is deleted (a tombstone) and recorded again.

use crate::caller::Actor;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use outpost_entity::{contact, kit_line, stock_movement};
use poem_openapi::{Object, types::ToJSON};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};
use serde_json::{Map, Value, json, value::RawValue};
use uuid::Uuid;

use super::{
    checks,
    context::BatchContext,
    fields::{
        FieldSpec, Rejection, RejectionCode, array, code, int, object, only_keys, timestamp,
        uuid_of, with_defaults,
    },
    kind::{Changes, SyncRecord},
    lookup::ByKeys,
    rejection::ApplyError,
    row,
    vocab::{
        ContactType, Intervention, KnownBy, LivingSituation, NaloxoneRecipient,
        NaloxoneRepeatReason, NaloxoneSupplyKind, NaloxoneTraining,
    },
};
use crate::stock::ledger::{Cause, Movement};
use crate::sync::{EntityKind, feed::FeedEntry, writer::BatchWriter};
use crate::text::Text;

crate::declare_fields! {
    /// The fields of a contact.
    specs SPECS;
    /// A contact to record.
    create CreateContact, push CreateContactFields;
    fields {
        /// When it happened.
        occurred_at: required DateTime<Utc> = checks::occurred_at;
        /// Where.
        site_id: nullable Uuid = checks::site_id;
        /// Roughly where, when not at a site.
        location_area: nullable Text<100>;
        /// Who (absent for an anonymous contact).
        person_id: nullable Uuid = checks::person_id;
        /// The staff present (the recorder is added).
        #[oai(validator(max_items = 20))]
        worker_ids: optional Vec<Uuid> = checks::worker_ids, json, or("[]");
        /// What kind of contact.
        contact_type: required ContactType;
        /// The living situation seen.
        living_situation: nullable LivingSituation;
        /// What was done.
        #[oai(validator(max_items = 20))]
        interventions: optional Vec<Intervention> = interventions, json, or("[]");
        /// Substances reported.
        #[oai(validator(max_items = 20))]
        substances: optional Vec<SubstanceInput> = checks::substances_known, json, or("[]");
        /// A note.
        note: nullable Text<4000>;
        /// Used equipment returned.
        #[oai(validator(minimum(value = "0"), maximum(value = "100000")))]
        returns_count: optional i64 = |f, v, _| int(f, v, 0, 100_000), or("0");
        /// Whether `returns_count` is an estimate.
        returns_estimated: optional bool, or("false");
        /// Kit handed out.
        #[oai(validator(max_items = 50))]
        kit_lines: optional Vec<KitLineInput> = kit_lines, json, or("[]"), own_table;
        /// The stock location the kit came from (the worker's bag, the
        /// van): its lines are booked out of it in the stock ledger. A
        /// contact that names none takes its kit from its device's bag, if
        /// it has one it may use; otherwise it moves no stock.
        stock_location_id: nullable Uuid = checks::stock_location_id;
    }
}

/// Kit handed out.
#[derive(Object)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct KitLineInput {
    /// The kit catalogue code.
    pub item: Text<48>,
    /// How many, 1 to 10000.
    #[oai(validator(minimum(value = "1"), maximum(value = "10000")))]
    pub quantity: i64,
    /// How many of them were taken for other people (default 0; at most
    /// `quantity`).
    #[oai(nullable, validator(minimum(value = "0"), maximum(value = "10000")))]
    pub for_others: Option<i64>,
    /// For a naloxone kit (an item of the `naloxone` category), required:
    /// the supply's detail. Refused on any other item.
    #[oai(nullable)]
    pub naloxone: Option<NaloxoneSupplyInput>,
}

/// A naloxone kit's supply, as reports count it.
#[derive(Object)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct NaloxoneSupplyInput {
    /// The person's first kit, or a repeat.
    pub supply: NaloxoneSupplyKind,
    /// Why a repeat was needed: required for a repeat, refused for a first.
    #[oai(nullable)]
    pub repeat_reason: Option<NaloxoneRepeatReason>,
    /// The incident the last kit was used on, when known: only with
    /// `repeat_reason` `used_on_overdose`.
    #[oai(nullable)]
    pub incident_id: Option<Uuid>,
    /// Who received it.
    pub recipient: NaloxoneRecipient,
    /// Whether they were trained to use it: now, before, or not.
    pub trained: NaloxoneTraining,
}

/// A naloxone kit's supply, as stored and shown.
#[derive(Object, Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct NaloxoneSupply {
    /// The person's first kit, or a repeat.
    pub supply: NaloxoneSupplyKind,
    /// Why a repeat was needed.
    pub repeat_reason: Option<NaloxoneRepeatReason>,
    /// The incident the last kit was used on, when known.
    pub incident_id: Option<Uuid>,
    /// Who received it.
    pub recipient: NaloxoneRecipient,
    /// Whether they were trained to use it: now, before, or not.
    pub trained: NaloxoneTraining,
}

/// A substance reported.
#[derive(Object)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct SubstanceInput {
    /// A substance code or a street name (mapped onto its code).
    pub substance: Text<100>,
    /// How it is known (default `self_reported`).
    #[oai(nullable)]
    pub known_by: Option<KnownBy>,
}

/// Contacts: append-only, placed at a site, with their kit lines.
pub struct Contact;

impl SyncRecord for Contact {
    const KIND: EntityKind = EntityKind::Contact;
    const FIELDS: &'static [FieldSpec] = SPECS;
    const CHANGES: Changes = Changes::AppendOnly;
    const PLACED: bool = true;
    type Entity = contact::Entity;
    type Row = contact::ActiveModel;

    /// Without its kit lines: contacts are rendered with them by `render`,
    /// which reads the lines of a page at once.
    fn view(model: contact::Model, _actor: &Actor) -> Option<Value> {
        ContactView::new(model, Vec::new()).to_json()
    }

    async fn create<C: ConnectionTrait>(
        _db: &C,
        ctx: &mut BatchContext,
        w: &mut BatchWriter,
        id: Uuid,
        fields: Map<String, Value>,
    ) -> Result<(), ApplyError> {
        let actor = &ctx.actor;
        let mut all = with_defaults(SPECS, fields);
        let lines = all.get("kit_lines").cloned().unwrap_or_default();
        // The recorder is one of the staff present, listed first.
        if let Some(me) = actor.user_id.map(|u| json!(u.to_string()))
            && let Some(Value::Array(workers)) = all.get_mut("worker_ids")
            && !workers.contains(&me)
        {
            workers.insert(0, me);
        }
        // Kit handed out from no named location comes from the device's bag
        // (if it has one the writer may still use).
        let hands_out = lines.as_array().is_some_and(|l| !l.is_empty());
        if hands_out
            && all["stock_location_id"].is_null()
            && let Some(bag) = ctx.device_location
            && let Ok(bag) = checks::stock_location_id("stock_location_id", &json!(bag), ctx)
        {
            all["stock_location_id"] = bag;
        }
        let row: contact::ActiveModel = row::recorded(id, actor, ctx.now, SPECS, &all)?;
        if let Some(location) = uuid_of(&all, "stock_location_id") {
            let occurred_at = timestamp("occurred_at", &all["occurred_at"])?;
            let issued = lines.as_array().into_iter().flatten().flat_map(|line| {
                let code = line["item"].as_str().unwrap_or_default();
                crate::stock::expand(&ctx.catalogue, code, line["quantity"].as_i64().unwrap_or(0))
            });
            let movements: Vec<Movement> = issued
                .map(|(item_code, quantity)| Movement {
                    location_id: location,
                    item_code,
                    delta: -quantity,
                    occurred_at,
                    cause: Cause::Issue,
                    source_id: id,
                })
                .collect();
            w.stock(actor.organisation_id, movements);
        }
        let lines: Vec<kit_line::ActiveModel> = lines
            .as_array()
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
                        naloxone: Set(line
                            .get("naloxone")
                            .filter(|n| !n.is_null())
                            .map(Value::to_string)),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let site = uuid_of(&all, "site_id");
        w.insert(EntityKind::Contact, [row]);
        w.insert_dependants(EntityKind::Contact, lines);
        w.change(FeedEntry::upsert(EntityKind::Contact, id, 1).at_site(site, actor.user_id));
        Ok(())
    }

    /// Contacts with their kit lines: a query for each, per page.
    async fn render<C: ConnectionTrait>(
        db: &C,
        actor: &Actor,
        ids: &[Uuid],
    ) -> Result<Vec<(Uuid, Value)>, DbErr> {
        Ok(views(db, actor, ids)
            .await?
            .into_iter()
            .filter_map(|view| view.to_json().map(|v| (view.id, v)))
            .collect())
    }

    /// Its kit goes back into the location it was booked out of, at the
    /// moment it was handed out (a count made since already held it).
    async fn deleted<C: ConnectionTrait>(
        db: &C,
        ctx: &mut BatchContext,
        w: &mut BatchWriter,
        id: Uuid,
    ) -> Result<(), DbErr> {
        // This batch's issues are booked first (the contact may be new).
        w.flush_records(db).await?;
        let org = ctx.actor.organisation_id;
        let issued = stock_movement::Entity::find()
            .filter(stock_movement::Column::OrganisationId.eq(org))
            .filter(stock_movement::Column::SourceId.eq(id))
            .filter(stock_movement::Column::Cause.eq(Cause::Issue.as_str()))
            .all(db)
            .await?;
        w.stock(
            org,
            issued.into_iter().map(|m| Movement {
                location_id: m.location_id,
                item_code: m.item_code,
                delta: -m.delta,
                occurred_at: m.occurred_at,
                cause: Cause::Reversal,
                source_id: id,
            }),
        );
        Ok(())
    }

    /// Written straight from the views: no `Value` per contact. Like
    /// `render`, it shows every field: contacts have none a role may not
    /// read (were one added, both would hide it, as `view` does).
    async fn render_json<C: ConnectionTrait>(
        db: &C,
        actor: &Actor,
        ids: &[Uuid],
    ) -> Result<Vec<(Uuid, Box<RawValue>)>, DbErr> {
        Ok(views(db, actor, ids)
            .await?
            .into_iter()
            .filter_map(|view| {
                serde_json::value::to_raw_value(&view).ok().map(|raw| (view.id, raw))
            })
            .collect())
    }
}

/// The contacts with these ids in the actor's organisation, with their kit
/// lines: a query for each.
async fn views<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    ids: &[Uuid],
) -> Result<Vec<ContactView>, DbErr> {
    let org = actor.organisation_id;
    let contacts = ByKeys::<contact::Entity>::new(contact::Column::Id)
        .in_organisation(contact::Column::OrganisationId, org)
        .models(db, ids)
        .await?;
    let mut lines: HashMap<Uuid, Vec<kit_line::Model>> = HashMap::new();
    for line in ByKeys::<kit_line::Entity>::new(kit_line::Column::ContactId)
        .in_organisation(kit_line::Column::OrganisationId, org)
        .ordered_by(kit_line::Column::Position)
        .models(db, ids)
        .await?
    {
        lines.entry(line.contact_id).or_default().push(line);
    }
    Ok(contacts
        .into_iter()
        .map(|m| {
            let own = lines.remove(&m.id).unwrap_or_default();
            ContactView::new(m, own)
        })
        .collect())
}

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
        only_keys(&at, line, &["item", "quantity", "for_others", "naloxone"])?;
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
        let naloxone = naloxone(&at, code, line.get("naloxone"), ctx)?;
        out.push(json!({
            "item": code, "quantity": quantity, "for_others": for_others, "naloxone": naloxone,
        }));
    }
    Ok(Value::Array(out))
}

/// A kit line's naloxone detail, checked: required on a naloxone kit (or a
/// pack holding one) and
/// consistent (a repeat says why, a first does not; an incident only for
/// a kit used on an overdose), refused on any other item.
fn naloxone(
    at: &str,
    item: &str,
    value: Option<&Value>,
    ctx: &BatchContext,
) -> Result<Value, Rejection> {
    let field = format!("{at}.naloxone");
    let value = value.filter(|v| !v.is_null());
    // A pack holding naloxone hands a naloxone kit out too.
    let catalogue = &ctx.catalogue;
    let hands_naloxone = catalogue.is_naloxone(item)
        || catalogue.pack_components(item).iter().any(|(c, _)| catalogue.is_naloxone(c));
    if !hands_naloxone {
        return match value {
            None => Ok(Value::Null),
            Some(_) => Err(Rejection::invalid(&field, "only a naloxone kit carries this")),
        };
    }
    let Some(value) = value else {
        return Err(Rejection::invalid(&field, "a naloxone kit needs its supply's detail"));
    };
    let detail = object(&field, value)?;
    only_keys(&field, detail, &["supply", "repeat_reason", "incident_id", "recipient", "trained"])?;
    let part = |name: &str| (format!("{field}.{name}"), detail.get(name).filter(|v| !v.is_null()));
    let required = |name: &str| {
        let (f, v) = part(name);
        v.cloned().ok_or_else(|| Rejection::invalid(&f, "required on a naloxone kit"))
    };
    let supply = code::<NaloxoneSupplyKind>(&format!("{field}.supply"), &required("supply")?)?;
    let recipient =
        code::<NaloxoneRecipient>(&format!("{field}.recipient"), &required("recipient")?)?;
    let trained = code::<NaloxoneTraining>(&format!("{field}.trained"), &required("trained")?)?;
    let (reason_field, reason) = part("repeat_reason");
    let reason = match (supply.as_str(), reason) {
        (Some("repeat"), None) => {
            return Err(Rejection::invalid(&reason_field, "a repeat supply says why"));
        }
        (Some("repeat"), Some(reason)) => code::<NaloxoneRepeatReason>(&reason_field, reason)?,
        (_, Some(_)) => {
            return Err(Rejection::invalid(&reason_field, "only a repeat supply has a reason"));
        }
        (_, None) => Value::Null,
    };
    let (incident_field, incident) = part("incident_id");
    let incident = match incident {
        None => Value::Null,
        Some(_) if reason.as_str() != Some("used_on_overdose") => {
            return Err(Rejection::invalid(
                &incident_field,
                "only a kit replacing one used on an overdose names the incident",
            ));
        }
        Some(id) => {
            let id = super::fields::uuid(&incident_field, id)?;
            if !ctx.incidents.contains(&id) {
                return Err(Rejection::new(
                    RejectionCode::UnknownReference,
                    Some(&incident_field),
                    "no such incident",
                ));
            }
            Value::String(id.to_string())
        }
    };
    Ok(json!({
        "supply": supply, "repeat_reason": reason, "incident_id": incident,
        "recipient": recipient, "trained": trained,
    }))
}

/// Kit handed out.
#[derive(Object, Clone, serde::Serialize)]
pub struct KitLineView {
    /// The kit catalogue code.
    pub item: String,
    /// How many.
    pub quantity: i32,
    /// How many of them were taken for other people.
    pub for_others: i32,
    /// A naloxone kit's supply; absent on other items.
    pub naloxone: Option<NaloxoneSupply>,
}

/// A substance and how its use is known.
#[derive(Object, Clone, serde::Serialize, serde::Deserialize)]
pub struct SubstanceSeen {
    /// The substance code (street names are mapped onto codes).
    pub substance: String,
    /// How it is known.
    pub known_by: KnownBy,
}

super::view::wire_as_serde!(KitLineView, SubstanceSeen, NaloxoneSupply);

crate::declare_view! {
    /// A contact, as the API and the sync feed show it.
    pub struct ContactView from contact::Model {
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
        pub kit_lines: Vec<KitLineView> = Vec::new(),
        /// The stock location the kit came from.
        pub stock_location_id: Option<Uuid>,
        /// Who recorded it.
        pub recorded_by: Option<Uuid>,
        /// When the server stored it.
        pub created_at: DateTime<Utc>,
    }
}

impl ContactView {
    /// The view of a stored contact and its kit lines (in order).
    pub fn new(m: contact::Model, lines: Vec<kit_line::Model>) -> Self {
        let kit_lines = lines
            .into_iter()
            .map(|l| KitLineView {
                item: l.item_code,
                quantity: l.quantity,
                for_others: l.for_others,
                // Only this server writes it, from a checked value.
                naloxone: l.naloxone.and_then(|n| serde_json::from_str(&n).ok()),
            })
            .collect();
        Self { kit_lines, ..Self::from(m) }
    }
}
