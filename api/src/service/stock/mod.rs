//! Stock through REST: locations (managers edit them), the ledger's
//! entries and on-hand per location and item. Entries are written through
//! the sync engine (`http::records::create`), with the rules a push has.

pub mod levels;
pub mod locations;
pub mod thresholds;

use chrono::{DateTime, Utc};
use outpost_entity::stock_entry;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use uuid::Uuid;

use super::{
    ServiceError, ServiceResult,
    records::{Page, split},
};
use crate::{
    caller::Actor,
    domain::stored_name,
    records::{stock_entry::StockEntryView, vocab::StockEntryKind},
};

/// Filters of the ledger list.
#[derive(Default)]
pub struct EntryFilter {
    /// At this location (either end of a transfer).
    pub location_id: Option<Uuid>,
    /// Of this item.
    pub item_code: Option<String>,
    /// Of this kind.
    pub kind: Option<StockEntryKind>,
    /// Occurred at or after.
    pub occurred_from: Option<DateTime<Utc>>,
    /// Occurred before.
    pub occurred_to: Option<DateTime<Utc>>,
}

/// A page of ledger entries in the actor's scope, oldest id first.
pub async fn list_entries<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    filter: EntryFilter,
    after: Option<Uuid>,
    limit: u64,
) -> ServiceResult<Page<StockEntryView>> {
    use stock_entry::Column as Col;
    let query = stock_entry::Entity::find()
        .filter(Col::OrganisationId.eq(actor.organisation_id))
        .filter(actor.site_condition(Col::SiteId, Col::RecordedBy))
        .apply_if(after, |q, after| q.filter(Col::Id.gt(after)))
        .apply_if(filter.location_id, |q, location| {
            q.filter(
                sea_orm::Condition::any()
                    .add(Col::LocationId.eq(location))
                    .add(Col::ToLocationId.eq(location)),
            )
        })
        .apply_if(filter.item_code, |q, code| q.filter(Col::ItemCode.eq(code)))
        .apply_if(filter.kind, |q, kind| q.filter(Col::Kind.eq(stored_name(&kind))))
        .apply_if(filter.occurred_from, |q, from| q.filter(Col::OccurredAt.gte(from)))
        .apply_if(filter.occurred_to, |q, to| q.filter(Col::OccurredAt.lt(to)));
    let rows = query.order_by_asc(Col::Id).limit(limit + 1).all(db).await?;
    let (rows, next_after) = split(rows, limit, |m| m.id);
    Ok(Page { items: rows.into_iter().map(StockEntryView::from).collect(), next_after })
}

/// A ledger entry in the actor's scope.
pub async fn get_entry<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: Uuid,
) -> ServiceResult<StockEntryView> {
    use stock_entry::Column as Col;
    stock_entry::Entity::find_by_id(id)
        .filter(Col::OrganisationId.eq(actor.organisation_id))
        .filter(actor.site_condition(Col::SiteId, Col::RecordedBy))
        .one(db)
        .await?
        .map(StockEntryView::from)
        .ok_or(ServiceError::NotFound("stock entry"))
}
