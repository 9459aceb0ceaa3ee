//! Login sessions: hot state in Redis with a sliding expiry, durable rows in
//! the database.
//!
//! A request first asks the cache (one `GETEX`, which also slides the
//! expiry). On a miss (Redis flushed or restarted) or while Redis is down it
//! rebuilds the session from the database, so the field is never logged out
//! by a cache problem. Revocation writes the database first, then deletes the
//! cached entries; every instance checks the same cache or database, so a
//! revocation takes effect everywhere at once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use outpost_entity::{device, session, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DbErr, EntityTrait, QueryFilter, QuerySelect, Set,
    sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    cache::Cache,
    caller::UserCaller,
    domain::{Role, parse_stored},
    secrets::{SESSION_TOKEN_PREFIX, hash_secret, new_secret},
    state::AppState,
};

/// What the cache holds for one session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct CachedSession {
    session_id: Uuid,
    user_id: Uuid,
    organisation_id: Uuid,
    role: Role,
    device_id: Option<Uuid>,
    /// Absolute expiry.
    expires_at: DateTime<Utc>,
    /// When `last_seen_at` was last written to the database.
    touched_at: DateTime<Utc>,
}

fn cache_key(token_hash: &str) -> String {
    format!("session:{token_hash}")
}

/// Opens a session for `user` (on `device_id`, if any); answers the bearer
/// token, which is shown to the client once and never stored.
pub async fn open(
    state: &AppState,
    user: &user::Model,
    device_id: Option<Uuid>,
) -> Result<(String, UserCaller), DbErr> {
    let token = new_secret(SESSION_TOKEN_PREFIX);
    let token_hash = hash_secret(&token);
    let now = Utc::now();
    let expires_at = now + chrono::Duration::seconds(state.config.session.absolute_ttl_secs as i64);
    let row = session::ActiveModel {
        id: Set(Uuid::now_v7()),
        token_hash: Set(token_hash.clone()),
        organisation_id: Set(user.organisation_id),
        user_id: Set(user.id),
        device_id: Set(device_id),
        created_at: Set(now),
        last_seen_at: Set(now),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
    }
    .insert(&state.db)
    .await?;
    let role = parse_stored::<Role>(&user.role).map_err(DbErr::Custom)?;
    let cached = CachedSession {
        session_id: row.id,
        user_id: user.id,
        organisation_id: user.organisation_id,
        role,
        device_id,
        expires_at,
        touched_at: now,
    };
    store(state, &token_hash, &cached).await;
    Ok((token, caller_of(state, &cached, now)))
}

/// Resolves a bearer token to its caller, or `None` when the token is
/// unknown, expired or revoked.
pub async fn resolve(state: &AppState, token: &str) -> Result<Option<UserCaller>, DbErr> {
    if !token.starts_with(SESSION_TOKEN_PREFIX) {
        return Ok(None);
    }
    let token_hash = hash_secret(token);
    let key = cache_key(&token_hash);
    let now = Utc::now();
    let cached = match state.cache.get_and_touch(&key, state.session_idle_ttl()).await {
        Ok(Some(json)) => serde_json::from_str::<CachedSession>(&json).ok(),
        Ok(None) | Err(_) => None,
    };
    let mut session = match cached {
        Some(session) => session,
        None => match load(state, &token_hash, now).await? {
            Some(session) => {
                if store(state, &token_hash, &session).await {
                    // A revocation may have committed between our read and
                    // our write to the cache; read again so a stale entry
                    // never outlives it.
                    let again = load(state, &token_hash, now).await?;
                    if again.as_ref() != Some(&session) {
                        let _ = state.cache.delete(std::slice::from_ref(&key)).await;
                        match again {
                            Some(fresh) => fresh,
                            None => return Ok(None),
                        }
                    } else {
                        session
                    }
                } else {
                    session
                }
            }
            None => return Ok(None),
        },
    };
    if session.expires_at <= now {
        let _ = state.cache.delete(&[key]).await;
        return Ok(None);
    }
    let touch_every = chrono::Duration::seconds(state.config.session.touch_interval_secs as i64);
    if now - session.touched_at >= touch_every {
        touch(state, &session, now).await?;
        session.touched_at = now;
        store(state, &token_hash, &session).await;
    }
    Ok(Some(caller_of(state, &session, now)))
}

/// Revokes one session by its token (logout).
pub async fn revoke_token(state: &AppState, token: &str) -> Result<(), DbErr> {
    revoke(state, Condition::all().add(session::Column::TokenHash.eq(hash_secret(token)))).await
}

/// Revokes every session on a device (a lost phone).
pub async fn revoke_device(state: &AppState, device_id: Uuid) -> Result<(), DbErr> {
    revoke(state, Condition::all().add(session::Column::DeviceId.eq(device_id))).await
}

/// Revokes every session of a user (deactivation).
pub async fn revoke_user(state: &AppState, user_id: Uuid) -> Result<(), DbErr> {
    revoke(state, Condition::all().add(session::Column::UserId.eq(user_id))).await
}

/// Drops a user's cached sessions without revoking them, so the next request
/// rebuilds them from the database (after a role change).
pub async fn refresh_user(state: &AppState, user_id: Uuid) -> Result<(), DbErr> {
    let keys = live_keys(state, Condition::all().add(session::Column::UserId.eq(user_id))).await?;
    evict(state, keys).await;
    Ok(())
}

async fn revoke(state: &AppState, filter: Condition) -> Result<(), DbErr> {
    let keys = live_keys(state, filter.clone()).await?;
    session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(filter)
        .filter(session::Column::RevokedAt.is_null())
        .exec(&state.db)
        .await?;
    evict(state, keys).await;
    Ok(())
}

async fn live_keys(state: &AppState, filter: Condition) -> Result<Vec<String>, DbErr> {
    let hashes: Vec<String> = session::Entity::find()
        .select_only()
        .column(session::Column::TokenHash)
        .filter(filter)
        .filter(session::Column::RevokedAt.is_null())
        .into_tuple()
        .all(&state.db)
        .await?;
    Ok(hashes.iter().map(|h| cache_key(h)).collect())
}

/// Deletes cached sessions. If Redis is unreachable the deletion is retried
/// in the background: while Redis is down every instance reads the database
/// (which already says revoked), and the retry removes any entry a Redis
/// that comes back with its data would otherwise still serve to another
/// instance. (This instance settles its owed deletions before its own next
/// Redis command; see `cache`.) Retries come every half second for the
/// first five minutes, so that window stays short, then back off.
async fn evict(state: &AppState, keys: Vec<String>) {
    if keys.is_empty() || state.cache.delete(&keys).await.is_ok() {
        return;
    }
    let cache: Cache = state.cache.clone();
    tokio::spawn(async move {
        let mut delay = Duration::from_millis(500);
        for attempt in 0..700 {
            tokio::time::sleep(delay).await;
            if cache.delete(&keys).await.is_ok() {
                return;
            }
            if attempt >= 600 {
                delay = (delay * 2).min(Duration::from_secs(60));
            }
        }
        tracing::error!(count = keys.len(), "could not evict revoked sessions from redis");
    });
}

/// Writes a session to the cache; `false` when the cache is unavailable.
async fn store(state: &AppState, token_hash: &str, session: &CachedSession) -> bool {
    let Ok(json) = serde_json::to_string(session) else {
        return false;
    };
    state.cache.set(&cache_key(token_hash), &json, state.session_idle_ttl()).await.is_ok()
}

/// Rebuilds a session from the database, checking everything that can end
/// it: revocation, both expiries, a deactivated user, a revoked device.
async fn load(
    state: &AppState,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<CachedSession>, DbErr> {
    let Some(row) = session::Entity::find()
        .filter(session::Column::TokenHash.eq(token_hash))
        .one(&state.db)
        .await?
    else {
        return Ok(None);
    };
    let idle = chrono::Duration::seconds(state.config.session.idle_ttl_secs as i64);
    if row.revoked_at.is_some() || row.expires_at <= now || row.last_seen_at + idle <= now {
        return Ok(None);
    }
    let Some(user) = user::Entity::find_by_id(row.user_id).one(&state.db).await? else {
        return Ok(None);
    };
    if user.deactivated_at.is_some() {
        return Ok(None);
    }
    if let Some(device_id) = row.device_id {
        let device = device::Entity::find_by_id(device_id).one(&state.db).await?;
        if device.is_none_or(|d| d.revoked_at.is_some()) {
            return Ok(None);
        }
    }
    Ok(Some(CachedSession {
        session_id: row.id,
        user_id: user.id,
        organisation_id: user.organisation_id,
        role: parse_stored::<Role>(&user.role).map_err(DbErr::Custom)?,
        device_id: row.device_id,
        expires_at: row.expires_at,
        touched_at: row.last_seen_at,
    }))
}

async fn touch(state: &AppState, session: &CachedSession, now: DateTime<Utc>) -> Result<(), DbErr> {
    session::Entity::update_many()
        .col_expr(session::Column::LastSeenAt, Expr::value(now))
        .filter(session::Column::Id.eq(session.session_id))
        .exec(&state.db)
        .await?;
    if let Some(device_id) = session.device_id {
        device::Entity::update_many()
            .col_expr(device::Column::LastSeenAt, Expr::value(now))
            .filter(device::Column::Id.eq(device_id))
            .exec(&state.db)
            .await?;
    }
    Ok(())
}

fn caller_of(state: &AppState, session: &CachedSession, now: DateTime<Utc>) -> UserCaller {
    let idle_expiry = now + chrono::Duration::seconds(state.config.session.idle_ttl_secs as i64);
    UserCaller {
        user_id: session.user_id,
        organisation_id: session.organisation_id,
        role: session.role,
        session_id: session.session_id,
        device_id: session.device_id,
        session_expires_at: idle_expiry.min(session.expires_at),
    }
}
