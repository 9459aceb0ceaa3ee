//! Entries of the stock ledger: receipts, transfers, stocktakes and
//! write-offs. Appended, never edited nor deleted: a mistaken entry is
//! corrected by another. Each becomes movements booked by
//! [`crate::stock::ledger`]; a pack's entry moves its components.

use crate::caller::Actor;
use chrono::{DateTime, NaiveDate, Utc};
use outpost_entity::stock_entry;
use poem_openapi::types::ToJSON;
use sea_orm::{ConnectionTrait, Set};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{
    checks,
    context::BatchContext,
    fields::{FieldSpec, Rejection, RejectionCode, date, int, text, timestamp, with_defaults},
    kind::{Changes, SyncRecord},
    rejection::ApplyError,
    row,
    vocab::{StockEntryKind, StockReason},
};
use crate::domain::parse_stored;
use crate::stock::ledger::{self, Cause, Movement};
use crate::sync::{EntityKind, feed::FeedEntry, writer::BatchWriter};
use crate::text::Text;

crate::declare_fields! {
    /// The fields of a stock ledger entry.
    specs SPECS;
    /// A stock ledger entry to record. Workers record receipts at their
    /// sites; transfers, stocktakes and write-offs are for managers.
    create CreateStockEntry, push CreateStockEntryFields;
    fields {
        /// What it records.
        kind: required StockEntryKind;
        /// When it happened (device time): a stocktake counts what was
        /// there at that moment.
        occurred_at: required DateTime<Utc> = checks::occurred_at;
        /// The location it counts at (a transfer's source).
        location_id: required Uuid = checks::stock_location_id;
        /// A transfer's destination (transfers only).
        to_location_id: nullable Uuid = checks::stock_location_id;
        /// The kit item's code; a pack moves its components (a stocktake
        /// counts single items, never packs).
        item_code: required Text<48> = item_code;
        /// How many were received, moved or written off (1 or more); for a
        /// stocktake, how many were counted (0 or more).
        #[oai(validator(minimum(value = "0"), maximum(value = "1000000")))]
        quantity: required i64 = |f, v, _| int(f, v, 0, 1_000_000);
        /// Why: required for a write-off, optional for a stocktake.
        reason: nullable StockReason;
        /// Who supplied it (receipts).
        supplier: nullable Text<200>;
        /// The supplier's batch number.
        batch: nullable Text<64>;
        /// When the batch expires.
        expires_on: nullable NaiveDate = expires_on;
        /// A note.
        note: nullable Text<2000>;
    }
}

fn item_code(field: &str, value: &Value, ctx: &BatchContext) -> Result<Value, Rejection> {
    let code = text(field, value, 48)?;
    match code.as_str() {
        Some(c) if ctx.catalogue.has_kit_item(c) => Ok(code),
        _ => Err(Rejection::new(
            RejectionCode::UnknownKitItem,
            Some(field),
            "not an active item of the kit catalogue",
        )),
    }
}

fn expires_on(field: &str, value: &Value, _: &BatchContext) -> Result<Value, Rejection> {
    Ok(Value::String(date(field, value)?.format("%Y-%m-%d").to_string()))
}

/// Whether `actor` may record entries of every kind: managers, admins and
/// integrators (workers record receipts).
pub fn manages_stock(actor: &Actor) -> bool {
    actor.sees_everything()
}

/// The rules across fields, once each is valid on its own.
fn check_entry(all: &Map<String, Value>, ctx: &BatchContext) -> Result<StockEntryKind, Rejection> {
    let kind: StockEntryKind = all["kind"]
        .as_str()
        .and_then(|k| parse_stored(k).ok())
        .ok_or_else(|| Rejection::invalid("kind", "must be a stock entry kind"))?;
    if kind != StockEntryKind::Receipt && !manages_stock(&ctx.actor) {
        return Err(Rejection::new(
            RejectionCode::Forbidden,
            Some("kind"),
            "workers record receipts; transfers, stocktakes and write-offs are for managers",
        ));
    }
    let quantity = all["quantity"].as_i64().unwrap_or(0);
    if kind != StockEntryKind::Stocktake && quantity < 1 {
        return Err(Rejection::invalid("quantity", "must be 1 or more"));
    }
    let to = all.get("to_location_id").filter(|v| !v.is_null());
    match (kind, to) {
        (StockEntryKind::Transfer, None) => {
            return Err(Rejection::invalid("to_location_id", "a transfer needs its destination"));
        }
        (StockEntryKind::Transfer, Some(to)) if to == &all["location_id"] => {
            return Err(Rejection::invalid("to_location_id", "must differ from location_id"));
        }
        (StockEntryKind::Transfer, Some(_)) => {}
        (_, Some(_)) => {
            return Err(Rejection::invalid("to_location_id", "only a transfer has a destination"));
        }
        (_, None) => {}
    }
    if kind == StockEntryKind::WriteOff && all.get("reason").is_none_or(Value::is_null) {
        return Err(Rejection::invalid("reason", "a write-off needs a reason"));
    }
    let code = all["item_code"].as_str().unwrap_or_default();
    if kind == StockEntryKind::Stocktake && !ctx.catalogue.pack_components(code).is_empty() {
        return Err(Rejection::invalid(
            "item_code",
            "packs are stocked as their components: count those",
        ));
    }
    Ok(kind)
}

/// Stock ledger entries: appended, placed at their location's site.
pub struct StockEntry;

impl SyncRecord for StockEntry {
    const KIND: EntityKind = EntityKind::StockEntry;
    const FIELDS: &'static [FieldSpec] = SPECS;
    const CHANGES: Changes = Changes::Appended;
    const PLACED: bool = true;
    type Entity = stock_entry::Entity;
    type Row = stock_entry::ActiveModel;

    fn view(model: stock_entry::Model, _actor: &Actor) -> Option<Value> {
        StockEntryView::from(model).to_json()
    }

    /// The entry and its movements, booked at once: the next entry of the
    /// batch (a stocktake) must see them.
    async fn create<C: ConnectionTrait>(
        db: &C,
        ctx: &mut BatchContext,
        w: &mut BatchWriter,
        id: Uuid,
        fields: Map<String, Value>,
    ) -> Result<(), ApplyError> {
        let all = with_defaults(SPECS, fields);
        let kind = check_entry(&all, ctx).map_err(ApplyError::Rejected)?;
        let (actor, now) = (&ctx.actor, ctx.now);
        let location = all["location_id"].as_str().and_then(|s| Uuid::parse_str(s).ok());
        let (Some(location), Ok(occurred_at)) =
            (location, timestamp("occurred_at", &all["occurred_at"]))
        else {
            return Err(ApplyError::Rejected(Rejection::invalid("location_id", "must be a UUID")));
        };
        let site = ctx.stock_locations[&location];
        let code = all["item_code"].as_str().unwrap_or_default().to_owned();
        let quantity = all["quantity"].as_i64().unwrap_or(0);
        let mut entry = stock_entry::ActiveModel {
            id: Set(id),
            organisation_id: Set(actor.organisation_id),
            version: Set(1),
            site_id: Set(site),
            difference: Set(None),
            recorded_by: Set(actor.user_id),
            device_id: Set(actor.device_id),
            created_at: Set(now),
            ..Default::default()
        };
        row::set_fields(&mut entry, SPECS, &all)?;
        let movement = |location_id, item_code, delta, cause| Movement {
            location_id,
            item_code,
            delta,
            occurred_at,
            cause,
            source_id: id,
        };
        let movements = match kind {
            StockEntryKind::Receipt => crate::stock::expand(&ctx.catalogue, &code, quantity)
                .into_iter()
                .map(|(item, q)| movement(location, item, q, Cause::Entry))
                .collect(),
            StockEntryKind::WriteOff => crate::stock::expand(&ctx.catalogue, &code, quantity)
                .into_iter()
                .map(|(item, q)| movement(location, item, -q, Cause::Entry))
                .collect(),
            StockEntryKind::Transfer => {
                let to = all["to_location_id"].as_str().and_then(|s| Uuid::parse_str(s).ok());
                let to = to.ok_or_else(|| {
                    ApplyError::Rejected(Rejection::invalid("to_location_id", "must be a UUID"))
                })?;
                crate::stock::expand(&ctx.catalogue, &code, quantity)
                    .into_iter()
                    .flat_map(|(item, q)| {
                        [
                            movement(location, item.clone(), -q, Cause::Entry),
                            movement(to, item, q, Cause::Entry),
                        ]
                    })
                    .collect()
            }
            StockEntryKind::Stocktake => {
                // Claimed before anything of the batch is booked (a shared
                // claim first would deadlock with a twin batch).
                let key = std::collections::BTreeSet::from([(location, code.clone())]);
                ledger::claim(db, actor.organisation_id, &key, true).await?;
                // What the batch recorded before the count (contacts'
                // kit) is booked first: the count sees it.
                w.flush_records(db).await?;
                // A phone's clock may run ahead (a day is accepted): a count
                // from the future would swallow kit handed out before that
                // moment comes, so it counts from now at the latest.
                let counted_at = occurred_at.min(now);
                let held =
                    ledger::held_at(db, actor.organisation_id, location, &code, counted_at).await?;
                let difference = quantity - held;
                entry.difference = Set(Some(difference));
                let count = movement(location, code.clone(), difference, Cause::Stocktake);
                vec![Movement { occurred_at: counted_at, ..count }]
            }
        };
        let stocktake = kind == StockEntryKind::Stocktake;
        w.insert(EntityKind::StockEntry, [entry]);
        w.stock(actor.organisation_id, movements);
        if stocktake {
            // Booked at once: a later count in the batch reads it.
            w.flush_records(db).await?;
        }
        w.change(
            FeedEntry::upsert(EntityKind::StockEntry, id, 1).at_site(Some(site), actor.user_id),
        );
        Ok(())
    }
}

crate::declare_view! {
    /// An entry of the stock ledger.
    pub struct StockEntryView from stock_entry::Model {
        /// Its id (generated on the device).
        pub id: Uuid,
        /// Always 1: entries are never edited.
        pub version: i64,
        /// What it records.
        pub kind: StockEntryKind,
        /// When it happened (device time).
        pub occurred_at: DateTime<Utc>,
        /// The location it counts at (a transfer's source).
        pub location_id: Uuid,
        /// A transfer's destination.
        pub to_location_id: Option<Uuid>,
        /// The site of `location_id`.
        pub site_id: Uuid,
        /// The kit item's code.
        pub item_code: String,
        /// Received, moved or written off; for a stocktake, counted.
        pub quantity: i32,
        /// A stocktake's count less what the ledger held at that moment
        /// when the count arrived (later arrivals the count already held
        /// are booked as corrections, not here).
        pub difference: Option<i64>,
        /// Why.
        pub reason: Option<StockReason>,
        /// Who supplied it.
        pub supplier: Option<String>,
        /// The supplier's batch number.
        pub batch: Option<String>,
        /// When the batch expires.
        pub expires_on: Option<NaiveDate>,
        /// A note.
        pub note: Option<String>,
        /// Who recorded it.
        pub recorded_by: Option<Uuid>,
        /// When the server stored it.
        pub created_at: DateTime<Utc>,
    }
}
