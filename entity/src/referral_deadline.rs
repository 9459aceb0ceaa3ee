//! An organisation's deadlines for referrals of one urgency: to respond,
//! and to expire unanswered.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "referral_deadlines")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub organisation_id: Uuid,
    /// An `Urgency` of the API, snake_case.
    #[sea_orm(primary_key, auto_increment = false)]
    pub urgency: String,
    pub respond_within_minutes: i64,
    pub expire_after_minutes: i64,
    pub version: i64,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
