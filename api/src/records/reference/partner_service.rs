//! A partner service referrals go to (reference data).

use chrono::{DateTime, Utc};
use outpost_entity::partner_service;
use poem_openapi::Object;
use uuid::Uuid;

use super::vocab::ServiceType;
use crate::domain::parse_stored;

/// A partner service.
#[derive(Object)]
pub struct PartnerServiceView {
    /// Its id; referrals point at it.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// What kind of service it is.
    pub service_type: ServiceType,
    /// How to refer: phone, secure email, form.
    pub contact_route: Option<String>,
    /// When it is open.
    pub opening_hours: Option<String>,
    /// The broad area it serves.
    pub area: Option<String>,
    /// Whether it is an organisation on Outpost: referrals sent to it reach
    /// its inbox (linked by an admin, with a code from the partner).
    pub on_outpost: bool,
    /// Bumped on every change.
    pub version: i64,
    /// Set when archived.
    pub archived_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<partner_service::Model> for PartnerServiceView {
    fn from(m: partner_service::Model) -> Self {
        Self {
            id: m.id,
            // Only this server writes the column, from the same enum.
            service_type: parse_stored(&m.service_type).unwrap_or(ServiceType::Welfare),
            name: m.name,
            contact_route: m.contact_route,
            opening_hours: m.opening_hours,
            area: m.area,
            on_outpost: m.linked_organisation_id.is_some(),
            version: m.version,
            archived_at: m.archived_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}
