//! A person the service works with, often known only by a street name.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "persons")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub version: i64,
    /// JSON object: field name to the version that last changed it.
    pub field_versions: String,
    pub alias: Option<String>,
    pub initials: Option<String>,
    pub name_quality: String,
    pub birth_year: Option<i32>,
    pub birth_date: Option<Date>,
    pub dob_quality: String,
    pub gender: Option<String>,
    pub description: Option<String>,
    /// JSON array of `{kind, priority, expires_on, note}`.
    pub risk_flags: String,
    pub nhs_number: Option<String>,
    pub chain_id: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
    pub deleted_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
