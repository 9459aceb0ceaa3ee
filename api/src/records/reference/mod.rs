//! The reference kinds (sites, the kit catalogue, substances with their
//! street names, partner services): their views, as REST and the sync
//! pull show them, and the catalogue a batch of field records is checked
//! against. Admins edit them through REST (`service::reference`).

pub mod catalogue;
pub mod kit_item;
pub mod partner_service;
pub mod site;
pub mod stock_location;
pub mod stock_threshold;
pub mod substance;
pub mod vocab;

use outpost_entity as entity;
use poem_openapi::types::ToJSON;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

use self::{
    kit_item::KitItemView, partner_service::PartnerServiceView, site::SiteView,
    stock_location::StockLocationView, substance::SubstanceView,
};
use crate::sync::EntityKind;

/// At most this many ids per `IN (...)` list.
const CHUNK: usize = 500;

/// The organisation's reference records of `kind` with these ids, archived
/// or not, as `(id, view JSON)`, each rendered exactly as its REST view so
/// a device parses one shape whichever way it got it. Ids not found in the
/// organisation are left out; other kinds answer an empty list.
pub async fn render<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    kind: EntityKind,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, serde_json::Value)>, DbErr> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let ids = chunk.iter().copied();
        match kind {
            EntityKind::Site => {
                let rows = entity::site::Entity::find()
                    .filter(entity::site::Column::OrganisationId.eq(organisation_id))
                    .filter(entity::site::Column::Id.is_in(ids))
                    .all(db)
                    .await?;
                out.extend(rows.into_iter().map(|m| (m.id, json(SiteView::from(m)))));
            }
            EntityKind::KitItem => {
                let rows = entity::kit_item::Entity::find()
                    .filter(entity::kit_item::Column::OrganisationId.eq(organisation_id))
                    .filter(entity::kit_item::Column::Id.is_in(ids))
                    .all(db)
                    .await?;
                out.extend(rows.into_iter().map(|m| (m.id, json(KitItemView::from(m)))));
            }
            EntityKind::Substance => {
                let rows = entity::substance::Entity::find()
                    .filter(entity::substance::Column::OrganisationId.eq(organisation_id))
                    .filter(entity::substance::Column::Id.is_in(ids))
                    .all(db)
                    .await?;
                out.extend(rows.into_iter().map(|m| (m.id, json(SubstanceView::from(m)))));
            }
            EntityKind::PartnerService => {
                let rows = entity::partner_service::Entity::find()
                    .filter(entity::partner_service::Column::OrganisationId.eq(organisation_id))
                    .filter(entity::partner_service::Column::Id.is_in(ids))
                    .all(db)
                    .await?;
                out.extend(rows.into_iter().map(|m| (m.id, json(PartnerServiceView::from(m)))));
            }
            EntityKind::StockLocation => {
                let rows = entity::stock_location::Entity::find()
                    .filter(entity::stock_location::Column::OrganisationId.eq(organisation_id))
                    .filter(entity::stock_location::Column::Id.is_in(ids))
                    .all(db)
                    .await?;
                out.extend(rows.into_iter().map(|m| (m.id, json(StockLocationView::from(m)))));
            }
            EntityKind::StockThreshold => {
                let rows = entity::stock_threshold::Entity::find()
                    .filter(entity::stock_threshold::Column::OrganisationId.eq(organisation_id))
                    .filter(entity::stock_threshold::Column::Id.is_in(ids))
                    .all(db)
                    .await?;
                let levels = crate::stock::ledger::on_hand_of(
                    db,
                    organisation_id,
                    rows.iter().map(|t| (t.location_id, t.item_code.clone())),
                )
                .await?;
                out.extend(rows.into_iter().map(|t| {
                    let on_hand =
                        levels.get(&(t.location_id, t.item_code.clone())).copied().unwrap_or(0);
                    (t.id, json(stock_threshold::StockThresholdView::new(t, on_hand)))
                }));
            }
            EntityKind::Person
            | EntityKind::Contact
            | EntityKind::StockEntry
            | EntityKind::Consent
            | EntityKind::ConsentRevocation
            | EntityKind::InboxReferral
            | EntityKind::Incident
            | EntityKind::Referral
            | EntityKind::ReferralStep
            | EntityKind::Conflict => return Ok(Vec::new()),
        }
    }
    Ok(out)
}

fn json<T: ToJSON>(view: T) -> serde_json::Value {
    view.to_json().unwrap_or_default()
}
