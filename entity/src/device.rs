//! A phone or tablet registered to a user. Its id is generated on the device.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "devices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub platform: Option<String>,
    /// Set when the device is lost or retired; no session may use it again.
    pub revoked_at: Option<ChronoDateTimeUtc>,
    pub last_seen_at: ChronoDateTimeUtc,
    pub created_at: ChronoDateTimeUtc,
    /// The stock location (its bag) a contact recorded on it takes its kit
    /// from when it names none.
    pub stock_location_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
