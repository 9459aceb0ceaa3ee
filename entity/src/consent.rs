//! What a person agreed to: purposes, the partner services it covers, how
//! and when it was given, until when. Appended; a revocation is its own
//! record and sets `revoked_at` here.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organisation_id: Uuid,
    /// 1, then one more each time a revocation moves `revoked_at` (earlier).
    pub version: i64,
    pub person_id: Uuid,
    /// JSON array of `ConsentPurpose` codes.
    pub purposes: String,
    /// JSON array of partner service ids (empty: the organisation only).
    pub partner_service_ids: String,
    /// A `ConsentMethod` code.
    pub how: String,
    /// When it was given (device time).
    pub occurred_at: ChronoDateTimeUtc,
    pub expires_at: Option<ChronoDateTimeUtc>,
    pub note: Option<String>,
    /// The earliest revocation's time.
    pub revoked_at: Option<ChronoDateTimeUtc>,
    pub recorded_by: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
