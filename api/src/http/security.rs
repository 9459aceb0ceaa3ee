//! The two ways to authenticate, as OpenAPI security schemes, and their
//! resolution into a `Caller`.

use poem_openapi::{
    SecurityScheme,
    auth::{ApiKey, Bearer},
};

use crate::{
    caller::{Caller, UserCaller},
    error::{ApiError, ApiResult},
    service::api_keys,
    session,
    state::AppState,
};

/// A staff member's session token from `POST /v1/auth/login`, sent as
/// `Authorization: Bearer ops_…`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", rename = "session_token", bearer_format = "opaque")]
pub struct SessionToken(pub Bearer);

/// An integrator's API key, sent as `X-Api-Key: opk_…`.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "X-Api-Key", key_in = "header", rename = "api_key")]
pub struct ApiKeyToken(pub ApiKey);

/// Either a session token or an API key.
#[derive(SecurityScheme)]
pub enum Credentials {
    /// A staff member's session.
    Session(SessionToken),
    /// An integrator's key.
    ApiKey(ApiKeyToken),
}

fn invalid_token() -> ApiError {
    ApiError::unauthorized(
        "invalid_token",
        "the token is unknown, expired or revoked; sign in again",
    )
}

/// Resolves a session token to the signed-in user.
pub async fn user(state: &AppState, token: &SessionToken) -> ApiResult<UserCaller> {
    session::resolve(state, &token.0.token).await?.ok_or_else(invalid_token)
}

/// Resolves either kind of credential.
pub async fn caller(state: &AppState, credentials: &Credentials) -> ApiResult<Caller> {
    match credentials {
        Credentials::Session(token) => user(state, token).await.map(Caller::User),
        Credentials::ApiKey(key) => {
            api_keys::resolve(state, &key.0.key).await?.map(Caller::Integrator).ok_or_else(|| {
                ApiError::unauthorized(
                    "invalid_api_key",
                    "the API key is unknown, expired or revoked",
                )
            })
        }
    }
}
