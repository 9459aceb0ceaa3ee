//! One entry of the change feed: the latest change of a record (or an eviction
//! for one user), numbered by the organisation's counter.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_changes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub organisation_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    pub entity: String,
    pub record_id: Uuid,
    /// `upsert`, `delete` or `evict`.
    pub op: String,
    pub version: i64,
    /// Who may receive it: `org`, `site` or `owner`.
    pub visibility: String,
    pub site_id: Option<Uuid>,
    pub owner_user_id: Option<Uuid>,
    /// Set when the entry is meant for one user only (evictions, new scope).
    pub audience_user_id: Option<Uuid>,
    pub changed_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
