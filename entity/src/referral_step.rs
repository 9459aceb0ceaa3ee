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
    pub recorded_by: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
