//! A rapid referral to a partner service; its status comes from its steps.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "referrals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub version: i64,
    /// JSON object: field name to the version that last changed it.
    pub field_versions: String,
    pub person_id: Uuid,
    pub partner_service_id: Option<Uuid>,
    pub service_type: String,
    pub reason: String,
    pub urgency: String,
    pub consent_to_share: bool,
    /// The status of the latest step (by `occurred_at`, then id).
    pub status: String,
    pub status_at: ChronoDateTimeUtc,
    pub site_id: Option<Uuid>,
    pub occurred_at: ChronoDateTimeUtc,
    pub recorded_by: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
    pub deleted_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
