//! A stock location: a site's store, a van or an outreach bag (reference
//! data managers edit; synced to the devices of its site's staff).

use chrono::{DateTime, Utc};
use outpost_entity::stock_location;
use poem_openapi::Object;
use uuid::Uuid;

use crate::domain::parse_stored;
use crate::records::vocab::StockLocationKind;

/// A stock location.
#[derive(Object)]
pub struct StockLocationView {
    /// Its id.
    pub id: Uuid,
    /// The site it belongs to.
    pub site_id: Uuid,
    /// A store, a van or a bag.
    pub kind: StockLocationKind,
    /// Its name (e.g. "Van 2", "Sam's bag").
    pub name: String,
    /// Bumped on every change; send it as `If-Match`.
    pub version: i64,
    /// Set when archived (its ledger stays).
    pub archived_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<stock_location::Model> for StockLocationView {
    fn from(m: stock_location::Model) -> Self {
        Self {
            id: m.id,
            site_id: m.site_id,
            // Only this server writes the column, from the same enum.
            kind: parse_stored(&m.kind).unwrap_or(StockLocationKind::Store),
            name: m.name,
            version: m.version,
            archived_at: m.archived_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}
