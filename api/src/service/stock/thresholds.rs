//! Low-stock thresholds: the least a location should hold of an item.
//! Managers and admins set them; everyone reads those of their sites, and
//! their devices receive each one, again whenever on-hand crosses it
//! (`stock::ledger::thresholds_crossed`).

use chrono::Utc;
use outpost_entity::{stock_location, stock_threshold};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QueryTrait, Set, TransactionTrait,
};
use uuid::Uuid;

use crate::{
    caller::{Actor, Caller, RequestMeta},
    records::{reference::catalogue::Catalogue, reference::stock_threshold::StockThresholdView},
    service::{
        ServiceError, ServiceResult,
        audit::{self, AuditEntry},
    },
    state::AppState,
    stock::ledger,
    sync::{
        EntityKind,
        feed::{self, FeedEntry},
    },
};

/// Filters of the threshold list.
#[derive(Default)]
pub struct ThresholdFilter {
    /// At this site's locations.
    pub site_id: Option<Uuid>,
    /// At this location.
    pub location_id: Option<Uuid>,
    /// Only those under (`true`) or not under (`false`) their minimum.
    pub below: Option<bool>,
}

/// The thresholds the actor sees, by location then item, with on-hand.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    filter: ThresholdFilter,
) -> ServiceResult<Vec<StockThresholdView>> {
    use stock_threshold::Column as Col;
    let mut query = stock_threshold::Entity::find()
        .filter(Col::OrganisationId.eq(actor.organisation_id))
        .apply_if(filter.site_id, |q, site| q.filter(Col::SiteId.eq(site)))
        .apply_if(filter.location_id, |q, location| q.filter(Col::LocationId.eq(location)))
        .apply_if(filter.below, |q, below| q.filter(Col::Below.eq(below)))
        .order_by_asc(Col::LocationId)
        .order_by_asc(Col::ItemCode);
    if !actor.sees_everything() {
        query = query.filter(Col::SiteId.is_in(actor.site_ids.iter().copied()));
    }
    let rows = query.all(db).await?;
    views(db, actor.organisation_id, rows).await
}

/// One threshold the actor sees.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: Uuid,
) -> ServiceResult<StockThresholdView> {
    let row = row(db, actor, id).await?;
    Ok(views(db, actor.organisation_id, vec![row]).await?.remove(0))
}

/// Sets a threshold for an item at a location (one per location and item:
/// a second answers 409 `threshold_exists`).
pub async fn create(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    actor: &Actor,
    location_id: Uuid,
    item_code: String,
    minimum: i64,
) -> ServiceResult<StockThresholdView> {
    let txn = state.db.begin().await?;
    let location = stock_location::Entity::find_by_id(location_id)
        .filter(stock_location::Column::OrganisationId.eq(actor.organisation_id))
        .filter(stock_location::Column::ArchivedAt.is_null())
        .one(&txn)
        .await?
        .filter(|l| actor.may_see(Some(l.site_id), None))
        .ok_or_else(|| ServiceError::invalid("location_id", "no such active stock location"))?;
    let catalogue = Catalogue::load(&txn, actor.organisation_id).await?;
    if !catalogue.has_kit_item(&item_code) {
        return Err(ServiceError::invalid("item_code", "not an active item of the kit catalogue"));
    }
    if !catalogue.pack_components(&item_code).is_empty() {
        return Err(ServiceError::invalid(
            "item_code",
            "packs are stocked as their components: set thresholds on those",
        ));
    }
    // No push books this item here meanwhile: on-hand read now stays
    // current until the threshold is committed, and pushes after it see it.
    let key = std::collections::BTreeSet::from([(location_id, item_code.clone())]);
    ledger::claim(&txn, actor.organisation_id, &key, true).await?;
    let taken = stock_threshold::Entity::find()
        .filter(stock_threshold::Column::OrganisationId.eq(actor.organisation_id))
        .filter(stock_threshold::Column::LocationId.eq(location_id))
        .filter(stock_threshold::Column::ItemCode.eq(item_code.as_str()))
        .one(&txn)
        .await?;
    if taken.is_some() {
        return Err(ServiceError::ConflictOn {
            code: "threshold_exists",
            field: "item_code",
            detail: "this location has a threshold for this item: edit it".into(),
        });
    }
    let on_hand = on_hand(&txn, actor.organisation_id, location_id, &item_code).await?;
    let now = Utc::now();
    let threshold = stock_threshold::ActiveModel {
        id: Set(Uuid::now_v7()),
        organisation_id: Set(actor.organisation_id),
        location_id: Set(location_id),
        site_id: Set(location.site_id),
        item_code: Set(item_code),
        minimum: Set(minimum),
        below: Set(on_hand < minimum),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    commit(txn, caller, meta, "stock_threshold.created", &threshold).await?;
    Ok(StockThresholdView::new(threshold, on_hand))
}

/// Changes a threshold's minimum, made from `base` (its version).
#[allow(clippy::too_many_arguments)]
pub async fn update(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    actor: &Actor,
    id: Uuid,
    base: i64,
    minimum: i64,
) -> ServiceResult<StockThresholdView> {
    let txn = state.db.begin().await?;
    let found = row(&txn, actor, id).await?;
    // As at creation: no push moves this item's on-hand meanwhile, and the
    // row is ours until commit (a push crossing it waits).
    let key = std::collections::BTreeSet::from([(found.location_id, found.item_code.clone())]);
    ledger::claim(&txn, actor.organisation_id, &key, true).await?;
    let current =
        crate::sync::editable::lock::<_, stock_threshold::Entity>(&txn, actor.organisation_id, id)
            .await?
            .ok_or(ServiceError::NotFound("stock threshold"))?;
    if current.version != base {
        return Err(ServiceError::VersionMismatch(current.version));
    }
    let on_hand =
        on_hand(&txn, actor.organisation_id, current.location_id, &current.item_code).await?;
    let version = current.version + 1;
    let mut active = current.into_active_model();
    active.minimum = Set(minimum);
    active.below = Set(on_hand < minimum);
    active.version = Set(version);
    active.updated_at = Set(Utc::now());
    let threshold = active.update(&txn).await?;
    commit(txn, caller, meta, "stock_threshold.updated", &threshold).await?;
    Ok(StockThresholdView::new(threshold, on_hand))
}

async fn row<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: Uuid,
) -> ServiceResult<stock_threshold::Model> {
    stock_threshold::Entity::find_by_id(id)
        .filter(stock_threshold::Column::OrganisationId.eq(actor.organisation_id))
        .one(db)
        .await?
        .filter(|t| actor.may_see(Some(t.site_id), None))
        .ok_or(ServiceError::NotFound("stock threshold"))
}

/// On-hand of one item at one location (0 when the ledger never moved it).
async fn on_hand<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    location_id: Uuid,
    item_code: &str,
) -> ServiceResult<i64> {
    let key = (location_id, item_code.to_owned());
    let levels = ledger::on_hand_of(db, organisation_id, [key.clone()]).await?;
    Ok(levels.get(&key).copied().unwrap_or(0))
}

async fn views<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    rows: Vec<stock_threshold::Model>,
) -> ServiceResult<Vec<StockThresholdView>> {
    let keys = rows.iter().map(|t| (t.location_id, t.item_code.clone()));
    let levels = ledger::on_hand_of(db, organisation_id, keys).await?;
    Ok(rows
        .into_iter()
        .map(|t| {
            let on_hand = levels.get(&(t.location_id, t.item_code.clone())).copied().unwrap_or(0);
            StockThresholdView::new(t, on_hand)
        })
        .collect())
}

/// Audits the change and puts the threshold on its site's feed; commits.
async fn commit(
    txn: DatabaseTransaction,
    caller: &Caller,
    meta: &RequestMeta,
    action: &str,
    threshold: &stock_threshold::Model,
) -> ServiceResult<()> {
    audit::record(
        &txn,
        caller,
        Some(&meta.request_id),
        AuditEntry::new(action, EntityKind::StockThreshold.as_str(), threshold.id),
    )
    .await?;
    // Last before commit: it takes the organisation's feed counter.
    let entry = FeedEntry::upsert(EntityKind::StockThreshold, threshold.id, threshold.version)
        .at_site(Some(threshold.site_id), None);
    feed::append(&txn, threshold.organisation_id, vec![entry]).await?;
    txn.commit().await?;
    Ok(())
}
