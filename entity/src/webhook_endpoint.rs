//! An organisation's webhook endpoint: where referral events are sent.
//! Its signing secret is derived from the server's key and its id, never
//! stored.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub url: String,
    /// JSON array of `WebhookEvent` codes.
    pub events: String,
    pub created_at: ChronoDateTimeUtc,
    /// Set when removed: nothing more is queued for it.
    pub disabled_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
