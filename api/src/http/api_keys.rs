//! Integrators' API keys (admins).

use chrono::{DateTime, Utc};
use outpost_entity::api_key;
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, payload::Json};
use uuid::Uuid;

use crate::text::Text;

use super::{
    ApiTags,
    security::{self, SessionToken},
};
use crate::{
    caller::{Caller, RequestMeta},
    domain::{ApiKeyScope, Permission},
    error::ApiResult,
    service::api_keys::{self, NewApiKey, scopes_of},
    state::AppState,
};

/// An API key (never the key itself, after creation).
#[derive(Object)]
pub struct ApiKeyView {
    /// Its id.
    pub id: Uuid,
    /// What it is for.
    pub name: String,
    /// The key's first characters, to tell keys apart.
    pub prefix: String,
    /// What it may do.
    pub scopes: Vec<ApiKeyScope>,
    /// Who created it.
    pub created_by: Option<Uuid>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last used (to within a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// Set when revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<api_key::Model> for ApiKeyView {
    fn from(m: api_key::Model) -> Self {
        Self {
            scopes: scopes_of(&m),
            id: m.id,
            name: m.name,
            prefix: m.prefix,
            created_by: m.created_by,
            created_at: m.created_at,
            last_used_at: m.last_used_at,
            expires_at: m.expires_at,
            revoked_at: m.revoked_at,
        }
    }
}

/// API keys, as one page.
#[derive(Object)]
pub struct ApiKeyList {
    /// Newest first.
    pub items: Vec<ApiKeyView>,
}

/// A key to create.
#[derive(Object)]
pub struct CreateApiKey {
    /// What it is for.
    pub name: Text<200>,
    /// What it may do (at least one scope).
    pub scopes: Vec<ApiKeyScope>,
    /// When it stops working, if ever.
    #[oai(nullable)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A new key, with its secret.
#[derive(Object)]
pub struct CreatedApiKeyView {
    /// The key's record.
    pub api_key: ApiKeyView,
    /// Send as `X-Api-Key`. Shown once: it is stored only as a hash.
    pub key: String,
}

/// Answer of `POST /v1/api-keys`.
#[derive(ApiResponse)]
pub enum ApiKeyCreated {
    /// The new key and its secret.
    #[oai(status = 201)]
    Created(Json<CreatedApiKeyView>),
}

/// Integrators' API keys.
#[derive(Default)]
pub struct ApiKeysApi;

async fn admin(state: &AppState, auth: &SessionToken) -> ApiResult<Caller> {
    let caller = Caller::User(security::user(state, auth).await?);
    caller.require(Permission::ManageApiKeys)?;
    Ok(caller)
}

#[OpenApi(tag = "ApiTags::ApiKeys")]
impl ApiKeysApi {
    /// List the organisation's API keys (admins).
    #[oai(path = "/v1/api-keys", method = "get", operation_id = "list_api_keys")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: SessionToken,
    ) -> ApiResult<Json<ApiKeyList>> {
        let caller = admin(&state, &auth).await?;
        let items = api_keys::list(&state, &caller).await?;
        Ok(Json(ApiKeyList { items: items.into_iter().map(ApiKeyView::from).collect() }))
    }

    /// Create an API key (admins). The key is in this answer only.
    #[oai(path = "/v1/api-keys", method = "post", operation_id = "create_api_key")]
    async fn create(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: SessionToken,
        body: Json<CreateApiKey>,
    ) -> ApiResult<ApiKeyCreated> {
        let caller = admin(&state, &auth).await?;
        let b = body.0;
        let (key, secret) = api_keys::create(
            &state,
            &caller,
            &meta,
            NewApiKey { name: b.name.into(), scopes: b.scopes, expires_at: b.expires_at },
        )
        .await?;
        Ok(ApiKeyCreated::Created(Json(CreatedApiKeyView { api_key: key.into(), key: secret })))
    }

    /// Revoke an API key (admins); it stops working at once.
    #[oai(path = "/v1/api-keys/:id", method = "delete", operation_id = "revoke_api_key")]
    async fn revoke(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: SessionToken,
        id: Path<Uuid>,
    ) -> ApiResult<Json<ApiKeyView>> {
        let caller = admin(&state, &auth).await?;
        Ok(Json(api_keys::revoke(&state, &caller, &meta, id.0).await?.into()))
    }
}
