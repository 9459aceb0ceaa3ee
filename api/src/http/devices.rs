//! Registered devices, and revoking a lost one.

use chrono::{DateTime, Utc};
use outpost_entity::device;
use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Path, payload::Json};
use uuid::Uuid;

use super::{
    ApiTags,
    security::{self, Credentials},
};
use crate::{
    caller::{Caller, RequestMeta},
    domain::Permission,
    error::ApiResult,
    service::devices,
    state::AppState,
};

/// A registered phone or tablet.
#[derive(Object)]
pub struct DeviceView {
    /// The device's own id.
    pub id: Uuid,
    /// The user it is registered to.
    pub user_id: Uuid,
    /// Its name.
    pub name: String,
    /// Its platform.
    pub platform: Option<String>,
    /// Set when revoked; it can no longer sign in.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it was last used (to within a few minutes).
    pub last_seen_at: DateTime<Utc>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// Its bag: where a contact recorded on it takes its kit from when it
    /// names no stock location.
    pub stock_location_id: Option<Uuid>,
}

/// A device's bag.
#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct SetDeviceStockLocation {
    /// An active stock location at the device's user's sites, or `null`
    /// for none.
    #[oai(nullable)]
    pub stock_location_id: Option<Uuid>,
}

impl From<device::Model> for DeviceView {
    fn from(m: device::Model) -> Self {
        Self {
            id: m.id,
            user_id: m.user_id,
            name: m.name,
            platform: m.platform,
            revoked_at: m.revoked_at,
            last_seen_at: m.last_seen_at,
            created_at: m.created_at,
            stock_location_id: m.stock_location_id,
        }
    }
}

/// Devices, as one page.
#[derive(Object)]
pub struct DeviceList {
    /// Most recently seen first.
    pub items: Vec<DeviceView>,
}

/// Registered devices.
#[derive(Default)]
pub struct DevicesApi;

/// Staff see at least their own devices; an API key sees devices only with
/// the `devices:read` scope (it owns none).
fn integrators_need_scope(caller: Caller) -> ApiResult<Caller> {
    if matches!(caller, Caller::Integrator(_)) {
        caller.require(Permission::ReadDevices)?;
    }
    Ok(caller)
}

#[OpenApi(tag = "ApiTags::Devices")]
impl DevicesApi {
    /// List devices: all of the organisation's for admins and managers (and
    /// API keys with `devices:read`), otherwise the caller's own.
    #[oai(path = "/v1/devices", method = "get", operation_id = "list_devices")]
    async fn list(&self, state: Data<&AppState>, auth: Credentials) -> ApiResult<Json<DeviceList>> {
        let caller = integrators_need_scope(security::caller(&state, &auth).await?)?;
        let items = devices::list(&state, &caller).await?;
        Ok(Json(DeviceList { items: items.into_iter().map(DeviceView::from).collect() }))
    }

    /// Get one device.
    #[oai(path = "/v1/devices/:id", method = "get", operation_id = "get_device")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        id: Path<Uuid>,
    ) -> ApiResult<Json<DeviceView>> {
        let caller = integrators_need_scope(security::caller(&state, &auth).await?)?;
        Ok(Json(devices::get(&state.db, &caller, id.0).await?.into()))
    }

    /// Set a device's bag: the stock location a contact recorded on it
    /// takes its kit from when it names none (its lines are booked out of
    /// it). Anyone may set their own device's; admins and managers any.
    #[oai(
        path = "/v1/devices/:id/stock-location",
        method = "post",
        operation_id = "set_device_stock_location"
    )]
    async fn set_stock_location(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: Credentials,
        id: Path<Uuid>,
        body: Json<SetDeviceStockLocation>,
    ) -> ApiResult<Json<DeviceView>> {
        let (caller, actor) =
            super::records::caller_and_actor(&state, &auth, Permission::WriteRecords).await?;
        let location = body.0.stock_location_id;
        let device =
            devices::set_stock_location(&state, &caller, &actor, &meta, id.0, location).await?;
        Ok(Json(device.into()))
    }

    /// Revoke a device (a lost phone): every session on it ends at once, on
    /// every server instance, and it cannot sign in again. Anyone may revoke
    /// their own; admins and managers any.
    #[oai(path = "/v1/devices/:id/revoke", method = "post", operation_id = "revoke_device")]
    async fn revoke(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: Credentials,
        id: Path<Uuid>,
    ) -> ApiResult<Json<DeviceView>> {
        let caller = security::caller(&state, &auth).await?;
        Ok(Json(devices::revoke(&state, &caller, &meta, id.0).await?.into()))
    }
}
