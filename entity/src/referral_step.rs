//! One step in a referral's life (sent, accepted, attended...), appended and
//! never edited.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "referral_steps")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub referral_id: Uuid,
    pub status: String,
    pub occurred_at: ChronoDateTimeUtc,
    pub note: Option<String>,
    /// Why (a decline's reason, a withdrawal's).
    pub reason: Option<String>,
    /// A close's outcome (a `ReferralOutcome` of the API, snake_case).
    pub outcome: Option<String>,
    /// A booking's appointment time.
    pub appointment_at: Option<ChronoDateTimeUtc>,
    /// Set by the server when the step does not follow the one before it
    /// in `occurred_at` order (a step that arrived late came between):
    /// kept, skipped by the status, shown to managers.
    pub flag: Option<String>,
    /// 1, then one more each time the server changes `flag`.
    pub version: i64,
    /// The partner organisation whose staff recorded it, from its inbox.
    pub partner_organisation_id: Option<Uuid>,
    /// The partner's staff member who recorded it.
    pub partner_user_id: Option<Uuid>,
    pub recorded_by: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
