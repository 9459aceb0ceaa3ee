//! Sites: day centres, hostels, night shelters, outreach teams, vans.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
    types::MaybeUndefined,
};
use uuid::Uuid;

use crate::text::Text;

use super::{
    ApiTags,
    security::{self, Credentials},
};
use crate::{
    caller::RequestMeta,
    domain::{Permission, SiteKind},
    error::ApiResult,
    records::reference::site::SiteView,
    service::sites::{self, NewSite, SiteChanges},
    state::AppState,
};

/// All sites, as one page.
#[derive(Object)]
pub struct SiteList {
    /// The sites, by name.
    pub items: Vec<SiteView>,
}

/// A site to create.
#[derive(Object)]
pub struct CreateSite {
    /// Its name.
    pub name: Text<200>,
    /// What kind of site it is.
    pub kind: SiteKind,
    /// The broad area it covers.
    #[oai(nullable)]
    pub area: Option<Text<200>>,
}

/// Changes to a site; absent fields stay as they are.
#[derive(Object)]
pub struct UpdateSite {
    /// A new name.
    #[oai(nullable)]
    pub name: Option<Text<200>>,
    /// A new kind.
    #[oai(nullable)]
    pub kind: Option<SiteKind>,
    /// A new area; `null` clears it.
    #[oai(nullable)]
    pub area: MaybeUndefined<Text<200>>,
}

/// Answer of `POST /v1/sites`.
#[derive(ApiResponse)]
pub enum SiteCreated {
    /// The new site.
    #[oai(status = 201)]
    Created(Json<SiteView>),
}

/// Sites.
#[derive(Default)]
pub struct SitesApi;

#[OpenApi(tag = "ApiTags::Sites")]
impl SitesApi {
    /// List the organisation's sites (session, or API key with `directory:read`).
    #[oai(path = "/v1/sites", method = "get", operation_id = "list_sites")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// Include archived sites.
        include_archived: Query<Option<bool>>,
    ) -> ApiResult<Json<SiteList>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ReadDirectory)?;
        let items = sites::list(&state, &caller, include_archived.0.unwrap_or(false)).await?;
        Ok(Json(SiteList { items: items.into_iter().map(SiteView::from).collect() }))
    }

    /// Create a site (admins and managers).
    #[oai(path = "/v1/sites", method = "post", operation_id = "create_site")]
    async fn create(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: Credentials,
        body: Json<CreateSite>,
    ) -> ApiResult<SiteCreated> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ManageSites)?;
        let body = body.0;
        let site = sites::create(
            &state,
            &caller,
            &meta,
            NewSite { name: body.name.into(), kind: body.kind, area: body.area.map(Into::into) },
        )
        .await?;
        Ok(SiteCreated::Created(Json(site.into())))
    }

    /// Get one site.
    #[oai(path = "/v1/sites/:id", method = "get", operation_id = "get_site")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        id: Path<Uuid>,
    ) -> ApiResult<Json<SiteView>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ReadDirectory)?;
        Ok(Json(sites::get(&state.db, &caller, id.0).await?.into()))
    }

    /// Edit a site (admins and managers).
    #[oai(path = "/v1/sites/:id", method = "patch", operation_id = "update_site")]
    async fn update(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: Credentials,
        id: Path<Uuid>,
        body: Json<UpdateSite>,
    ) -> ApiResult<Json<SiteView>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ManageSites)?;
        let body = body.0;
        let area = match body.area {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(area) => Some(Some(area.into())),
        };
        let changes = SiteChanges { name: body.name.map(Into::into), kind: body.kind, area };
        Ok(Json(sites::update(&state, &caller, &meta, id.0, changes).await?.into()))
    }

    /// Archive a site (admins and managers): it leaves lists, keeps its
    /// history, and can no longer be assigned.
    #[oai(path = "/v1/sites/:id", method = "delete", operation_id = "archive_site")]
    async fn archive(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: Credentials,
        id: Path<Uuid>,
    ) -> ApiResult<Json<SiteView>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ManageSites)?;
        Ok(Json(sites::archive(&state, &caller, &meta, id.0).await?.into()))
    }
}
