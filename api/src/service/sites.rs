//! Sites: day centres, hostels, night shelters, outreach teams and vans.
//! Archiving keeps a site's history (records will keep pointing at it).
//! Sites are reference data every device holds: each change goes to the
//! change feed, versioned by `updated_at` in microseconds (sites have no
//! version column).

use chrono::Utc;
use outpost_entity::site;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use uuid::Uuid;

use super::{
    ServiceError, ServiceResult,
    audit::{self, AuditEntry},
    validate,
};
use crate::{
    caller::{Caller, RequestMeta},
    domain::{SiteKind, stored_name},
    state::AppState,
    sync::{
        EntityKind,
        feed::{self, FeedEntry},
    },
};

/// Puts the site's new state on the change feed; last before commit.
pub(crate) async fn append_to_feed<C: sea_orm::ConnectionTrait>(
    db: &C,
    site: &site::Model,
) -> Result<(), sea_orm::DbErr> {
    let version = site.updated_at.timestamp_micros();
    feed::append(
        db,
        site.organisation_id,
        vec![FeedEntry::upsert(EntityKind::Site, site.id, version)],
    )
    .await
}

/// A site to create.
pub struct NewSite {
    /// Display name.
    pub name: String,
    /// What kind of site it is.
    pub kind: SiteKind,
    /// The broad area it covers.
    pub area: Option<String>,
}

/// Changes to a site; `None` leaves a field as it is.
#[derive(Default)]
pub struct SiteChanges {
    /// New name.
    pub name: Option<String>,
    /// New kind.
    pub kind: Option<SiteKind>,
    /// New area; `Some(None)` clears it.
    pub area: Option<Option<String>>,
}

/// The organisation's sites, by name; archived ones only when asked.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    include_archived: bool,
) -> ServiceResult<Vec<site::Model>> {
    let mut query = site::Entity::find()
        .filter(site::Column::OrganisationId.eq(caller.organisation_id()))
        .order_by_asc(site::Column::Name)
        .order_by_asc(site::Column::Id);
    if !include_archived {
        query = query.filter(site::Column::ArchivedAt.is_null());
    }
    Ok(query.all(&state.db).await?)
}

/// The sites of the caller's organisation with these ids, archived or not,
/// by name.
pub async fn with_ids(
    state: &AppState,
    caller: &Caller,
    ids: &[Uuid],
) -> ServiceResult<Vec<site::Model>> {
    Ok(site::Entity::find()
        .filter(site::Column::OrganisationId.eq(caller.organisation_id()))
        .filter(site::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(site::Column::Name)
        .order_by_asc(site::Column::Id)
        .all(&state.db)
        .await?)
}

/// One site of the caller's organisation.
pub async fn get<C: sea_orm::ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: Uuid,
) -> ServiceResult<site::Model> {
    site::Entity::find_by_id(id)
        .filter(site::Column::OrganisationId.eq(caller.organisation_id()))
        .one(db)
        .await?
        .ok_or(ServiceError::NotFound("site"))
}

fn area(value: Option<String>) -> ServiceResult<Option<String>> {
    value.map(|a| validate::text("area", &a, 200)).transpose()
}

/// Creates a site.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    new: NewSite,
) -> ServiceResult<site::Model> {
    let name = validate::text("name", &new.name, 200)?;
    let area = area(new.area)?;
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let site = site::ActiveModel {
        id: Set(Uuid::now_v7()),
        organisation_id: Set(caller.organisation_id()),
        name: Set(name),
        kind: Set(stored_name(&new.kind)),
        area: Set(area),
        archived_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        caller,
        Some(&meta.request_id),
        AuditEntry::new("site.created", "site", site.id),
    )
    .await?;
    append_to_feed(&txn, &site).await?;
    txn.commit().await?;
    Ok(site)
}

/// Edits a site.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    id: Uuid,
    changes: SiteChanges,
) -> ServiceResult<site::Model> {
    let name = changes.name.map(|n| validate::text("name", &n, 200)).transpose()?;
    let new_area = changes.area.map(area).transpose()?;
    let txn = state.db.begin().await?;
    let mut active = get(&txn, caller, id).await?.into_active_model();
    if let Some(name) = name {
        active.name = Set(name);
    }
    if let Some(kind) = changes.kind {
        active.kind = Set(stored_name(&kind));
    }
    if let Some(area) = new_area {
        active.area = Set(area);
    }
    active.updated_at = Set(Utc::now());
    let site = active.update(&txn).await?;
    audit::record(
        &txn,
        caller,
        Some(&meta.request_id),
        AuditEntry::new("site.updated", "site", site.id),
    )
    .await?;
    append_to_feed(&txn, &site).await?;
    txn.commit().await?;
    Ok(site)
}

/// Archives a site (idempotent): it leaves lists but keeps its history.
pub async fn archive(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    id: Uuid,
) -> ServiceResult<site::Model> {
    let txn = state.db.begin().await?;
    let site = get(&txn, caller, id).await?;
    if site.archived_at.is_some() {
        return Ok(site);
    }
    let mut active = site.into_active_model();
    let now = Utc::now();
    active.archived_at = Set(Some(now));
    active.updated_at = Set(now);
    let site = active.update(&txn).await?;
    audit::record(
        &txn,
        caller,
        Some(&meta.request_id),
        AuditEntry::new("site.archived", "site", site.id),
    )
    .await?;
    append_to_feed(&txn, &site).await?;
    txn.commit().await?;
    Ok(site)
}
