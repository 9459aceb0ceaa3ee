//! Sync: push mutations recorded offline, pull changes, resolve conflicts.

use std::collections::HashMap;

use poem::{http::StatusCode, web::Data};
use poem_openapi::{
    Enum, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{
    ApiTags,
    json_body::JsonBody,
    security::{self, Credentials},
    sync_wire::{MutationIn, SyncChange},
};
use crate::{
    caller::Actor,
    caller::RequestMeta,
    domain::Permission,
    error::{ApiError, ApiResult, Problem},
    service::audit::{self, AuditEntry},
    state::AppState,
    sync::{
        EntityKind,
        conflicts::{ConflictStatus, ConflictView, ResolutionChoice},
        mutation::MutationResult,
        pull::{self, CursorRefusal},
        push,
    },
};

/// The most mutations one push may carry.
pub const MAX_BATCH: usize = 500;

/// A batch of mutations.
#[derive(Object)]
pub struct PushRequest {
    /// At most 500 mutations, applied in order.
    pub mutations: Vec<MutationIn>,
}

/// The answer to a push: one result per mutation, in order.
#[derive(Object)]
pub struct PushResponse {
    /// The results.
    pub results: Vec<MutationResult>,
}

/// What a pulled change asks the device to do.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    /// Store `record`, replacing any copy.
    Upsert,
    /// The record was deleted: drop it.
    Delete,
    /// The record left your scope: drop it.
    Evict,
}

/// A page of the change feed.
#[derive(Object, serde::Serialize)]
pub struct PullResponse {
    /// Changes, in server order.
    pub changes: Vec<SyncChange>,
    /// Pass it to the next pull. Opaque.
    pub cursor: String,
    /// Whether more changes are waiting: pull again at once.
    pub has_more: bool,
}

/// A page of conflicts.
#[derive(Object)]
pub struct ConflictPage {
    /// Newest first.
    pub items: Vec<ConflictView>,
    /// Pass as `before` for the next page; absent on the last.
    pub next_before: Option<Uuid>,
}

/// How to resolve a conflict.
#[derive(Object)]
pub struct ResolveConflict {
    /// Keep the server's values, take the device's, or write `values`.
    pub resolution: ResolutionChoice,
    /// For `merged`: the value of each conflicting field.
    #[oai(nullable)]
    pub values: Option<HashMap<String, Value>>,
}

/// Sync.
#[derive(Default)]
pub struct SyncApi;

async fn actor(state: &AppState, auth: &Credentials, permission: Permission) -> ApiResult<Actor> {
    let caller = security::caller(state, auth).await?;
    caller.require(permission)?;
    // The sites that authorise a write are read where writes go.
    Ok(Actor::of(&state.db, &caller).await?)
}

#[OpenApi(tag = "ApiTags::Sync")]
impl SyncApi {
    /// Push a batch of mutations recorded offline; each gets its own result
    /// (applied, merged, duplicate, conflict or rejected), and one refused
    /// mutation never blocks the others.
    #[oai(path = "/v1/sync/push", method = "post", operation_id = "sync_push")]
    async fn push(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        body: Json<PushRequest>,
    ) -> ApiResult<Json<PushResponse>> {
        let actor = actor(&state, &auth, Permission::WriteRecords).await?;
        if body.0.mutations.len() > MAX_BATCH {
            return Err(ApiError::invalid(
                "mutations",
                format!("at most {MAX_BATCH} mutations per push; split the batch"),
            ));
        }
        // Each mutation's fields are checked against its kind's schema on
        // their own: one that does not fit is refused, and the rest go on.
        let spec = super::spec_value();
        let mut refused = Vec::new();
        let mut mutations = Vec::new();
        for (i, m) in body.0.mutations.into_iter().enumerate() {
            match m.check(spec) {
                Ok(mutation) => mutations.push(mutation),
                Err(answer) => refused.push((i, answer)),
            }
        }
        let mut results = push::push(&state, &actor, mutations).await?;
        for (i, result) in refused {
            results.insert(i, result);
        }
        Ok(Json(PushResponse { results }))
    }

    /// Pull the changes in your scope after `cursor` (from the start without
    /// one). A 410 means the cursor can no longer be served: discard local
    /// data and pull from the start. A cursor this server did not issue to
    /// your organisation is 422 `invalid_cursor`.
    #[oai(path = "/v1/sync/pull", method = "get", operation_id = "sync_pull")]
    async fn pull(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: Credentials,
        /// The cursor of the previous pull, as it was given (opaque; at most
        /// 512 characters).
        #[oai(validator(max_length = 512))]
        cursor: Query<Option<String>>,
        /// Changes per page, 1 to 1000 (default 500).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u64>>,
    ) -> ApiResult<JsonBody<PullResponse>> {
        let caller = security::caller(&state, &auth).await?;
        caller.require(Permission::ReadRecords)?;
        let actor = Actor::of(&state.reads, &caller).await?;
        // The validator keeps it within 1..=1000.
        let limit = limit.0.unwrap_or(500);
        let page = match pull::pull(&state, &actor, cursor.0.as_deref(), limit).await? {
            Ok(page) => page,
            Err(CursorRefusal::Invalid) => {
                // Well-formed (any text of the right length is) but not
                // one of ours: a value the server cannot take, so 422.
                return Err(ApiError::from_problem(
                    Problem::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid_cursor",
                        "not a cursor this server issued to your organisation".to_owned(),
                    )
                    .with_field("cursor"),
                ));
            }
            Err(CursorRefusal::Gone(code, detail)) => return Err(ApiError::gone(code, detail)),
        };
        let persons = page.changes.iter().filter(|c| c.entity == EntityKind::Person).count();
        if persons > 0 {
            // Reads of people's records are auditable; one entry per page.
            audit::record(
                &state.db,
                &caller,
                Some(&meta.request_id),
                AuditEntry::new("sync.pulled", "sync", Uuid::nil()).with_detail(
                    serde_json::json!({ "changes": page.changes.len(), "persons": persons }),
                ),
            )
            .await?;
        }
        Ok(JsonBody(PullResponse {
            changes: page
                .changes
                .into_iter()
                .map(|c| SyncChange {
                    entity: c.entity,
                    id: c.id,
                    op: match c.op.as_str() {
                        "delete" => ChangeOp::Delete,
                        "evict" => ChangeOp::Evict,
                        _ => ChangeOp::Upsert,
                    },
                    version: c.version,
                    record: c.record,
                })
                .collect(),
            cursor: page.cursor,
            has_more: page.has_more,
        }))
    }

    /// List sync conflicts: yours, or all of the organisation's for
    /// managers and admins.
    #[oai(path = "/v1/sync/conflicts", method = "get", operation_id = "list_conflicts")]
    async fn list_conflicts(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// Only conflicts in this state.
        status: Query<Option<ConflictStatus>>,
        /// Only conflicts older than this id (the previous page's `next_before`).
        before: Query<Option<Uuid>>,
        /// Page size, 1 to 200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u64>>,
    ) -> ApiResult<Json<ConflictPage>> {
        let actor = actor(&state, &auth, Permission::ReadRecords).await?;
        // The validator keeps it within 1..=200.
        let limit = limit.0.unwrap_or(50);
        let rows =
            crate::service::conflicts::list(&state, &actor, status.0, before.0, limit + 1).await?;
        let next_before = if rows.len() as u64 > limit {
            rows.get(limit as usize - 1).map(|c| c.id)
        } else {
            None
        };
        Ok(Json(ConflictPage {
            items: rows
                .into_iter()
                .take(limit as usize)
                .map(|m| ConflictView::for_actor(m, &actor))
                .collect(),
            next_before,
        }))
    }

    /// Get one conflict.
    #[oai(path = "/v1/sync/conflicts/:id", method = "get", operation_id = "get_conflict")]
    async fn get_conflict(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// The conflict.
        id: Path<Uuid>,
    ) -> ApiResult<Json<ConflictView>> {
        let actor = actor(&state, &auth, Permission::ReadRecords).await?;
        Ok(Json(ConflictView::for_actor(
            crate::service::conflicts::get(&state, &actor, id.0).await?,
            &actor,
        )))
    }

    /// Resolve a conflict: keep the server's values, take the device's, or
    /// write merged values. The record gets a new version that syncs down.
    #[oai(
        path = "/v1/sync/conflicts/:id/resolve",
        method = "post",
        operation_id = "resolve_conflict"
    )]
    async fn resolve_conflict(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// The conflict.
        id: Path<Uuid>,
        body: Json<ResolveConflict>,
    ) -> ApiResult<Json<ConflictView>> {
        let actor = actor(&state, &auth, Permission::WriteRecords).await?;
        let values = body.0.values.map(|v| v.into_iter().collect::<Map<String, Value>>());
        let resolved =
            crate::service::conflicts::resolve(&state, &actor, id.0, body.0.resolution, values)
                .await?;
        Ok(Json(ConflictView::for_actor(resolved, &actor)))
    }
}
