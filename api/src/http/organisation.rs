//! The caller's own organisation.

use chrono::{DateTime, Utc};
use outpost_entity::organisation;
use poem::web::Data;
use poem_openapi::{Object, OpenApi, payload::Json};
use uuid::Uuid;

use crate::text::Text;

use super::{
    ApiTags,
    security::{self, Credentials},
};
use crate::{
    caller::RequestMeta, domain::Permission, error::ApiResult, service::organisations,
    state::AppState,
};

/// An organisation (tenant).
#[derive(Object)]
pub struct OrganisationView {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Its unique slug.
    pub slug: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<organisation::Model> for OrganisationView {
    fn from(m: organisation::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            slug: m.slug,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// Changes to the organisation.
#[derive(Object)]
pub struct UpdateOrganisation {
    /// A new name.
    pub name: Text<200>,
}

/// The caller's own organisation.
#[derive(Default)]
pub struct OrganisationApi;

#[OpenApi(tag = "ApiTags::Organisation")]
impl OrganisationApi {
    /// The caller's organisation (session, or API key with `directory:read`).
    #[oai(path = "/v1/organisation", method = "get", operation_id = "get_organisation")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
    ) -> ApiResult<Json<OrganisationView>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ReadDirectory)?;
        Ok(Json(organisations::get(&state, &caller).await?.into()))
    }

    /// Rename the organisation (admins).
    #[oai(path = "/v1/organisation", method = "patch", operation_id = "update_organisation")]
    async fn update(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: Credentials,
        body: Json<UpdateOrganisation>,
    ) -> ApiResult<Json<OrganisationView>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ManageOrganisation)?;
        Ok(Json(organisations::rename(&state, &caller, &meta, &body.name).await?.into()))
    }
}
