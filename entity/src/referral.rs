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
    /// When it was first sent (the steps derive this and what follows).
    pub sent_at: Option<ChronoDateTimeUtc>,
    /// Until when the partner has to respond (by urgency, from `sent_at`).
    pub respond_by: Option<ChronoDateTimeUtc>,
    /// When the server expires it if still unanswered.
    pub expires_at: Option<ChronoDateTimeUtc>,
    /// When the server found it past `respond_by` and told the referrer.
    pub overdue_at: Option<ChronoDateTimeUtc>,
    /// The time of its first booked appointment.
    pub first_appointment_at: Option<ChronoDateTimeUtc>,
    pub seconds_to_acknowledgement: Option<i64>,
    pub seconds_to_acceptance: Option<i64>,
    pub seconds_to_first_appointment: Option<i64>,
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
