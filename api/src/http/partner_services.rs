//! The partner service directory that rapid referrals go to.

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
    domain::Permission,
    error::ApiResult,
    records::reference::{partner_service::PartnerServiceView, vocab::ServiceType},
    service::reference::partner_services::{self, NewPartnerService, PartnerServiceChanges},
    state::AppState,
};

/// All partner services, as one page.
#[derive(Object)]
pub struct PartnerServiceList {
    /// The services, by name.
    pub items: Vec<PartnerServiceView>,
}

/// A partner service to create.
#[derive(Object)]
pub struct CreatePartnerService {
    /// Its name.
    pub name: Text<200>,
    /// What kind of service it is.
    pub service_type: ServiceType,
    /// How to refer: phone, secure email, form.
    #[oai(nullable)]
    pub contact_route: Option<Text<1000>>,
    /// When it is open.
    #[oai(nullable)]
    pub opening_hours: Option<Text<500>>,
    /// The broad area it serves.
    #[oai(nullable)]
    pub area: Option<Text<200>>,
}

/// Changes to a partner service; absent fields stay as they are, `null`
/// clears an optional one.
#[derive(Object)]
pub struct UpdatePartnerService {
    /// A new name.
    #[oai(nullable)]
    pub name: Option<Text<200>>,
    /// A new type.
    #[oai(nullable)]
    pub service_type: Option<ServiceType>,
    /// A new contact route.
    #[oai(nullable)]
    pub contact_route: MaybeUndefined<Text<1000>>,
    /// New opening hours.
    #[oai(nullable)]
    pub opening_hours: MaybeUndefined<Text<500>>,
    /// A new area.
    #[oai(nullable)]
    pub area: MaybeUndefined<Text<200>>,
}

/// Answer of `POST /v1/partner-services`.
#[derive(ApiResponse)]
pub enum PartnerServiceCreated {
    /// The new service.
    #[oai(status = 201)]
    Created(Json<PartnerServiceView>),
}

fn change<const MAX: usize>(value: MaybeUndefined<Text<MAX>>) -> Option<Option<String>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v.into())),
    }
}

/// The partner service directory.
#[derive(Default)]
pub struct PartnerServicesApi;

#[OpenApi(tag = "ApiTags::Reference")]
impl PartnerServicesApi {
    /// List the partner services (session, or API key with `directory:read`).
    #[oai(path = "/v1/partner-services", method = "get", operation_id = "list_partner_services")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// Include archived services.
        include_archived: Query<Option<bool>>,
    ) -> ApiResult<Json<PartnerServiceList>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ReadDirectory)?;
        let items = partner_services::list(
            &state.db,
            caller.organisation_id(),
            include_archived.0.unwrap_or(false),
        )
        .await?;
        Ok(Json(PartnerServiceList {
            items: items.into_iter().map(PartnerServiceView::from).collect(),
        }))
    }

    /// Add a partner service (admins).
    #[oai(path = "/v1/partner-services", method = "post", operation_id = "create_partner_service")]
    async fn create(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: Credentials,
        body: Json<CreatePartnerService>,
    ) -> ApiResult<PartnerServiceCreated> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ManageReferenceData)?;
        let body = body.0;
        let new = NewPartnerService {
            name: body.name.into(),
            service_type: body.service_type,
            contact_route: body.contact_route.map(Into::into),
            opening_hours: body.opening_hours.map(Into::into),
            area: body.area.map(Into::into),
        };
        let service = partner_services::create(&state, &caller, &meta, new).await?;
        Ok(PartnerServiceCreated::Created(Json(service.into())))
    }

    /// Get one partner service, archived or not.
    #[oai(path = "/v1/partner-services/:id", method = "get", operation_id = "get_partner_service")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        id: Path<Uuid>,
    ) -> ApiResult<Json<PartnerServiceView>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ReadDirectory)?;
        Ok(Json(partner_services::get(&state.db, &caller, id.0).await?.into()))
    }

    /// Edit a partner service (admins).
    #[oai(
        path = "/v1/partner-services/:id",
        method = "patch",
        operation_id = "update_partner_service"
    )]
    async fn update(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: Credentials,
        id: Path<Uuid>,
        body: Json<UpdatePartnerService>,
    ) -> ApiResult<Json<PartnerServiceView>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ManageReferenceData)?;
        let body = body.0;
        let changes = PartnerServiceChanges {
            name: body.name.map(Into::into),
            service_type: body.service_type,
            contact_route: change(body.contact_route),
            opening_hours: change(body.opening_hours),
            area: change(body.area),
        };
        Ok(Json(partner_services::update(&state, &caller, &meta, id.0, changes).await?.into()))
    }

    /// Archive a partner service (admins): new referrals can no longer go
    /// to it; recorded ones keep pointing at it.
    #[oai(
        path = "/v1/partner-services/:id/archive",
        method = "post",
        operation_id = "archive_partner_service"
    )]
    async fn archive(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: Credentials,
        id: Path<Uuid>,
    ) -> ApiResult<Json<PartnerServiceView>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ManageReferenceData)?;
        Ok(Json(partner_services::archive(&state, &caller, &meta, id.0).await?.into()))
    }
}
