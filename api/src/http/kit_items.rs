//! The kit catalogue: what workers hand out, including pre-made packs.

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
    records::reference::{
        kit_item::{KitItemView, PackComponent},
        vocab::KitCategory,
    },
    service::reference::kit_items::{self, KitItemChanges, NewKitItem},
    state::AppState,
};

/// The whole catalogue, as one page.
#[derive(Object)]
pub struct KitItemList {
    /// The items, by name.
    pub items: Vec<KitItemView>,
}

/// A kit item to create.
#[derive(Object)]
pub struct CreateKitItem {
    /// Its code: a-z, 0-9 and `_`, starting with a letter; at most 48
    /// characters; it cannot change later.
    pub code: Text<48>,
    /// Its name.
    pub name: Text<200>,
    /// The category reports count it under.
    pub category: KitCategory,
    /// How it is counted, e.g. `each` or `pack of 10`.
    pub unit: Text<48>,
    /// For a pre-made pack, the active ordinary items it expands into.
    #[oai(default)]
    pub components: Vec<PackComponent>,
}

/// Changes to a kit item; absent fields stay as they are. The code cannot
/// change: recorded kit lines keep it.
#[derive(Object)]
pub struct UpdateKitItem {
    /// A new name.
    #[oai(nullable)]
    pub name: Option<Text<200>>,
    /// A new category.
    #[oai(nullable)]
    pub category: Option<KitCategory>,
    /// A new unit.
    #[oai(nullable)]
    pub unit: Option<Text<48>>,
    /// The new, whole list of components (`[]` makes it an ordinary item).
    #[oai(nullable)]
    pub components: Option<Vec<PackComponent>>,
}

/// Answer of `POST /v1/kit-items`.
#[derive(ApiResponse)]
pub enum KitItemCreated {
    /// The new item.
    #[oai(status = 201)]
    Created(Json<KitItemView>),
}

/// The kit catalogue.
#[derive(Default)]
pub struct KitItemsApi;

#[OpenApi(tag = "ApiTags::Reference")]
impl KitItemsApi {
    /// List the kit catalogue (session, or API key with `directory:read`).
    #[oai(path = "/v1/kit-items", method = "get", operation_id = "list_kit_items")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// Include archived items.
        include_archived: Query<Option<bool>>,
    ) -> ApiResult<Json<KitItemList>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ReadDirectory)?;
        let items = kit_items::list(
            &state.db,
            caller.organisation_id(),
            include_archived.0.unwrap_or(false),
        )
        .await?;
        Ok(Json(KitItemList { items: items.into_iter().map(KitItemView::from).collect() }))
    }

    /// Add an item or pack to the kit catalogue (admins).
    #[oai(path = "/v1/kit-items", method = "post", operation_id = "create_kit_item")]
    async fn create(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: Credentials,
        body: Json<CreateKitItem>,
    ) -> ApiResult<KitItemCreated> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ManageReferenceData)?;
        let body = body.0;
        let new = NewKitItem {
            code: body.code.into(),
            name: body.name.into(),
            category: body.category,
            unit: body.unit.into(),
            components: body.components,
        };
        let item = kit_items::create(&state, &caller, &meta, new).await?;
        Ok(KitItemCreated::Created(Json(item.into())))
    }

    /// Get one kit item, archived or not.
    #[oai(path = "/v1/kit-items/:id", method = "get", operation_id = "get_kit_item")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        id: Path<Uuid>,
    ) -> ApiResult<Json<KitItemView>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ReadDirectory)?;
        Ok(Json(kit_items::get(&state.db, &caller, id.0).await?.into()))
    }

    /// Edit a kit item (admins).
    #[oai(path = "/v1/kit-items/:id", method = "patch", operation_id = "update_kit_item")]
    async fn update(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: Credentials,
        id: Path<Uuid>,
        body: Json<UpdateKitItem>,
    ) -> ApiResult<Json<KitItemView>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ManageReferenceData)?;
        let body = body.0;
        let changes = KitItemChanges {
            name: body.name.map(Into::into),
            category: body.category,
            unit: body.unit.map(Into::into),
            components: body.components,
        };
        Ok(Json(kit_items::update(&state, &caller, &meta, id.0, changes).await?.into()))
    }

    /// Archive a kit item (admins): it leaves the catalogue devices offer,
    /// and recorded kit lines keep its code. An item inside an active pack
    /// answers 409 `item_in_pack`.
    #[oai(path = "/v1/kit-items/:id/archive", method = "post", operation_id = "archive_kit_item")]
    async fn archive(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: Credentials,
        id: Path<Uuid>,
    ) -> ApiResult<Json<KitItemView>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ManageReferenceData)?;
        Ok(Json(kit_items::archive(&state, &caller, &meta, id.0).await?.into()))
    }
}
