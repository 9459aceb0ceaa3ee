//! On-hand per location and item, as the ledger's sum keeps it.

use chrono::{DateTime, Utc};
use outpost_entity::{stock_level, stock_location};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
};
use uuid::Uuid;

use crate::{caller::Actor, service::ServiceResult};

/// On-hand of one item at one location.
#[derive(Debug, Clone)]
pub struct Level {
    /// The location.
    pub location_id: Uuid,
    /// Its site.
    pub site_id: Uuid,
    /// The item.
    pub item_code: String,
    /// How many the ledger says are there (negative when more was handed
    /// out than the ledger knew had arrived).
    pub on_hand: i64,
    /// When a movement last changed it.
    pub updated_at: DateTime<Utc>,
}

/// Filters of the on-hand list.
#[derive(Default)]
pub struct LevelFilter {
    /// At this site's locations.
    pub site_id: Option<Uuid>,
    /// At this location.
    pub location_id: Option<Uuid>,
    /// Of this item.
    pub item_code: Option<String>,
}

/// Where a page of levels starts: after this location and item.
pub type LevelCursor = (Uuid, String);

/// A page of on-hand figures at the locations the actor sees (archived
/// ones too: stock may remain), by location then item.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    filter: LevelFilter,
    after: Option<LevelCursor>,
    limit: u64,
) -> ServiceResult<(Vec<Level>, Option<LevelCursor>)> {
    use stock_location::Column as L;
    let mut locations = stock_location::Entity::find()
        .select_only()
        .columns([L::Id, L::SiteId])
        .filter(L::OrganisationId.eq(actor.organisation_id))
        .apply_if(filter.site_id, |q, site| q.filter(L::SiteId.eq(site)))
        .apply_if(filter.location_id, |q, id| q.filter(L::Id.eq(id)));
    if !actor.sees_everything() {
        locations = locations.filter(L::SiteId.is_in(actor.site_ids.iter().copied()));
    }
    let sites: std::collections::HashMap<Uuid, Uuid> =
        locations.into_tuple::<(Uuid, Uuid)>().all(db).await?.into_iter().collect();
    if sites.is_empty() {
        return Ok((Vec::new(), None));
    }
    use stock_level::Column as C;
    let mut query = stock_level::Entity::find()
        .filter(C::OrganisationId.eq(actor.organisation_id))
        .filter(C::LocationId.is_in(sites.keys().copied()))
        .apply_if(filter.item_code, |q, code| q.filter(C::ItemCode.eq(code)));
    if let Some((location, item)) = after {
        query = query.filter(
            Condition::any()
                .add(C::LocationId.gt(location))
                .add(Condition::all().add(C::LocationId.eq(location)).add(C::ItemCode.gt(item))),
        );
    }
    let mut rows = query
        .order_by_asc(C::LocationId)
        .order_by_asc(C::ItemCode)
        .limit(limit + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next = if more { rows.last().map(|r| (r.location_id, r.item_code.clone())) } else { None };
    let levels = rows
        .into_iter()
        .map(|r| Level {
            site_id: sites[&r.location_id],
            location_id: r.location_id,
            item_code: r.item_code,
            on_hand: r.on_hand,
            updated_at: r.updated_at,
        })
        .collect();
    Ok((levels, next))
}
