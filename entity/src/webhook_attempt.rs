//! One attempt at a webhook delivery: what the endpoint answered, how
//! long it took, or why it failed.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_attempts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub delivery_id: Uuid,
    pub attempted_at: ChronoDateTimeUtc,
    /// The HTTP status, when one came back.
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    /// Why it failed (a timeout, a refused connection, a non-2xx status).
    pub error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
