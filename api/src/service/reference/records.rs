//! Reference records as the sync pull sends them: each rendered exactly as
//! its REST view, so a device parses one shape whichever way it got it.

use outpost_entity::{kit_item, partner_service, site, substance};
use poem_openapi::types::ToJSON;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::{
    http::{
        kit_items::KitItemView, partner_services::PartnerServiceView, sites::SiteView,
        substances::SubstanceView,
    },
    sync::EntityKind,
};

/// At most this many ids per `IN (...)` list.
const CHUNK: usize = 500;

/// The organisation's records of `kind` with these ids, archived or not, as
/// `(id, view JSON)`; ids not found in the organisation are left out. Kinds
/// other than sites, kit items, substances and partner services answer an
/// empty list.
pub async fn records_json<C: ConnectionTrait>(
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
                let rows = site::Entity::find()
                    .filter(site::Column::OrganisationId.eq(organisation_id))
                    .filter(site::Column::Id.is_in(ids))
                    .all(db)
                    .await?;
                out.extend(rows.into_iter().map(|m| (m.id, json(SiteView::from(m)))));
            }
            EntityKind::KitItem => {
                let rows = kit_item::Entity::find()
                    .filter(kit_item::Column::OrganisationId.eq(organisation_id))
                    .filter(kit_item::Column::Id.is_in(ids))
                    .all(db)
                    .await?;
                out.extend(rows.into_iter().map(|m| (m.id, json(KitItemView::from(m)))));
            }
            EntityKind::Substance => {
                let rows = substance::Entity::find()
                    .filter(substance::Column::OrganisationId.eq(organisation_id))
                    .filter(substance::Column::Id.is_in(ids))
                    .all(db)
                    .await?;
                out.extend(rows.into_iter().map(|m| (m.id, json(SubstanceView::from(m)))));
            }
            EntityKind::PartnerService => {
                let rows = partner_service::Entity::find()
                    .filter(partner_service::Column::OrganisationId.eq(organisation_id))
                    .filter(partner_service::Column::Id.is_in(ids))
                    .all(db)
                    .await?;
                out.extend(rows.into_iter().map(|m| (m.id, json(PartnerServiceView::from(m)))));
            }
            EntityKind::Person
            | EntityKind::Contact
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
