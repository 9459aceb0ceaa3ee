//! Scope changes (sync.md, guarantee 6). When a worker leaves a site, the
//! records of that site they did not record themselves leave their scope:
//! the feed tells their devices to evict them. When they join a site, its
//! records are fed to them. Entries are addressed to that user only.

use std::collections::HashSet;

use outpost_entity::{contact, incident, referral, referral_step};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::{
    EntityKind,
    feed::{self, ChangeOp, FeedEntry},
};
use crate::domain::Role;

/// Appends the evictions and upserts that follow a change of `user_id`'s
/// sites. Call it last in the transaction that changes the sites.
pub async fn sites_changed<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    user_id: Uuid,
    role: Role,
    before: &[Uuid],
    after: &[Uuid],
) -> Result<(), DbErr> {
    if !matches!(role, Role::Worker | Role::Viewer) {
        // Managers and admins see every site's records anyway.
        return Ok(());
    }
    let before: HashSet<Uuid> = before.iter().copied().collect();
    let after: HashSet<Uuid> = after.iter().copied().collect();
    let left: Vec<Uuid> = before.difference(&after).copied().collect();
    let joined: Vec<Uuid> = after.difference(&before).copied().collect();
    let mut entries = Vec::new();
    for (sites, op) in [(left, ChangeOp::Evict), (joined, ChangeOp::Upsert)] {
        if sites.is_empty() {
            continue;
        }
        for (kind, id, version) in records_at(db, organisation_id, user_id, &sites).await? {
            let mut entry = FeedEntry::upsert(kind, id, version).for_user(user_id);
            entry.op = op;
            entries.push(entry);
        }
    }
    feed::append(db, organisation_id, entries).await
}

/// The live records at `sites` that `user_id` did not record.
async fn records_at<C: ConnectionTrait>(
    db: &C,
    org: Uuid,
    user_id: Uuid,
    sites: &[Uuid],
) -> Result<Vec<(EntityKind, Uuid, i64)>, DbErr> {
    let mut out = Vec::new();
    let contacts: Vec<(Uuid, i64, Option<Uuid>)> = contact::Entity::find()
        .select_only()
        .columns([contact::Column::Id, contact::Column::Version, contact::Column::RecordedBy])
        .filter(contact::Column::OrganisationId.eq(org))
        .filter(contact::Column::SiteId.is_in(sites.iter().copied()))
        .filter(contact::Column::DeletedAt.is_null())
        .into_tuple()
        .all(db)
        .await?;
    out.extend(
        contacts
            .into_iter()
            .filter(|(_, _, by)| *by != Some(user_id))
            .map(|(id, v, _)| (EntityKind::Contact, id, v)),
    );
    let incidents: Vec<(Uuid, i64, Option<Uuid>)> = incident::Entity::find()
        .select_only()
        .columns([incident::Column::Id, incident::Column::Version, incident::Column::RecordedBy])
        .filter(incident::Column::OrganisationId.eq(org))
        .filter(incident::Column::SiteId.is_in(sites.iter().copied()))
        .filter(incident::Column::DeletedAt.is_null())
        .into_tuple()
        .all(db)
        .await?;
    out.extend(
        incidents
            .into_iter()
            .filter(|(_, _, by)| *by != Some(user_id))
            .map(|(id, v, _)| (EntityKind::Incident, id, v)),
    );
    let referrals: Vec<(Uuid, i64, Option<Uuid>)> = referral::Entity::find()
        .select_only()
        .columns([referral::Column::Id, referral::Column::Version, referral::Column::RecordedBy])
        .filter(referral::Column::OrganisationId.eq(org))
        .filter(referral::Column::SiteId.is_in(sites.iter().copied()))
        .filter(referral::Column::DeletedAt.is_null())
        .into_tuple()
        .all(db)
        .await?;
    let referral_ids: Vec<Uuid> =
        referrals.iter().filter(|(_, _, by)| *by != Some(user_id)).map(|(id, _, _)| *id).collect();
    out.extend(
        referrals
            .into_iter()
            .filter(|(_, _, by)| *by != Some(user_id))
            .map(|(id, v, _)| (EntityKind::Referral, id, v)),
    );
    for chunk in referral_ids.chunks(500) {
        let steps: Vec<Uuid> = referral_step::Entity::find()
            .select_only()
            .column(referral_step::Column::Id)
            .filter(referral_step::Column::ReferralId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(steps.into_iter().map(|id| (EntityKind::ReferralStep, id, 1)));
    }
    Ok(out)
}
