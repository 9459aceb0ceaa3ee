//! Integrators' API keys: scoped, shown once, stored as a SHA-256 hash.

use chrono::{DateTime, Utc};
use outpost_entity::api_key;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
    TransactionTrait, sea_query::Expr,
};
use uuid::Uuid;

use super::{
    ServiceError, ServiceResult,
    audit::{self, AuditEntry},
    validate,
};
use crate::{
    caller::{Caller, IntegratorCaller, RequestMeta},
    domain::{ApiKeyScope, parse_stored, stored_name},
    secrets::{API_KEY_PREFIX, hash_secret, new_secret},
    state::AppState,
};

/// How often `last_used_at` is written for a busy key.
const LAST_USED_RESOLUTION: chrono::Duration = chrono::Duration::minutes(1);

/// A key to create.
pub struct NewApiKey {
    /// What it is for ("County council returns").
    pub name: String,
    /// What it may do; at least one.
    pub scopes: Vec<ApiKeyScope>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
}

/// The parsed scopes of a stored key.
pub fn scopes_of(key: &api_key::Model) -> Vec<ApiKeyScope> {
    key.scopes.split_whitespace().filter_map(|s| parse_stored(s).ok()).collect()
}

/// Creates a key; answers the row and the key itself, which is never shown
/// again.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    new: NewApiKey,
) -> ServiceResult<(api_key::Model, String)> {
    let name = validate::text("name", &new.name, 200)?;
    if new.scopes.is_empty() {
        return Err(ServiceError::invalid("scopes", "give at least one scope"));
    }
    if new.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(ServiceError::invalid("expires_at", "must be in the future"));
    }
    if new.expires_at.is_some_and(|at| !crate::records::fields::in_years(&at)) {
        return Err(ServiceError::invalid("expires_at", "must be a time before 2200"));
    }
    let mut scopes: Vec<String> = new.scopes.iter().map(stored_name).collect();
    scopes.sort();
    scopes.dedup();
    let secret = new_secret(API_KEY_PREFIX);
    let txn = state.db.begin().await?;
    let key = api_key::ActiveModel {
        id: Set(Uuid::now_v7()),
        organisation_id: Set(caller.organisation_id()),
        name: Set(name),
        prefix: Set(secret[..API_KEY_PREFIX.len() + 8].to_owned()),
        key_hash: Set(hash_secret(&secret)),
        scopes: Set(scopes.join(" ")),
        created_by: Set(caller.user_id()),
        created_at: Set(Utc::now()),
        last_used_at: Set(None),
        expires_at: Set(new.expires_at),
        revoked_at: Set(None),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        caller,
        Some(&meta.request_id),
        AuditEntry::new("api_key.created", "api_key", key.id)
            .with_detail(serde_json::json!({ "scopes": scopes })),
    )
    .await?;
    txn.commit().await?;
    Ok((key, secret))
}

/// The organisation's keys, newest first.
pub async fn list(state: &AppState, caller: &Caller) -> ServiceResult<Vec<api_key::Model>> {
    Ok(api_key::Entity::find()
        .filter(api_key::Column::OrganisationId.eq(caller.organisation_id()))
        .order_by_desc(api_key::Column::CreatedAt)
        .order_by_desc(api_key::Column::Id)
        .all(&state.db)
        .await?)
}

/// Revokes a key (idempotent); it stops working on the next request.
pub async fn revoke(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    id: Uuid,
) -> ServiceResult<api_key::Model> {
    let txn = state.db.begin().await?;
    let key = api_key::Entity::find_by_id(id)
        .filter(api_key::Column::OrganisationId.eq(caller.organisation_id()))
        .one(&txn)
        .await?
        .ok_or(ServiceError::NotFound("API key"))?;
    if key.revoked_at.is_some() {
        return Ok(key);
    }
    let mut active = key.into_active_model();
    active.revoked_at = Set(Some(Utc::now()));
    let key = active.update(&txn).await?;
    audit::record(
        &txn,
        caller,
        Some(&meta.request_id),
        AuditEntry::new("api_key.revoked", "api_key", id),
    )
    .await?;
    txn.commit().await?;
    Ok(key)
}

/// Resolves a presented key. Keys are checked against the database on every
/// request, so a revocation takes effect at once on every instance.
pub async fn resolve(state: &AppState, secret: &str) -> ServiceResult<Option<IntegratorCaller>> {
    if !secret.starts_with(API_KEY_PREFIX) {
        return Ok(None);
    }
    let Some(key) = api_key::Entity::find()
        .filter(api_key::Column::KeyHash.eq(hash_secret(secret)))
        .one(&state.db)
        .await?
    else {
        return Ok(None);
    };
    let now = Utc::now();
    if key.revoked_at.is_some() || key.expires_at.is_some_and(|at| at <= now) {
        return Ok(None);
    }
    if key.last_used_at.is_none_or(|at| now - at >= LAST_USED_RESOLUTION) {
        api_key::Entity::update_many()
            .col_expr(api_key::Column::LastUsedAt, Expr::value(now))
            .filter(api_key::Column::Id.eq(key.id))
            .exec(&state.db)
            .await?;
    }
    Ok(Some(IntegratorCaller {
        api_key_id: key.id,
        organisation_id: key.organisation_id,
        scopes: scopes_of(&key),
    }))
}
