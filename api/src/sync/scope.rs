//! Scope changes (sync.md, guarantee 6). When a worker leaves a site, the
//! records of that site they did not record themselves leave their scope:
//! the feed tells their devices to evict them. When they join a site, its
//! records are fed to them. When a record moves to another site, the
//! workers and viewers who saw it only through its old site are told to
//! evict it. Entries are addressed to that user only.

use std::collections::HashSet;

use outpost_entity::{referral_step, stock_location, stock_threshold, user, user_site};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::{
    EntityKind,
    feed::{self, ChangeOp, FeedEntry},
};
use crate::{
    domain::{Role, stored_name},
    records::{kind::SyncRecord, row},
};

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

/// The live records at `sites` that `user_id` did not record, and what
/// comes and goes with them.
async fn records_at<C: ConnectionTrait>(
    db: &C,
    org: Uuid,
    user_id: Uuid,
    sites: &[Uuid],
) -> Result<Vec<(EntityKind, Uuid, i64)>, DbErr> {
    let mut out = Vec::new();
    for kind in EntityKind::ALL {
        crate::with_record!(kind, R => if R::PLACED {
            let ids = placed_at::<R, C>(db, org, user_id, sites).await?;
            let only: Vec<Uuid> = ids.iter().map(|(id, _)| *id).collect();
            out.extend(ids.into_iter().map(|(id, v)| (kind, id, v)));
            out.extend(R::dependants(db, org, &only).await?);
        }, else {})
    }
    // The sites' stock locations come and go with them too.
    let locations: Vec<(Uuid, i64)> = stock_location::Entity::find()
        .select_only()
        .columns([stock_location::Column::Id, stock_location::Column::Version])
        .filter(stock_location::Column::OrganisationId.eq(org))
        .filter(stock_location::Column::SiteId.is_in(sites.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    out.extend(locations.into_iter().map(|(id, v)| (EntityKind::StockLocation, id, v)));
    let thresholds: Vec<(Uuid, i64)> = stock_threshold::Entity::find()
        .select_only()
        .columns([stock_threshold::Column::Id, stock_threshold::Column::Version])
        .filter(stock_threshold::Column::OrganisationId.eq(org))
        .filter(stock_threshold::Column::SiteId.is_in(sites.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    out.extend(thresholds.into_iter().map(|(id, v)| (EntityKind::StockThreshold, id, v)));
    Ok(out)
}

/// The live records of `R` at `sites` that `user_id` did not record: id
/// and version.
async fn placed_at<R: SyncRecord, C: ConnectionTrait>(
    db: &C,
    org: Uuid,
    user_id: Uuid,
    sites: &[Uuid],
) -> Result<Vec<(Uuid, i64)>, DbErr> {
    let col = |name| row::column::<R::Entity>(name);
    let mut query = R::Entity::find()
        .select_only()
        .columns([col("id")?, col("version")?, col("recorded_by")?])
        .filter(col("organisation_id")?.eq(org))
        .filter(col("site_id")?.is_in(sites.iter().copied()));
    // Kinds never deleted (a stock ledger's entries) have no tombstones.
    if let Ok(deleted_at) = col("deleted_at") {
        query = query.filter(deleted_at.is_null());
    }
    let rows: Vec<(Uuid, i64, Option<Uuid>)> = query.into_tuple().all(db).await?;
    Ok(rows
        .into_iter()
        .filter(|(_, _, by)| *by != Some(user_id))
        .map(|(id, v, _)| (id, v))
        .collect())
}

/// Moves a referral's steps with it to `new_site`: their feed entries are
/// appended again at the new site (so its staff receive them), replacing
/// the old ones, and those who lose sight of the referral evict them too.
/// Returns the entries to append.
#[allow(clippy::too_many_arguments)]
pub async fn move_steps<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    referral_id: Uuid,
    evicted: &[Uuid],
    new_site: Option<Uuid>,
    owner: Option<Uuid>,
) -> Result<Vec<FeedEntry>, DbErr> {
    use outpost_entity::sync_change;
    let steps: Vec<(Uuid, i64)> = referral_step::Entity::find()
        .select_only()
        .column(referral_step::Column::Id)
        .column(referral_step::Column::Version)
        .filter(referral_step::Column::OrganisationId.eq(organisation_id))
        .filter(referral_step::Column::ReferralId.eq(referral_id))
        .into_tuple()
        .all(db)
        .await?;
    if steps.is_empty() {
        return Ok(Vec::new());
    }
    // A step's version moves only when the server flags it, so the feed
    // would not replace their entries by itself.
    sync_change::Entity::delete_many()
        .filter(sync_change::Column::OrganisationId.eq(organisation_id))
        .filter(sync_change::Column::Entity.eq(EntityKind::ReferralStep.as_str()))
        .filter(sync_change::Column::RecordId.is_in(steps.iter().map(|(id, _)| *id)))
        .filter(sync_change::Column::AudienceUserId.is_null())
        .exec(db)
        .await?;
    let mut entries = Vec::new();
    for (step, version) in steps {
        for user_id in evicted {
            let mut entry =
                FeedEntry::upsert(EntityKind::ReferralStep, step, version).for_user(*user_id);
            entry.op = ChangeOp::Evict;
            entries.push(entry);
        }
        entries.push(
            FeedEntry::upsert(EntityKind::ReferralStep, step, version).at_site(new_site, owner),
        );
    }
    Ok(entries)
}

/// The evictions that follow a record moving from `old_site` to `new_site`
/// (`None`: site-less, which every worker sees): one for each worker or
/// viewer who saw it through its old site and does not through its new
/// one. The recorder keeps seeing their own record.
#[allow(clippy::too_many_arguments)]
pub async fn moved_site<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    kind: EntityKind,
    record_id: Uuid,
    version: i64,
    old_site: Option<Uuid>,
    new_site: Option<Uuid>,
    owner: Option<Uuid>,
) -> Result<Vec<FeedEntry>, DbErr> {
    if old_site == new_site || new_site.is_none() {
        return Ok(Vec::new());
    }
    let staff: Vec<Uuid> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::OrganisationId.eq(organisation_id))
        .filter(user::Column::Role.is_in([Role::Worker, Role::Viewer].map(|r| stored_name(&r))))
        .into_tuple()
        .all(db)
        .await?;
    let mut sites: std::collections::HashMap<Uuid, HashSet<Uuid>> = Default::default();
    for chunk in staff.chunks(500) {
        let rows: Vec<(Uuid, Uuid)> = user_site::Entity::find()
            .select_only()
            .columns([user_site::Column::UserId, user_site::Column::SiteId])
            .filter(user_site::Column::UserId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        for (user_id, site_id) in rows {
            sites.entry(user_id).or_default().insert(site_id);
        }
    }
    let sees = |user_id: &Uuid, site: Option<Uuid>| {
        owner == Some(*user_id)
            || site.is_none_or(|s| sites.get(user_id).is_some_and(|own| own.contains(&s)))
    };
    Ok(staff
        .iter()
        .filter(|u| sees(u, old_site) && !sees(u, new_site))
        .map(|u| {
            let mut entry = FeedEntry::upsert(kind, record_id, version).for_user(*u);
            entry.op = ChangeOp::Evict;
            entry
        })
        .collect())
}
