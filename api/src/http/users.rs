//! Staff accounts.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use uuid::Uuid;

use crate::text::{Password, Text};

use super::{
    ApiTags,
    security::{self, Credentials},
};
use crate::{
    caller::RequestMeta,
    domain::{Permission, Role},
    error::ApiResult,
    service::users::{self, NewUser, UserChanges, UserWithSites},
    state::AppState,
};

/// A staff account (never its password).
#[derive(Object)]
pub struct UserView {
    /// Its id.
    pub id: Uuid,
    /// Login email.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// The sites they work at.
    pub site_ids: Vec<Uuid>,
    /// Set when deactivated.
    pub deactivated_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<UserWithSites> for UserView {
    fn from(u: UserWithSites) -> Self {
        Self {
            id: u.user.id,
            email: u.user.email,
            display_name: u.user.display_name,
            role: u.role,
            site_ids: u.site_ids,
            deactivated_at: u.user.deactivated_at,
            created_at: u.user.created_at,
            updated_at: u.user.updated_at,
        }
    }
}

/// All accounts, as one page.
#[derive(Object)]
pub struct UserList {
    /// The accounts, by display name.
    pub items: Vec<UserView>,
}

/// An account to create.
#[derive(Object)]
pub struct CreateUser {
    /// Login email (unique).
    pub email: Text<254>,
    /// Display name.
    pub display_name: Text<200>,
    /// Role; managers may create workers and viewers only.
    pub role: Role,
    /// Initial password (at least 10 characters).
    #[oai(write_only)]
    pub password: Password,
    /// Sites they work at.
    #[oai(default)]
    pub site_ids: Vec<Uuid>,
}

/// Changes to an account; absent fields stay as they are.
#[derive(Object)]
pub struct UpdateUser {
    /// A new display name.
    #[oai(nullable)]
    pub display_name: Option<Text<200>>,
    /// A new role (admins; managers between worker and viewer).
    #[oai(nullable)]
    pub role: Option<Role>,
    /// A new password; set by someone else, it ends the user's sessions.
    #[oai(nullable, write_only)]
    pub password: Option<Password>,
    /// The full new set of sites.
    #[oai(nullable)]
    pub site_ids: Option<Vec<Uuid>>,
}

/// Answer of `POST /v1/users`.
#[derive(ApiResponse)]
pub enum UserCreated {
    /// The new account.
    #[oai(status = 201)]
    Created(Json<UserView>),
}

/// Staff accounts.
#[derive(Default)]
pub struct UsersApi;

#[OpenApi(tag = "ApiTags::Users")]
impl UsersApi {
    /// List the organisation's accounts (admins, managers, API key with
    /// `users:read`).
    #[oai(path = "/v1/users", method = "get", operation_id = "list_users")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// Include deactivated accounts.
        include_deactivated: Query<Option<bool>>,
    ) -> ApiResult<Json<UserList>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ReadUsers)?;
        let items = users::list(&state, &caller, include_deactivated.0.unwrap_or(false)).await?;
        Ok(Json(UserList { items: items.into_iter().map(UserView::from).collect() }))
    }

    /// Create an account (admins; managers for workers and viewers).
    #[oai(path = "/v1/users", method = "post", operation_id = "create_user")]
    async fn create(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: Credentials,
        body: Json<CreateUser>,
    ) -> ApiResult<UserCreated> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ManageUsers)?;
        let b = body.0;
        let new = NewUser {
            email: b.email.into(),
            display_name: b.display_name.into(),
            role: b.role,
            password: b.password.into(),
            site_ids: b.site_ids,
        };
        Ok(UserCreated::Created(Json(users::create(&state, &caller, &meta, new).await?.into())))
    }

    /// Get one account.
    #[oai(path = "/v1/users/:id", method = "get", operation_id = "get_user")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        id: Path<Uuid>,
    ) -> ApiResult<Json<UserView>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ReadUsers)?;
        Ok(Json(users::get(&state.db, caller.organisation_id(), id.0).await?.into()))
    }

    /// Edit an account (admins; managers for workers and viewers).
    #[oai(path = "/v1/users/:id", method = "patch", operation_id = "update_user")]
    async fn update(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: Credentials,
        id: Path<Uuid>,
        body: Json<UpdateUser>,
    ) -> ApiResult<Json<UserView>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ManageUsers)?;
        let b = body.0;
        let changes = UserChanges {
            display_name: b.display_name.map(Into::into),
            role: b.role,
            password: b.password.map(Into::into),
            site_ids: b.site_ids,
        };
        Ok(Json(users::update(&state, &caller, &meta, id.0, changes).await?.into()))
    }

    /// Deactivate an account: its sessions end at once; its records stay.
    #[oai(path = "/v1/users/:id", method = "delete", operation_id = "deactivate_user")]
    async fn deactivate(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: Credentials,
        id: Path<Uuid>,
    ) -> ApiResult<Json<UserView>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ManageUsers)?;
        Ok(Json(users::deactivate(&state, &caller, &meta, id.0).await?.into()))
    }
}
