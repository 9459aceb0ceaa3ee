//! The durable half of a login session. The hot half (sliding expiry) lives
//! in Redis; this row is what survives a Redis restart or flush.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// SHA-256 of the bearer token, hex; the token itself is never stored.
    #[sea_orm(unique)]
    pub token_hash: String,
    pub organisation_id: Uuid,
    pub user_id: Uuid,
    pub device_id: Option<Uuid>,
    pub created_at: ChronoDateTimeUtc,
    /// Written at most once per touch interval, so the idle expiry survives
    /// Redis without a database write on every request.
    pub last_seen_at: ChronoDateTimeUtc,
    /// The absolute expiry, however active the session is.
    pub expires_at: ChronoDateTimeUtc,
    pub revoked_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
