//! Liveness and readiness for orchestrators.

use poem::web::Data;
use poem_openapi::{Enum, Object, OpenApi, payload::Json};
use sea_orm::ConnectionTrait;

use super::ApiTags;
use crate::{
    cache::CacheHealth,
    error::{ApiError, ApiResult},
    state::AppState,
};

/// Health of the process.
#[derive(Object)]
pub struct Health {
    /// Always `ok` when the process answers.
    pub status: String,
}

/// Overall readiness.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ReadinessStatus {
    /// Everything as designed.
    Ok,
    /// Serving, on fallbacks (Redis down: sessions from the database,
    /// rate limits per instance).
    Degraded,
}

/// State of the hot cache.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum CacheState {
    /// Redis answers.
    Up,
    /// Redis is configured but does not answer.
    Down,
    /// No Redis configured; the in-process cache serves.
    InProcess,
}

/// What `/readyz` reports.
#[derive(Object)]
pub struct Readiness {
    /// `ok`, or `degraded` while a fallback is in use.
    pub status: ReadinessStatus,
    /// The database answers (always true in a 200 answer).
    pub database: bool,
    /// The hot cache.
    pub cache: CacheState,
}

/// Liveness and readiness.
#[derive(Default)]
pub struct SystemApi;

#[OpenApi(tag = "ApiTags::System")]
impl SystemApi {
    /// Liveness: answers while the process runs.
    #[oai(path = "/healthz", method = "get", operation_id = "get_health")]
    async fn health(&self) -> ApiResult<Json<Health>> {
        Ok(Json(Health { status: "ok".into() }))
    }

    /// Readiness: the database answers (503 if not); reports whether Redis
    /// answers or the server runs on its fallbacks.
    #[oai(path = "/readyz", method = "get", operation_id = "get_readiness")]
    async fn readiness(&self, state: Data<&AppState>) -> ApiResult<Json<Readiness>> {
        let backend = state.db.get_database_backend();
        let ping = sea_orm::Statement::from_string(backend, "SELECT 1");
        if let Err(err) = state.db.execute_raw(ping).await {
            return Err(ApiError::unavailable(&err));
        }
        let cache = match state.cache.probe().await {
            CacheHealth::InProcess => CacheState::InProcess,
            CacheHealth::Up => CacheState::Up,
            CacheHealth::Degraded => CacheState::Down,
        };
        let status =
            if cache == CacheState::Down { ReadinessStatus::Degraded } else { ReadinessStatus::Ok };
        Ok(Json(Readiness { status, database: true, cache }))
    }
}
