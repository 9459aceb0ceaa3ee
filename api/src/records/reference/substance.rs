//! A substance with its street names (reference data).

use chrono::{DateTime, Utc};
use outpost_entity::substance;
use poem_openapi::Object;
use uuid::Uuid;

use super::vocab::SubstanceCategory;
use crate::domain::parse_stored;

/// A substance with its street names.
#[derive(Object)]
pub struct SubstanceView {
    /// Its id.
    pub id: Uuid,
    /// Its code, unique in the organisation; records store it.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its pharmacological group.
    pub category: SubstanceCategory,
    /// Street names that resolve to this code, ignoring case.
    pub aliases: Vec<String>,
    /// Bumped on every change.
    pub version: i64,
    /// Set when archived.
    pub archived_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<substance::Model> for SubstanceView {
    fn from(m: substance::Model) -> Self {
        Self {
            id: m.id,
            aliases: aliases_of(&m),
            // Only this server writes the column, from the same enum.
            category: parse_stored(&m.category).unwrap_or(SubstanceCategory::Other),
            code: m.code,
            name: m.name,
            version: m.version,
            archived_at: m.archived_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// The street names stored on a row.
pub fn aliases_of(substance: &substance::Model) -> Vec<String> {
    serde_json::from_str(&substance.aliases).unwrap_or_default()
}

/// The key a name is compared by: lower case, single spaces, trimmed.
pub fn name_key(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}
