//! Who is making a request, once their credentials have been checked
//! ([`Caller`]), and the same as the sync engine writes as ([`Actor`]).

use chrono::{DateTime, Utc};
use outpost_entity::user_site;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
};
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

/// Who is writing, as the sync engine needs to know it.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The organisation every record belongs to.
    pub organisation_id: Uuid,
    /// The staff member, when a person is writing.
    pub user_id: Option<Uuid>,
    /// The device the change was recorded on.
    pub device_id: Option<Uuid>,
    /// The integrator's key, when one is writing.
    pub api_key_id: Option<Uuid>,
    /// The staff member's role (`None` for integrators).
    pub role: Option<Role>,
    /// The sites the staff member works at.
    pub site_ids: Vec<Uuid>,
}

impl Actor {
    /// Managers, admins and integrators see and may correct every record of
    /// the organisation; workers and viewers see their sites and their own.
    pub fn sees_everything(&self) -> bool {
        !matches!(self.role, Some(Role::Worker | Role::Viewer))
    }

    /// Whether identifiers (NHS number, CHAIN id) may be shown: managers and
    /// admins only, under the stricter access the domain asks for.
    pub fn sees_identifiers(&self) -> bool {
        matches!(self.role, Some(Role::Admin | Role::Manager))
    }

    /// Whether the actor may erase a person: managers and admins, who
    /// answer for it; never workers, viewers or an integrator's key (which
    /// may correct records it can write, but not erase people).
    pub fn may_erase_people(&self) -> bool {
        matches!(self.role, Some(Role::Admin | Role::Manager))
    }

    /// Whether the actor may delete or resolve what `owner` recorded.
    pub fn may_correct(&self, owner: Option<Uuid>) -> bool {
        self.sees_everything() || (owner.is_some() && owner == self.user_id)
    }

    /// The site rule for a record at `site` recorded by `owner`: workers and
    /// viewers see (and so may change) their sites' records, their own, and
    /// site-less ones; everyone else sees every record of the organisation.
    /// `site_condition` is the same rule as a query filter; reads, REST
    /// writes and pushes all go through one of the two.
    pub fn may_see(&self, site: Option<Uuid>, owner: Option<Uuid>) -> bool {
        self.sees_everything()
            || site.is_none_or(|s| self.site_ids.contains(&s))
            || (owner.is_some() && owner == self.user_id)
    }

    /// `may_see` as a filter on a table's site and recorder columns.
    pub fn site_condition<C: ColumnTrait>(&self, site: C, owner: C) -> Condition {
        if self.sees_everything() {
            return Condition::all();
        }
        let mut any =
            Condition::any().add(site.is_null()).add(site.is_in(self.site_ids.iter().copied()));
        if let Some(me) = self.user_id {
            any = any.add(owner.eq(me));
        }
        any
    }
}

impl Actor {
    /// The actor behind a checked caller: a staff member with their role and
    /// sites, or an integrator.
    pub async fn of<C: ConnectionTrait>(db: &C, caller: &Caller) -> Result<Self, DbErr> {
        Ok(match caller {
            Caller::User(u) => Self {
                organisation_id: u.organisation_id,
                user_id: Some(u.user_id),
                device_id: u.device_id,
                api_key_id: None,
                role: Some(u.role),
                site_ids: user_site::Entity::find()
                    .select_only()
                    .column(user_site::Column::SiteId)
                    .filter(user_site::Column::UserId.eq(u.user_id))
                    .into_tuple::<Uuid>()
                    .all(db)
                    .await?,
            },
            Caller::Integrator(i) => Self {
                organisation_id: i.organisation_id,
                user_id: None,
                device_id: None,
                api_key_id: Some(i.api_key_id),
                role: None,
                site_ids: Vec::new(),
            },
        })
    }
}
