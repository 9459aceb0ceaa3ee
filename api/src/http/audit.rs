//! The audit trail (admins).

use chrono::{DateTime, Utc};
use outpost_entity::audit_event;
use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Query, payload::Json};
use uuid::Uuid;

use super::{
    ApiTags,
    security::{self, SessionToken},
};
use crate::{
    caller::Caller, domain::Permission, error::ApiResult, service::audit_query, state::AppState,
};

/// One audited action.
#[derive(Object)]
pub struct AuditEventView {
    /// Its id (time-ordered).
    pub id: Uuid,
    /// The user who acted, if a user did.
    pub actor_user_id: Option<Uuid>,
    /// The API key that acted, if a key did.
    pub actor_api_key_id: Option<Uuid>,
    /// What happened, e.g. `user.created`, `device.revoked`, `login.failed`.
    pub action: String,
    /// The kind of record acted on.
    pub target_type: String,
    /// The record acted on.
    pub target_id: Option<Uuid>,
    /// Non-sensitive detail, as JSON.
    pub detail: Option<serde_json::Value>,
    /// The request that did it.
    pub request_id: Option<String>,
    /// When.
    pub occurred_at: DateTime<Utc>,
}

impl From<audit_event::Model> for AuditEventView {
    fn from(m: audit_event::Model) -> Self {
        Self {
            id: m.id,
            actor_user_id: m.actor_user_id,
            actor_api_key_id: m.actor_api_key_id,
            action: m.action,
            target_type: m.target_type,
            target_id: m.target_id,
            detail: m.detail.and_then(|d| serde_json::from_str(&d).ok()),
            request_id: m.request_id,
            occurred_at: m.occurred_at,
        }
    }
}

/// A page of the audit trail.
#[derive(Object)]
pub struct AuditEventPage {
    /// Newest first.
    pub items: Vec<AuditEventView>,
    /// Pass as `before` to get the next (older) page; absent on the last.
    pub next_before: Option<Uuid>,
}

/// The audit trail.
#[derive(Default)]
pub struct AuditApi;

#[OpenApi(tag = "ApiTags::Audit")]
impl AuditApi {
    /// Page through the organisation's audit trail, newest first (admins).
    #[oai(path = "/v1/audit-events", method = "get", operation_id = "list_audit_events")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: SessionToken,
        /// Only events older than this event id (the previous page's
        /// `next_before`).
        before: Query<Option<Uuid>>,
        /// Page size, 1 to 500 (default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u64>>,
    ) -> ApiResult<Json<AuditEventPage>> {
        let caller = Caller::User(security::user(&state, &auth).await?);
        caller.require(Permission::ReadAudit)?;
        let page = audit_query::page(&state, &caller, before.0, limit.0.unwrap_or(100)).await?;
        Ok(Json(AuditEventPage {
            items: page.items.into_iter().map(AuditEventView::from).collect(),
            next_before: page.next_before,
        }))
    }
}
