//! One event to deliver to one endpoint, queued in the transaction of the
//! change it announces, then claimed and attempted until it succeeds or
//! its retries run out.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    /// Also the `webhook-id` header: receivers deduplicate by it.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub endpoint_id: Uuid,
    /// A `WebhookEvent` code.
    pub event: String,
    /// The JSON body, as sent (and signed).
    pub payload: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: ChronoDateTimeUtc,
    /// While an instance is attempting it.
    pub locked_until: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
    pub delivered_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
