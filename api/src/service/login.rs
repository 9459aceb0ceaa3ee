//! Login and logout, with brute-force protection: attempts are counted per
//! client address, failures per account, in Redis (or locally while Redis
//! is down, so an outage never disables the limit).

use std::{net::IpAddr, time::Duration};

use outpost_entity::{device, user};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{
    ServiceError, ServiceResult,
    audit::{self, AuditEntry},
    devices::{self, DeviceRegistration},
    users::{self, UserWithSites},
};
use crate::{
    caller::{Caller, RequestMeta, UserCaller},
    secrets::{hash_secret, verify_password},
    session,
    state::AppState,
};

/// Why a login did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Too many attempts; retry after this many seconds.
    #[error("rate limited for {0}s")]
    RateLimited(u64),
    /// Unknown email, wrong password or deactivated account (deliberately
    /// indistinguishable).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Device refused, or storage failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<sea_orm::DbErr> for LoginError {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::Service(err.into())
    }
}

/// A successful login.
pub struct LoginOutcome {
    /// The bearer token (shown once).
    pub token: String,
    /// The new session's caller.
    pub caller: UserCaller,
    /// The account.
    pub user: UserWithSites,
    /// The device, when one registered.
    pub device: Option<device::Model>,
}

/// Counts a hit in Redis, or locally while Redis is unavailable.
async fn hit(state: &AppState, key: &str, window: Duration) -> (u64, u64) {
    match state.cache.hit(key, window).await {
        Ok(counted) => counted,
        Err(_) => state.local_counters.hit(key, window),
    }
}

async fn peek(state: &AppState, key: &str) -> (u64, u64) {
    match state.cache.peek_counter(key).await {
        Ok(counted) => counted,
        Err(_) => state.local_counters.peek_counter(key),
    }
}

/// How many times `account_failures` one account may fail from all
/// addresses together in a window.
const ACCOUNT_CEILING_FACTOR: u64 = 10;

/// Checks credentials and opens a session.
pub async fn login(
    state: &AppState,
    meta: &RequestMeta,
    email: &str,
    password: String,
    registration: Option<DeviceRegistration>,
) -> Result<LoginOutcome, LoginError> {
    let limits = &state.config.login_limits;
    let email = email.trim().to_lowercase();
    let address_key = format!("ratelimit:login:address:{}", address_bucket(meta.client_ip));
    let (attempts, reset) =
        hit(state, &address_key, Duration::from_secs(limits.address_window_secs)).await;
    if attempts > limits.address_attempts {
        return Err(LoginError::RateLimited(reset));
    }
    // Failures are counted per account *and* address: guessing from one
    // address stops at the limit, but a stranger who knows an admin's
    // email cannot lock the admin out from elsewhere (a hard per-account
    // lock would let anyone do that). Guessing from many addresses is
    // bounded by a per-account ceiling ten times higher, which only a
    // distributed attack reaches (and then the account is better locked).
    // The email is hashed so no address book ends up in Redis.
    let email_key = hash_secret(&email);
    let pair_key =
        format!("ratelimit:login:account:{email_key}:{}", address_bucket(meta.client_ip));
    let account_key = format!("ratelimit:login:account:{email_key}");
    let (failures, reset) = peek(state, &pair_key).await;
    if failures >= limits.account_failures {
        return Err(LoginError::RateLimited(reset));
    }
    let (failures, reset) = peek(state, &account_key).await;
    if failures >= limits.account_failures.saturating_mul(ACCOUNT_CEILING_FACTOR) {
        return Err(LoginError::RateLimited(reset));
    }

    let account =
        user::Entity::find().filter(user::Column::Email.eq(&email)).one(&state.db).await?;
    let stored_hash = account.as_ref().map(|u| u.password_hash.clone());
    let verified = verify_password(password, stored_hash, state.config.password_hashing.clone())
        .await
        .map_err(ServiceError::from)?;
    let account = match account {
        Some(account) if verified && account.deactivated_at.is_none() => account,
        other => {
            let window = Duration::from_secs(limits.account_window_secs);
            hit(state, &pair_key, window).await;
            hit(state, &account_key, window).await;
            if let Some(account) = other {
                audit::record_raw(
                    &state.db,
                    account.organisation_id,
                    Some(account.id),
                    None,
                    Some(&meta.request_id),
                    AuditEntry::new("login.failed", "user", account.id),
                )
                .await?;
            }
            return Err(LoginError::InvalidCredentials);
        }
    };

    let device = match registration {
        Some(registration) => Some(
            devices::register_for_login(state, account.organisation_id, account.id, registration)
                .await?,
        ),
        None => None,
    };
    let (token, caller) = session::open(state, &account, device.as_ref().map(|d| d.id)).await?;
    audit::record(
        &state.db,
        &Caller::User(caller.clone()),
        Some(&meta.request_id),
        AuditEntry::new("login.succeeded", "session", caller.session_id)
            .with_detail(serde_json::json!({ "device_id": caller.device_id })),
    )
    .await?;
    let user = users::get(&state.db, account.organisation_id, account.id).await?;
    Ok(LoginOutcome { token, caller, user, device })
}

/// Ends the caller's session.
pub async fn logout(
    state: &AppState,
    caller: &UserCaller,
    meta: &RequestMeta,
    token: &str,
) -> ServiceResult<()> {
    session::revoke_token(state, token).await?;
    audit::record(
        &state.db,
        &Caller::User(caller.clone()),
        Some(&meta.request_id),
        AuditEntry::new("logout", "session", caller.session_id),
    )
    .await?;
    Ok(())
}

/// The client a request counts against: an IPv4 address (IPv4-mapped IPv6
/// included), or an IPv6 /64, since IPv6 clients usually hold a whole /64.
/// Login limits and the per-address connection cap count by it.
pub fn address_bucket(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}
