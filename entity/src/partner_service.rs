//! A partner service of the organisation's directory, which referrals go to.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "partner_services")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub name: String,
    /// One of the `ServiceType` values of the API, as its snake_case name.
    pub service_type: String,
    /// How to refer: phone, secure email, form.
    pub contact_route: Option<String>,
    pub opening_hours: Option<String>,
    /// The broad area it serves.
    pub area: Option<String>,
    /// The organisation on Outpost this service is (its inbox receives
    /// the referrals sent to it), linked with a code its admin gave.
    pub linked_organisation_id: Option<Uuid>,
    pub version: i64,
    pub archived_at: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
