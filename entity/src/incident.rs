//! An incident: an overdose, naloxone given, violence, a safeguarding concern.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "incidents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub version: i64,
    pub occurred_at: ChronoDateTimeUtc,
    pub site_id: Option<Uuid>,
    pub location_area: Option<String>,
    pub incident_type: String,
    pub severity: String,
    /// JSON array of `{person_id}` or `{unknown_party}`.
    pub people: String,
    /// JSON array of substance codes.
    pub substances: String,
    pub ambulance_called: bool,
    pub ambulance_arrived: bool,
    pub naloxone_doses: i32,
    pub rescue_breaths: bool,
    pub outcome: Option<String>,
    pub note: Option<String>,
    pub recorded_by: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
    pub deleted_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
