//! `GET /v1/me`: who the caller is.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{Object, OpenApi, payload::Json};

use super::{
    ApiTags,
    devices::DeviceView,
    organisation::OrganisationView,
    security::{self, SessionToken},
    users::UserView,
};
use crate::records::reference::site::SiteView;
use crate::{
    caller::{Caller, UserCaller},
    error::ApiResult,
    service::{
        devices, organisations, sites,
        users::{self, UserWithSites},
    },
    state::AppState,
};

/// The session.
#[derive(Object)]
pub struct SessionView {
    /// When the session ends unless used before then.
    pub expires_at: DateTime<Utc>,
}

/// The signed-in user, their organisation, sites, device and session.
#[derive(Object)]
pub struct MeView {
    /// The account.
    pub user: UserView,
    /// Their organisation.
    pub organisation: OrganisationView,
    /// The sites they work at.
    pub sites: Vec<SiteView>,
    /// The device this session was opened on, if any.
    pub device: Option<DeviceView>,
    /// The session.
    pub session: SessionView,
}

/// Builds the `me` answer for a user caller.
pub async fn me_view(
    state: &AppState,
    caller: &UserCaller,
    user: UserWithSites,
) -> ApiResult<MeView> {
    let as_caller = Caller::User(caller.clone());
    let organisation = organisations::get(state, &as_caller).await?;
    let site_list = sites::with_ids(state, &as_caller, &user.site_ids)
        .await?
        .into_iter()
        .map(SiteView::from)
        .collect();
    let device = match caller.device_id {
        Some(id) => Some(DeviceView::from(devices::get(&state.db, &as_caller, id).await?)),
        None => None,
    };
    Ok(MeView {
        user: UserView::from(user),
        organisation: organisation.into(),
        sites: site_list,
        device,
        session: SessionView { expires_at: caller.session_expires_at },
    })
}

/// Who the caller is.
#[derive(Default)]
pub struct MeApi;

#[OpenApi(tag = "ApiTags::Me")]
impl MeApi {
    /// Who am I: user, organisation, role, sites, device and session expiry.
    #[oai(path = "/v1/me", method = "get", operation_id = "get_me")]
    async fn me(&self, state: Data<&AppState>, auth: SessionToken) -> ApiResult<Json<MeView>> {
        let caller = security::user(&state, &auth).await?;
        let user = users::get(&state.db, caller.organisation_id, caller.user_id).await?;
        Ok(Json(me_view(&state, &caller, user).await?))
    }
}
