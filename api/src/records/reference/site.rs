//! A site: where the service works (reference data).

use chrono::{DateTime, Utc};
use outpost_entity::site;
use poem_openapi::Object;
use uuid::Uuid;

use crate::domain::{SiteKind, parse_stored};

/// A site.
#[derive(Object)]
pub struct SiteView {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// What kind of site it is.
    pub kind: SiteKind,
    /// The broad area it covers (never a precise address).
    pub area: Option<String>,
    /// Set when archived.
    pub archived_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<site::Model> for SiteView {
    fn from(m: site::Model) -> Self {
        Self {
            id: m.id,
            // Only this server writes the column, from the same enum.
            kind: parse_stored(&m.kind).unwrap_or(SiteKind::DayCentre),
            name: m.name,
            area: m.area,
            archived_at: m.archived_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}
