//! What the field-record resources (`persons`, `contacts`, `incidents`,
//! `referrals`) share: the caller as the sync engine sees them, `ETag` and
//! `If-Match`, page sizes, and one-mutation writes through the engine with
//! its refusals mapped onto problems.
//!
//! Every REST write is one mutation pushed through `sync::push`, exactly as
//! a device's would be, so validation, merging, conflict safety, the change
//! feed and the replay log are the same for both.

use poem::http::StatusCode;
use poem_openapi::{ApiResponse, payload::Json, types::ToJSON};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::security::{self, Credentials};
use crate::{
    caller::Caller,
    domain::Permission,
    error::{ApiError, ApiResult, Problem},
    records::context::Actor,
    state::AppState,
    sync::{
        EntityKind,
        mutation::{Mutation, MutationOp, MutationProblem, MutationResult, MutationStatus},
        push,
    },
};

/// The checked caller and the actor the engine writes as.
pub async fn caller_and_actor(
    state: &AppState,
    auth: &Credentials,
    permission: Permission,
) -> ApiResult<(Caller, Actor)> {
    let caller = security::caller(state, auth).await?;
    caller.require(permission)?;
    let actor = Actor::of(&state.db, &caller).await?;
    Ok((caller, actor))
}

/// The actor, after checking `permission`.
pub async fn actor(
    state: &AppState,
    auth: &Credentials,
    permission: Permission,
) -> ApiResult<Actor> {
    Ok(caller_and_actor(state, auth, permission).await?.1)
}

/// A version as a strong entity tag: `"3"`.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// The version an `If-Match` header names: `"3"` (a bare `3` is accepted).
/// Missing: 400 `if_match_required`; anything else: 400 `invalid_if_match`.
pub fn if_match(header: Option<&str>) -> ApiResult<i64> {
    let Some(raw) = header else {
        return Err(ApiError::bad_request(
            "if_match_required",
            "send `If-Match` with the record's ETag (its version, quoted: \"3\")",
        ));
    };
    let raw = raw.trim();
    let inner = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')).unwrap_or(raw);
    match inner.parse::<i64>() {
        Ok(v) if v >= 1 => Ok(v),
        _ => Err(ApiError::bad_request(
            "invalid_if_match",
            "`If-Match` must be one ETag as this API issues them: the version, quoted (\"3\")",
        )),
    }
}

/// A time filter from the query string, within the years a record can
/// hold (`records::fields::YEARS`): year 0 or -5000 is a mistake, and one
/// the database cannot compare with.
pub fn time_filter(
    name: &str,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> ApiResult<Option<chrono::DateTime<chrono::Utc>>> {
    match at {
        Some(t) if !crate::records::fields::in_years(&t) => Err(ApiError::BadRequest(Json(
            Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid_parameter",
                format!("`{name}` must be a time between 1900 and 2200"),
            )
            .with_field(name),
        ))),
        other => Ok(other),
    }
}

/// A page size: 1 to 200, 50 by default.
pub fn page_limit(limit: Option<u64>) -> ApiResult<u64> {
    let limit = limit.unwrap_or(50);
    if (1..=200).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::invalid("limit", "must be between 1 and 200"))
    }
}

/// A typed request body as the engine's `fields`, without its `id`.
pub fn fields_of<T: ToJSON>(body: &T) -> Map<String, Value> {
    let mut fields = match body.to_json() {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    };
    fields.remove("id");
    fields
}

/// How a create ended.
pub enum Created {
    /// The record is new.
    New,
    /// A record with this id was there already (a retried POST).
    Existing,
}

/// Creates a record through the engine.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    entity: EntityKind,
    id: Uuid,
    fields: Map<String, Value>,
) -> ApiResult<Created> {
    let result = one(state, actor, entity, id, MutationOp::Create, None, fields).await?;
    match result.status {
        MutationStatus::Duplicate => Ok(Created::Existing),
        MutationStatus::Rejected => Err(refused(result.problem)),
        _ => Ok(Created::New),
    }
}

/// Updates a record through the engine from `base_version`, which the
/// caller checked is current. Answers the new version.
///
/// The check and the write are two transactions, so another writer can get
/// in between. The engine's own `base_version` check makes that safe: the
/// change is then merged field by field (`merged`: nothing the client sent
/// was changed concurrently, so the change stands and 200 is honest), or the
/// fields that were changed concurrently are refused and a conflict opened
/// for a manager to resolve, as for a device (`conflict`: 412, the client
/// fetches the record and reapplies).
pub async fn update(
    state: &AppState,
    actor: &Actor,
    entity: EntityKind,
    id: Uuid,
    base_version: i64,
    fields: Map<String, Value>,
) -> ApiResult<i64> {
    let result =
        one(state, actor, entity, id, MutationOp::Update, Some(base_version), fields).await?;
    match result.status {
        MutationStatus::Rejected => Err(refused(result.problem)),
        MutationStatus::Conflict => {
            Err(ApiError::precondition_failed(result.version.unwrap_or(base_version)))
        }
        _ => Ok(result.version.unwrap_or(base_version)),
    }
}

/// Deletes (tombstones) a record through the engine.
pub async fn delete(
    state: &AppState,
    actor: &Actor,
    entity: EntityKind,
    id: Uuid,
) -> ApiResult<()> {
    let result = one(state, actor, entity, id, MutationOp::Delete, None, Map::new()).await?;
    match result.status {
        MutationStatus::Rejected => Err(refused(result.problem)),
        _ => Ok(()),
    }
}

async fn one(
    state: &AppState,
    actor: &Actor,
    entity: EntityKind,
    id: Uuid,
    op: MutationOp,
    base_version: Option<i64>,
    fields: Map<String, Value>,
) -> ApiResult<MutationResult> {
    // A fresh mutation id: a retried POST is made idempotent by the record
    // id (the engine answers `duplicate` for an id it holds already).
    let mutation = Mutation { mutation_id: Uuid::now_v7(), entity, id, op, base_version, fields };
    push::push(state, actor, vec![mutation])
        .await?
        .pop()
        .ok_or_else(|| ApiError::internal(&"the engine answered no result"))
}

/// The problem for an engine refusal; the engine's code is kept.
///
/// `forbidden` and `field_forbidden` are 403, `id_taken` 409, `unknown_record` 404,
/// `record_deleted` 410; anything else (`validation_failed`, `unknown_*`,
/// `append_only`, ...) is 422 naming the field at fault when there is one.
fn refused(problem: Option<MutationProblem>) -> ApiError {
    let Some(p) = problem else {
        return ApiError::internal(&"a rejection without a problem");
    };
    let make = |status: StatusCode| {
        let problem = Problem::new(status, &p.code, p.detail.clone());
        match &p.field {
            Some(field) => Json(problem.with_field(field.clone())),
            None => Json(problem),
        }
    };
    match p.code.as_str() {
        "forbidden" | "field_forbidden" => ApiError::Forbidden(make(StatusCode::FORBIDDEN)),
        "id_taken" => ApiError::Conflict(make(StatusCode::CONFLICT)),
        "unknown_record" => ApiError::NotFound(make(StatusCode::NOT_FOUND)),
        "record_deleted" => ApiError::Gone(make(StatusCode::GONE)),
        _ => ApiError::Unprocessable(make(StatusCode::UNPROCESSABLE_ENTITY)),
    }
}

/// 409 for a create whose id exists but cannot be shown to this caller.
pub fn id_taken() -> ApiError {
    ApiError::conflict("id_taken", "this id is already in use; generate a new UUID")
}

/// Answer of a delete.
#[derive(ApiResponse)]
pub enum Deleted {
    /// Deleted (or deleted already).
    #[oai(status = 204)]
    Deleted,
}
