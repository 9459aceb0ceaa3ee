//! Who is making a request, once their credentials have been checked.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    domain::{ApiKeyScope, Permission, Role},
    error::ApiError,
};

/// A signed-in staff member.
#[derive(Debug, Clone)]
pub struct UserCaller {
    /// The user.
    pub user_id: Uuid,
    /// Their organisation: every query is scoped to it.
    pub organisation_id: Uuid,
    /// Their role.
    pub role: Role,
    /// The login session.
    pub session_id: Uuid,
    /// The device the session was opened on, if any.
    pub device_id: Option<Uuid>,
    /// When the session expires if not used before then.
    pub session_expires_at: DateTime<Utc>,
}

/// An integrator calling with an API key.
#[derive(Debug, Clone)]
pub struct IntegratorCaller {
    /// The key.
    pub api_key_id: Uuid,
    /// The organisation the key belongs to.
    pub organisation_id: Uuid,
    /// What the key may do.
    pub scopes: Vec<ApiKeyScope>,
}

/// A caller whose credentials were checked.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A staff member with a login session.
    User(UserCaller),
    /// An integrator with an API key.
    Integrator(IntegratorCaller),
}

impl Caller {
    /// The organisation every query of this request is scoped to.
    pub fn organisation_id(&self) -> Uuid {
        match self {
            Caller::User(u) => u.organisation_id,
            Caller::Integrator(i) => i.organisation_id,
        }
    }

    /// The user, when the caller is one.
    pub fn user_id(&self) -> Option<Uuid> {
        match self {
            Caller::User(u) => Some(u.user_id),
            Caller::Integrator(_) => None,
        }
    }

    /// The API key, when the caller is an integrator.
    pub fn api_key_id(&self) -> Option<Uuid> {
        match self {
            Caller::User(_) => None,
            Caller::Integrator(i) => Some(i.api_key_id),
        }
    }

    /// Whether the caller's role or scopes grant `permission`.
    pub fn may(&self, permission: Permission) -> bool {
        match self {
            Caller::User(u) => u.role.grants(permission),
            Caller::Integrator(i) => i.scopes.iter().any(|s| s.grants(permission)),
        }
    }

    /// 403 unless the caller may do `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.may(permission) {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "forbidden",
                format!("your role or key scopes do not allow this ({permission:?})"),
            ))
        }
    }
}

/// Facts about the request the middleware establishes before any handler.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    /// The request id (echoed in the `x-request-id` response header).
    pub request_id: String,
    /// The client's address (from `X-Forwarded-For` only when configured).
    pub client_ip: std::net::IpAddr,
}
