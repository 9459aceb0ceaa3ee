//! A mutation the server has applied, kept so a replay gets the original result.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_mutations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub organisation_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub mutation_id: Uuid,
    pub user_id: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub api_key_id: Option<Uuid>,
    pub entity: String,
    pub record_id: Uuid,
    pub outcome: String,
    /// The result sent back, as JSON.
    pub result: String,
    pub received_at: ChronoDateTimeUtc,
    /// A digest of what the mutation changes (op, base version, fields);
    /// `None` on rows logged before it was kept.
    pub digest: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
