//! A contact: one encounter with a person (or an anonymous one).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "contacts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub version: i64,
    pub occurred_at: ChronoDateTimeUtc,
    pub site_id: Option<Uuid>,
    pub location_area: Option<String>,
    pub person_id: Option<Uuid>,
    /// JSON array of user ids.
    pub worker_ids: String,
    pub contact_type: String,
    pub living_situation: Option<String>,
    /// JSON array of intervention codes.
    pub interventions: String,
    /// JSON array of `{code, known_by}`.
    pub substances: String,
    pub note: Option<String>,
    pub returns_count: i32,
    pub returns_estimated: bool,
    /// Where its kit came from (booked out of that stock location).
    pub stock_location_id: Option<Uuid>,
    pub recorded_by: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
    pub deleted_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
