//! Substances: the coded list with street names mapped onto codes.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
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
    records::reference::{substance::SubstanceView, vocab::SubstanceCategory},
    service::reference::substances::{self, NewSubstance, SubstanceChanges},
    state::AppState,
};

/// All substances, as one page.
#[derive(Object)]
pub struct SubstanceList {
    /// The substances, by name.
    pub items: Vec<SubstanceView>,
}

/// A substance to create.
#[derive(Object)]
pub struct CreateSubstance {
    /// Its code: a-z, 0-9 and `_`, starting with a letter; at most 48
    /// characters; it cannot change later.
    pub code: Text<48>,
    /// Its name.
    pub name: Text<200>,
    /// Its pharmacological group.
    pub category: SubstanceCategory,
    /// Street names (each at most 60 characters, not used by another
    /// substance, ignoring case); absent or `null` means none.
    // Not `default`: poem-openapi parses a defaulted field without its
    // `deserialize_with`, so `[1, true]` would be stored as text.
    #[oai(nullable)]
    pub aliases: Option<Vec<Text<60>>>,
}

/// Changes to a substance; absent fields stay as they are. The code cannot
/// change: recorded contacts and incidents keep it.
#[derive(Object)]
pub struct UpdateSubstance {
    /// A new name.
    #[oai(nullable)]
    pub name: Option<Text<200>>,
    /// A new group.
    #[oai(nullable)]
    pub category: Option<SubstanceCategory>,
    /// The new, whole list of street names.
    #[oai(nullable)]
    pub aliases: Option<Vec<Text<60>>>,
}

/// Answer of `POST /v1/substances`.
#[derive(ApiResponse)]
pub enum SubstanceCreated {
    /// The new substance.
    #[oai(status = 201)]
    Created(Json<SubstanceView>),
}

/// Substances.
#[derive(Default)]
pub struct SubstancesApi;

#[OpenApi(tag = "ApiTags::Reference")]
impl SubstancesApi {
    /// List the substances (session, or API key with `directory:read`).
    #[oai(path = "/v1/substances", method = "get", operation_id = "list_substances")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// Include archived substances.
        include_archived: Query<Option<bool>>,
    ) -> ApiResult<Json<SubstanceList>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ReadDirectory)?;
        let items = substances::list(
            &state.db,
            caller.organisation_id(),
            include_archived.0.unwrap_or(false),
        )
        .await?;
        Ok(Json(SubstanceList { items: items.into_iter().map(SubstanceView::from).collect() }))
    }

    /// Add a substance (admins).
    #[oai(path = "/v1/substances", method = "post", operation_id = "create_substance")]
    async fn create(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: Credentials,
        body: Json<CreateSubstance>,
    ) -> ApiResult<SubstanceCreated> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ManageReferenceData)?;
        let body = body.0;
        let new = NewSubstance {
            code: body.code.into(),
            name: body.name.into(),
            category: body.category,
            aliases: texts(body.aliases.unwrap_or_default()),
        };
        let substance = substances::create(&state, &caller, &meta, new).await?;
        Ok(SubstanceCreated::Created(Json(substance.into())))
    }

    /// Get one substance, archived or not.
    #[oai(path = "/v1/substances/:id", method = "get", operation_id = "get_substance")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        id: Path<Uuid>,
    ) -> ApiResult<Json<SubstanceView>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ReadDirectory)?;
        Ok(Json(substances::get(&state.db, &caller, id.0).await?.into()))
    }

    /// Edit a substance or its street names (admins).
    #[oai(path = "/v1/substances/:id", method = "patch", operation_id = "update_substance")]
    async fn update(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: Credentials,
        id: Path<Uuid>,
        body: Json<UpdateSubstance>,
    ) -> ApiResult<Json<SubstanceView>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ManageReferenceData)?;
        let body = body.0;
        let changes = SubstanceChanges {
            name: body.name.map(Into::into),
            category: body.category,
            aliases: body.aliases.map(texts),
        };
        Ok(Json(substances::update(&state, &caller, &meta, id.0, changes).await?.into()))
    }

    /// Archive a substance (admins): its code and street names stop
    /// resolving for new records; recorded ones keep the code.
    #[oai(path = "/v1/substances/:id/archive", method = "post", operation_id = "archive_substance")]
    async fn archive(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: Credentials,
        id: Path<Uuid>,
    ) -> ApiResult<Json<SubstanceView>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ManageReferenceData)?;
        Ok(Json(substances::archive(&state, &caller, &meta, id.0).await?.into()))
    }
}

/// Street names as the service takes them.
fn texts<const MAX: usize>(names: Vec<Text<MAX>>) -> Vec<String> {
    names.into_iter().map(Into::into).collect()
}
