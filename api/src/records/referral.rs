//! Referrals to partner services. The referral's own fields are editable
//! and merged field by field; its status moves only by appended steps, so
//! two workers recording steps offline never conflict: the status is the
//! step latest by `occurred_at` (then id), whatever order they arrive in.

use chrono::{DateTime, Utc};
use outpost_entity::{referral, referral_step};
use poem_openapi::Object;
use sea_orm::Set;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{
    checks,
    context::{Actor, BatchContext},
    fields::{FieldSpec, Rejection, RejectionCode, bool_of, boolean, code, str_of, text, uuid_of},
    vocab::{ReferralStatus, ServiceType, Urgency},
};
use crate::domain::parse_stored;

fn reason(field: &str, value: &Value, _: &BatchContext) -> Result<Value, Rejection> {
    match text(field, value, 2000)? {
        Value::Null => Err(Rejection::invalid(field, "must not be empty")),
        v => Ok(v),
    }
}

/// The fields a referral is created with.
pub const CREATE_SPECS: &[FieldSpec] = &[
    FieldSpec { name: "person_id", nullable: false, required: true, check: checks::person_id },
    FieldSpec { name: "occurred_at", nullable: false, required: false, check: checks::occurred_at },
    FieldSpec {
        name: "status",
        nullable: false,
        required: false,
        check: |f, v, _| code::<ReferralStatus>(f, v),
    },
    FieldSpec {
        name: "partner_service_id",
        nullable: true,
        required: false,
        check: checks::partner_service_id,
    },
    FieldSpec {
        name: "service_type",
        nullable: false,
        required: true,
        check: |f, v, _| code::<ServiceType>(f, v),
    },
    FieldSpec { name: "reason", nullable: false, required: true, check: reason },
    FieldSpec {
        name: "urgency",
        nullable: false,
        required: false,
        check: |f, v, _| code::<Urgency>(f, v),
    },
    FieldSpec {
        name: "consent_to_share",
        nullable: false,
        required: true,
        check: |f, v, _| boolean(f, v),
    },
    FieldSpec { name: "site_id", nullable: true, required: false, check: checks::site_id },
];

/// The fields an update may change (the person and the status may not:
/// status moves by steps).
pub const UPDATE_SPECS: &[FieldSpec] = &[
    FieldSpec {
        name: "partner_service_id",
        nullable: true,
        required: false,
        check: checks::partner_service_id,
    },
    FieldSpec {
        name: "service_type",
        nullable: false,
        required: false,
        check: |f, v, _| code::<ServiceType>(f, v),
    },
    FieldSpec { name: "reason", nullable: false, required: false, check: reason },
    FieldSpec {
        name: "urgency",
        nullable: false,
        required: false,
        check: |f, v, _| code::<Urgency>(f, v),
    },
    FieldSpec {
        name: "consent_to_share",
        nullable: false,
        required: false,
        check: |f, v, _| boolean(f, v),
    },
    FieldSpec { name: "site_id", nullable: true, required: false, check: checks::site_id },
];

/// The fields of a referral step.
pub const STEP_SPECS: &[FieldSpec] = &[
    FieldSpec { name: "referral_id", nullable: false, required: true, check: referral_id },
    FieldSpec {
        name: "status",
        nullable: false,
        required: true,
        check: |f, v, _| code::<ReferralStatus>(f, v),
    },
    FieldSpec { name: "occurred_at", nullable: false, required: true, check: checks::occurred_at },
    FieldSpec { name: "note", nullable: true, required: false, check: checks::note },
];

fn referral_id(field: &str, value: &Value, ctx: &BatchContext) -> Result<Value, Rejection> {
    let id = super::fields::uuid(field, value)?;
    if ctx.referrals.contains(&id) {
        Ok(Value::String(id.to_string()))
    } else {
        Err(Rejection::new(RejectionCode::UnknownReference, Some(field), "no such referral"))
    }
}

/// The editable fields of a stored referral, canonical.
pub fn to_map(m: &referral::Model) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("partner_service_id".into(), json!(m.partner_service_id.map(|u| u.to_string())));
    map.insert("service_type".into(), json!(m.service_type));
    map.insert("reason".into(), json!(m.reason));
    map.insert("urgency".into(), json!(m.urgency));
    map.insert("consent_to_share".into(), json!(m.consent_to_share));
    map.insert("site_id".into(), json!(m.site_id.map(|u| u.to_string())));
    map
}

/// Writes canonical editable `fields` onto an active model.
pub fn apply(active: &mut referral::ActiveModel, fields: &Map<String, Value>) {
    for name in fields.keys() {
        match name.as_str() {
            "partner_service_id" => active.partner_service_id = Set(uuid_of(fields, name)),
            "service_type" => active.service_type = Set(str_of(fields, name).unwrap_or_default()),
            "reason" => active.reason = Set(str_of(fields, name).unwrap_or_default()),
            "urgency" => active.urgency = Set(str_of(fields, name).unwrap_or_default()),
            "consent_to_share" => {
                active.consent_to_share = Set(bool_of(fields, name).unwrap_or(false));
            }
            "site_id" => active.site_id = Set(uuid_of(fields, name)),
            _ => {}
        }
    }
}

fn time_of(fields: &Map<String, Value>, name: &str) -> Option<DateTime<Utc>> {
    str_of(fields, name)
        .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// The rows for a new referral: the referral and its first step.
pub fn new_rows(
    id: Uuid,
    actor: &Actor,
    fields: &Map<String, Value>,
    field_versions: String,
    now: DateTime<Utc>,
) -> (referral::ActiveModel, referral_step::ActiveModel) {
    let occurred_at = time_of(fields, "occurred_at").unwrap_or(now);
    let status = str_of(fields, "status").unwrap_or_else(|| "draft".into());
    let mut active = referral::ActiveModel {
        id: Set(id),
        organisation_id: Set(actor.organisation_id),
        version: Set(1),
        field_versions: Set(field_versions),
        person_id: Set(uuid_of(fields, "person_id").unwrap_or_default()),
        partner_service_id: Set(None),
        service_type: Set(String::new()),
        reason: Set(String::new()),
        urgency: Set("routine".into()),
        consent_to_share: Set(false),
        status: Set(status.clone()),
        status_at: Set(occurred_at),
        site_id: Set(None),
        occurred_at: Set(occurred_at),
        recorded_by: Set(actor.user_id),
        device_id: Set(actor.device_id),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    };
    apply(&mut active, fields);
    let first_step = referral_step::ActiveModel {
        id: Set(Uuid::now_v7()),
        organisation_id: Set(actor.organisation_id),
        referral_id: Set(id),
        status: Set(status),
        occurred_at: Set(occurred_at),
        note: Set(None),
        recorded_by: Set(actor.user_id),
        device_id: Set(actor.device_id),
        created_at: Set(now),
    };
    (active, first_step)
}

/// The row for a new step.
pub fn new_step(
    id: Uuid,
    actor: &Actor,
    fields: &Map<String, Value>,
    now: DateTime<Utc>,
) -> referral_step::ActiveModel {
    referral_step::ActiveModel {
        id: Set(id),
        organisation_id: Set(actor.organisation_id),
        referral_id: Set(uuid_of(fields, "referral_id").unwrap_or_default()),
        status: Set(str_of(fields, "status").unwrap_or_default()),
        occurred_at: Set(time_of(fields, "occurred_at").unwrap_or(now)),
        note: Set(str_of(fields, "note")),
        recorded_by: Set(actor.user_id),
        device_id: Set(actor.device_id),
        created_at: Set(now),
    }
}

/// A referral, as the API and the sync feed show it.
#[derive(Object)]
pub struct ReferralView {
    /// Its id (generated on the device).
    pub id: Uuid,
    /// The server's version; send it as `base_version` or `If-Match`.
    pub version: i64,
    /// Who is referred.
    pub person_id: Uuid,
    /// To which partner service.
    pub partner_service_id: Option<Uuid>,
    /// The kind of service.
    pub service_type: ServiceType,
    /// Why.
    pub reason: String,
    /// How soon.
    pub urgency: Urgency,
    /// Whether the person consented to their details being shared.
    pub consent_to_share: bool,
    /// Where it is in its life (from the latest step).
    pub status: ReferralStatus,
    /// When the latest step happened.
    pub status_at: DateTime<Utc>,
    /// The site that made it.
    pub site_id: Option<Uuid>,
    /// When it was made (device time).
    pub occurred_at: DateTime<Utc>,
    /// Who made it.
    pub recorded_by: Option<Uuid>,
    /// When the server stored it.
    pub created_at: DateTime<Utc>,
    /// When the server last changed it.
    pub updated_at: DateTime<Utc>,
}

impl From<referral::Model> for ReferralView {
    fn from(m: referral::Model) -> Self {
        Self {
            id: m.id,
            version: m.version,
            person_id: m.person_id,
            partner_service_id: m.partner_service_id,
            service_type: parse_stored(&m.service_type).unwrap_or(ServiceType::Welfare),
            reason: m.reason,
            urgency: parse_stored(&m.urgency).unwrap_or(Urgency::Routine),
            consent_to_share: m.consent_to_share,
            status: parse_stored(&m.status).unwrap_or(ReferralStatus::Draft),
            status_at: m.status_at,
            site_id: m.site_id,
            occurred_at: m.occurred_at,
            recorded_by: m.recorded_by,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// A step of a referral.
#[derive(Object)]
pub struct ReferralStepView {
    /// Its id.
    pub id: Uuid,
    /// Always 1: steps are never edited.
    pub version: i64,
    /// The referral.
    pub referral_id: Uuid,
    /// The status it moved to.
    pub status: ReferralStatus,
    /// When (device time).
    pub occurred_at: DateTime<Utc>,
    /// A note (a reason for a decline, an outcome).
    pub note: Option<String>,
    /// Who recorded it.
    pub recorded_by: Option<Uuid>,
}

impl From<referral_step::Model> for ReferralStepView {
    fn from(m: referral_step::Model) -> Self {
        Self {
            id: m.id,
            version: 1,
            referral_id: m.referral_id,
            status: parse_stored(&m.status).unwrap_or(ReferralStatus::Draft),
            occurred_at: m.occurred_at,
            note: m.note,
            recorded_by: m.recorded_by,
        }
    }
}
