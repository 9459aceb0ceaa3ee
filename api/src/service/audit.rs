//! The audit trail: who did what to which record, and when.

use chrono::Utc;
use outpost_entity::audit_event;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, Set};
use uuid::Uuid;

use crate::caller::Caller;

/// One thing to record.
pub struct AuditEntry<'a> {
    /// What happened, e.g. `user.created`.
    pub action: &'a str,
    /// The kind of record it happened to, e.g. `user`.
    pub target_type: &'a str,
    /// The record.
    pub target_id: Option<Uuid>,
    /// Non-sensitive detail.
    pub detail: Option<serde_json::Value>,
}

impl<'a> AuditEntry<'a> {
    /// `action` done to the `target_type` record `target_id`.
    pub fn new(action: &'a str, target_type: &'a str, target_id: uuid::Uuid) -> Self {
        Self { action, target_type, target_id: Some(target_id), detail: None }
    }

    /// Adds non-sensitive detail.
    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }
}

/// Appends an audit event for `caller` inside `db` (a transaction, so the
/// change and its audit entry commit together).
pub async fn record<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    request_id: Option<&str>,
    entry: AuditEntry<'_>,
) -> Result<(), DbErr> {
    record_raw(
        db,
        caller.organisation_id(),
        caller.user_id(),
        caller.api_key_id(),
        request_id,
        entry,
    )
    .await
}

/// Appends an audit event with an explicit actor (login, before a caller
/// exists).
pub async fn record_raw<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    actor_user_id: Option<Uuid>,
    actor_api_key_id: Option<Uuid>,
    request_id: Option<&str>,
    entry: AuditEntry<'_>,
) -> Result<(), DbErr> {
    audit_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        organisation_id: Set(organisation_id),
        actor_user_id: Set(actor_user_id),
        actor_api_key_id: Set(actor_api_key_id),
        action: Set(entry.action.to_owned()),
        target_type: Set(entry.target_type.to_owned()),
        target_id: Set(entry.target_id),
        detail: Set(entry.detail.map(|d| d.to_string())),
        request_id: Set(request_id.map(str::to_owned)),
        occurred_at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    Ok(())
}
