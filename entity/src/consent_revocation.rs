//! A person's revocation of a consent they gave, appended.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consent_revocations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub consent_id: Uuid,
    /// The consent's person (copied, for the person's history).
    pub person_id: Uuid,
    /// A `ConsentMethod` code.
    pub how: String,
    /// When it was revoked (device time).
    pub occurred_at: ChronoDateTimeUtc,
    pub note: Option<String>,
    pub recorded_by: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
