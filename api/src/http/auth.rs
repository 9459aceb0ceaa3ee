//! Sign in and sign out.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};
use uuid::Uuid;

use crate::text::{Password, Text};

use super::{
    ApiTags,
    devices::DeviceView,
    me::{MeView, me_view},
    security::{self, SessionToken},
};
use crate::{
    caller::RequestMeta,
    error::{ApiError, ApiResult},
    service::{
        devices::DeviceRegistration,
        login::{self, LoginError},
    },
    state::AppState,
};

/// The device a login comes from. Phones send this so their sessions can be
/// revoked with the device.
#[derive(Object)]
pub struct LoginDevice {
    /// The device's own id: a UUID (v7) generated once on the device.
    pub id: Uuid,
    /// A name people recognise, e.g. "Outreach phone 3".
    pub name: Text<200>,
    /// The platform, e.g. `android` or `ios`.
    #[oai(nullable)]
    pub platform: Option<Text<64>>,
}

/// Credentials for `POST /v1/auth/login`.
#[derive(Object)]
pub struct LoginRequest {
    /// The account's email.
    pub email: Text<254>,
    /// The account's password.
    #[oai(write_only)]
    pub password: Password,
    /// The device signing in, if it is a phone or tablet.
    #[oai(nullable)]
    pub device: Option<LoginDevice>,
}

/// A new session.
#[derive(Object)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`. Shown once; store it on the
    /// device's secure storage.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// When the session ends unless used before then (it slides with use).
    pub expires_at: DateTime<Utc>,
    /// Who signed in.
    pub me: MeView,
    /// The registered device, when one was sent.
    pub device: Option<DeviceView>,
}

/// Answers of `POST /v1/auth/logout`.
#[derive(ApiResponse)]
pub enum LogoutResponse {
    /// The session has ended.
    #[oai(status = 204)]
    LoggedOut,
}

/// Sign in and sign out.
#[derive(Default)]
pub struct AuthApi;

#[OpenApi(tag = "ApiTags::Auth")]
impl AuthApi {
    /// Sign in with email and password; answers an opaque bearer token.
    ///
    /// Failed attempts are limited per account and per client address
    /// (429 with `Retry-After`). A revoked device cannot sign in again.
    #[oai(path = "/v1/auth/login", method = "post", operation_id = "login")]
    async fn login(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        body: Json<LoginRequest>,
    ) -> ApiResult<Json<LoginResponse>> {
        let body = body.0;
        let registration = body.device.map(|d| DeviceRegistration {
            id: d.id,
            name: d.name.into(),
            platform: d.platform.map(Into::into),
        });
        let outcome = login::login(&state, &meta, &body.email, body.password.into(), registration)
            .await
            .map_err(|err| match err {
                LoginError::RateLimited(retry_after) => ApiError::rate_limited(retry_after),
                LoginError::InvalidCredentials => {
                    ApiError::unauthorized("invalid_credentials", "wrong email or password")
                }
                LoginError::Service(err) => err.into(),
            })?;
        let me = me_view(&state, &outcome.caller, outcome.user).await?;
        Ok(Json(LoginResponse {
            token: outcome.token,
            token_type: "Bearer".into(),
            expires_at: outcome.caller.session_expires_at,
            me,
            device: outcome.device.map(DeviceView::from),
        }))
    }

    /// Sign out: the session ends at once, on every server instance.
    #[oai(path = "/v1/auth/logout", method = "post", operation_id = "logout")]
    async fn logout(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: SessionToken,
    ) -> ApiResult<LogoutResponse> {
        let caller = security::user(&state, &auth).await?;
        login::logout(&state, &caller, &meta, &auth.0.token).await?;
        Ok(LogoutResponse::LoggedOut)
    }
}
