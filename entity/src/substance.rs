//! A substance of the organisation's coded list, with the street names that
//! map onto its code.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "substances")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organisation_id: Uuid,
    /// Unique per organisation; contacts and incidents store it.
    pub code: String,
    pub name: String,
    /// One of the `SubstanceCategory` values of the API, as its snake_case name.
    pub category: String,
    /// JSON array of street names.
    pub aliases: String,
    pub version: i64,
    pub archived_at: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
