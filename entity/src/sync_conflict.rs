//! A field-level conflict: the same fields changed on the server and on a device
//! from one base.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_conflicts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub entity: String,
    pub record_id: Uuid,
    /// JSON object: field name to `{base, mine, theirs}`.
    pub fields: String,
    pub base_version: i64,
    pub server_version: i64,
    pub raised_by: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub mutation_id: Uuid,
    /// `open` or `resolved`.
    pub status: String,
    pub resolution: Option<String>,
    /// JSON object of the values the resolution wrote.
    pub resolved_values: Option<String>,
    pub resolved_by: Option<Uuid>,
    pub resolved_at: Option<ChronoDateTimeUtc>,
    pub version: i64,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
