//! Stock locations: a site's store, its vans, its workers' bags. Managers
//! and admins create and edit them; everyone reads those of their sites.
//! Each change goes to the feed for the site's staff. A location is
//! archived, never deleted: its ledger keeps pointing at it.

use chrono::Utc;
use outpost_entity::{site, stock_location};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QueryTrait, Set, TransactionTrait,
};
use uuid::Uuid;

use crate::{
    caller::{Actor, Caller, RequestMeta},
    domain::stored_name,
    records::vocab::StockLocationKind,
    service::{
        ServiceError, ServiceResult,
        audit::{self, AuditEntry},
        validate,
    },
    state::AppState,
    sync::{
        EntityKind,
        feed::{self, FeedEntry},
    },
};

/// A location to create.
pub struct NewLocation {
    /// The site it belongs to.
    pub site_id: Uuid,
    /// A store, a van or a bag.
    pub kind: StockLocationKind,
    /// Its name.
    pub name: String,
}

/// Changes to a location; `None` leaves a field as it is.
#[derive(Default)]
pub struct LocationChanges {
    /// A new name.
    pub name: Option<String>,
    /// A new kind.
    pub kind: Option<StockLocationKind>,
    /// Archive (`true`) or bring back (`false`).
    pub archived: Option<bool>,
}

/// The locations the actor sees (those of their sites, or all for managers
/// and admins), by site then name; archived ones only when asked.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    site_id: Option<Uuid>,
    include_archived: bool,
) -> ServiceResult<Vec<stock_location::Model>> {
    use stock_location::Column as Col;
    let mut query = stock_location::Entity::find()
        .filter(Col::OrganisationId.eq(actor.organisation_id))
        .apply_if(site_id, |q, site| q.filter(Col::SiteId.eq(site)))
        .order_by_asc(Col::SiteId)
        .order_by_asc(Col::Name)
        .order_by_asc(Col::Id);
    if !actor.sees_everything() {
        query = query.filter(Col::SiteId.is_in(actor.site_ids.iter().copied()));
    }
    if !include_archived {
        query = query.filter(Col::ArchivedAt.is_null());
    }
    Ok(query.all(db).await?)
}

/// One location the actor sees.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: Uuid,
) -> ServiceResult<stock_location::Model> {
    stock_location::Entity::find_by_id(id)
        .filter(stock_location::Column::OrganisationId.eq(actor.organisation_id))
        .one(db)
        .await?
        .filter(|l| actor.may_see(Some(l.site_id), None))
        .ok_or(ServiceError::NotFound("stock location"))
}

/// Creates a location at an active site.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    actor: &Actor,
    new: NewLocation,
) -> ServiceResult<stock_location::Model> {
    let name = validate::text("name", &new.name, 200)?;
    let txn = state.db.begin().await?;
    let site = site::Entity::find_by_id(new.site_id)
        .filter(site::Column::OrganisationId.eq(actor.organisation_id))
        .filter(site::Column::ArchivedAt.is_null())
        .one(&txn)
        .await?;
    if site.is_none() {
        return Err(ServiceError::invalid("site_id", "no such active site"));
    }
    let now = Utc::now();
    let location = stock_location::ActiveModel {
        id: Set(Uuid::now_v7()),
        organisation_id: Set(actor.organisation_id),
        site_id: Set(new.site_id),
        kind: Set(stored_name(&new.kind)),
        name: Set(name),
        version: Set(1),
        archived_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    commit(txn, caller, meta, "stock_location.created", &location).await?;
    Ok(location)
}

/// Edits a location made from `base` (its version): a stale base answers
/// 412 and changes nothing.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    actor: &Actor,
    id: Uuid,
    base: i64,
    changes: LocationChanges,
) -> ServiceResult<stock_location::Model> {
    let name = changes.name.map(|n| validate::text("name", &n, 200)).transpose()?;
    let txn = state.db.begin().await?;
    // Locked until commit: two edits from the same version cannot both pass.
    let location =
        crate::sync::editable::lock::<_, stock_location::Entity>(&txn, actor.organisation_id, id)
            .await?
            .filter(|l| actor.may_see(Some(l.site_id), None))
            .ok_or(ServiceError::NotFound("stock location"))?;
    if location.version != base {
        return Err(ServiceError::VersionMismatch(location.version));
    }
    let version = location.version + 1;
    let archived_at = location.archived_at;
    let mut active = location.into_active_model();
    if let Some(name) = name {
        active.name = Set(name);
    }
    if let Some(kind) = changes.kind {
        active.kind = Set(stored_name(&kind));
    }
    let now = Utc::now();
    match changes.archived {
        Some(true) if archived_at.is_none() => active.archived_at = Set(Some(now)),
        Some(false) => active.archived_at = Set(None),
        _ => {}
    }
    active.version = Set(version);
    active.updated_at = Set(now);
    let location = active.update(&txn).await?;
    commit(txn, caller, meta, "stock_location.updated", &location).await?;
    Ok(location)
}

/// Audits the change and puts the location on its site's feed; commits.
async fn commit(
    txn: DatabaseTransaction,
    caller: &Caller,
    meta: &RequestMeta,
    action: &str,
    location: &stock_location::Model,
) -> ServiceResult<()> {
    audit::record(
        &txn,
        caller,
        Some(&meta.request_id),
        AuditEntry::new(action, EntityKind::StockLocation.as_str(), location.id),
    )
    .await?;
    // Last before commit: it takes the organisation's feed counter.
    feed::append(
        &txn,
        location.organisation_id,
        vec![
            FeedEntry::upsert(EntityKind::StockLocation, location.id, location.version)
                .at_site(Some(location.site_id), None),
        ],
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
