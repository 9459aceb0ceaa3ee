//! Renders feed entries' records as `GET` shows them, a query per record
//! type per page rather than one per record.

use std::collections::HashMap;

use outpost_entity::{
    contact, incident, kit_line, person, referral, referral_step, sync_change, sync_conflict,
};
use poem_openapi::types::ToJSON;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;
use uuid::Uuid;

use super::{EntityKind, conflicts::ConflictView};
use crate::{
    domain::parse_stored,
    records::{
        contact::ContactView,
        context::Actor,
        incident::IncidentView,
        person::PersonView,
        referral::{ReferralStepView, ReferralView},
    },
};

/// The records of the upserts among `rows`, by kind and id (a device may
/// have reused one id for two kinds of record).
pub async fn records<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    rows: &[sync_change::Model],
) -> Result<HashMap<(EntityKind, Uuid), Value>, DbErr> {
    let mut ids: HashMap<EntityKind, Vec<Uuid>> = HashMap::new();
    for row in rows.iter().filter(|r| r.op == "upsert") {
        if let Ok(kind) = parse_stored::<EntityKind>(&row.entity) {
            ids.entry(kind).or_default().push(row.record_id);
        }
    }
    let mut out = HashMap::new();
    for (kind, ids) in ids {
        out.extend(
            of_kind(db, actor, kind, &ids).await?.into_iter().map(|(id, v)| ((kind, id), v)),
        );
    }
    Ok(out)
}

/// The records of one kind with these ids, in the actor's organisation.
pub async fn of_kind<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    kind: EntityKind,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, Value)>, DbErr> {
    let org = actor.organisation_id;
    let ids = ids.to_vec();
    let json = |id: Uuid, v: Option<Value>| v.map(|v| (id, v));
    Ok(match kind {
        EntityKind::Person => person::Entity::find()
            .filter(person::Column::OrganisationId.eq(org))
            .filter(person::Column::Id.is_in(ids))
            .all(db)
            .await?
            .into_iter()
            .filter_map(|m| json(m.id, PersonView::for_actor(m, actor).to_json()))
            .collect(),
        EntityKind::Contact => {
            let contacts = contact::Entity::find()
                .filter(contact::Column::OrganisationId.eq(org))
                .filter(contact::Column::Id.is_in(ids.clone()))
                .all(db)
                .await?;
            let mut lines: HashMap<Uuid, Vec<kit_line::Model>> = HashMap::new();
            for line in kit_line::Entity::find()
                .filter(kit_line::Column::ContactId.is_in(ids))
                .order_by_asc(kit_line::Column::Position)
                .all(db)
                .await?
            {
                lines.entry(line.contact_id).or_default().push(line);
            }
            contacts
                .into_iter()
                .filter_map(|m| {
                    let id = m.id;
                    let own = lines.remove(&id).unwrap_or_default();
                    json(id, ContactView::new(m, own).to_json())
                })
                .collect()
        }
        EntityKind::Incident => incident::Entity::find()
            .filter(incident::Column::OrganisationId.eq(org))
            .filter(incident::Column::Id.is_in(ids))
            .all(db)
            .await?
            .into_iter()
            .filter_map(|m| json(m.id, IncidentView::from(m).to_json()))
            .collect(),
        EntityKind::Referral => referral::Entity::find()
            .filter(referral::Column::OrganisationId.eq(org))
            .filter(referral::Column::Id.is_in(ids))
            .all(db)
            .await?
            .into_iter()
            .filter_map(|m| json(m.id, ReferralView::from(m).to_json()))
            .collect(),
        EntityKind::ReferralStep => referral_step::Entity::find()
            .filter(referral_step::Column::OrganisationId.eq(org))
            .filter(referral_step::Column::Id.is_in(ids))
            .all(db)
            .await?
            .into_iter()
            .filter_map(|m| json(m.id, ReferralStepView::from(m).to_json()))
            .collect(),
        EntityKind::Conflict => sync_conflict::Entity::find()
            .filter(sync_conflict::Column::OrganisationId.eq(org))
            .filter(sync_conflict::Column::Id.is_in(ids))
            .all(db)
            .await?
            .into_iter()
            .filter_map(|m| json(m.id, ConflictView::for_actor(m, actor).to_json()))
            .collect(),
        EntityKind::Site
        | EntityKind::KitItem
        | EntityKind::Substance
        | EntityKind::PartnerService => {
            crate::service::reference::records::records_json(db, org, kind, &ids).await?
        }
    })
}
