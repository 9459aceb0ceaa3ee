//! A kit catalogue item (reference data).

use chrono::{DateTime, Utc};
use outpost_entity::kit_item;
use poem_openapi::Object;
use uuid::Uuid;

use super::vocab::KitCategory;
use crate::domain::parse_stored;

/// An item of the kit catalogue.
#[derive(Object)]
pub struct KitItemView {
    /// Its id.
    pub id: Uuid,
    /// Its code, unique in the organisation; kit lines record it.
    pub code: String,
    /// Its name.
    pub name: String,
    /// The category reports count it under.
    pub category: KitCategory,
    /// How it is counted, e.g. `each` or `pack of 10`.
    pub unit: String,
    /// What a pre-made pack expands into; empty for an ordinary item.
    pub components: Vec<PackComponent>,
    /// Bumped on every change.
    pub version: i64,
    /// Set when archived.
    pub archived_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<kit_item::Model> for KitItemView {
    fn from(m: kit_item::Model) -> Self {
        Self {
            id: m.id,
            components: components_of(&m),
            // Only this server writes the column, from the same enum.
            category: parse_stored(&m.category).unwrap_or(KitCategory::Other),
            code: m.code,
            name: m.name,
            unit: m.unit,
            version: m.version,
            archived_at: m.archived_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// One component of a pre-made pack.
#[derive(Object, Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PackComponent {
    /// The code of an ordinary (not pack) kit item.
    pub code: String,
    /// How many of it the pack holds (1 to 1000).
    pub quantity: i32,
}

/// The components stored on a row (`[]` when unreadable, which only this
/// server writes).
pub fn components_of(item: &kit_item::Model) -> Vec<PackComponent> {
    serde_json::from_str(&item.components).unwrap_or_default()
}
