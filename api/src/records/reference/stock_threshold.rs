//! A low-stock threshold: the least a location should hold of an item
//! before the next round, and whether on-hand is under it.

use chrono::{DateTime, Utc};
use outpost_entity::stock_threshold;
use poem_openapi::Object;
use uuid::Uuid;

/// A low-stock threshold.
#[derive(Object)]
pub struct StockThresholdView {
    /// Its id.
    pub id: Uuid,
    /// The location.
    pub location_id: Uuid,
    /// The location's site.
    pub site_id: Uuid,
    /// The kit item's code.
    pub item_code: String,
    /// The least the location should hold.
    pub minimum: i64,
    /// On-hand now (the ledger's sum).
    pub on_hand: i64,
    /// Whether on-hand is under the minimum: the location needs restocking.
    pub below: bool,
    /// Bumped on every change, and whenever on-hand crosses the minimum;
    /// send it as `If-Match`.
    pub version: i64,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl StockThresholdView {
    /// The view of a stored threshold, with the location's on-hand of the
    /// item.
    pub fn new(m: stock_threshold::Model, on_hand: i64) -> Self {
        Self {
            id: m.id,
            location_id: m.location_id,
            site_id: m.site_id,
            item_code: m.item_code,
            minimum: m.minimum,
            on_hand,
            below: m.below,
            version: m.version,
            updated_at: m.updated_at,
        }
    }
}
