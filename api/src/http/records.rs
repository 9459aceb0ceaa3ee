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
use sea_orm::DatabaseTransaction;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::security::{self, Credentials};
use crate::{
    caller::Actor,
    caller::Caller,
    domain::Permission,
    error::{ApiError, ApiResult, Problem},
    records::rejection::RejectionCode,
    service::{ServiceError, ServiceResult},
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
    // The sites that authorise a write are read where writes go.
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

/// The header a REST edit must carry: the `ETag` it was made from.
pub const IF_MATCH: &str = "If-Match";

/// 400 `if_match_required`: an edit without `If-Match` (the spec marks it
/// required; an edit without the version it was made from could overwrite
/// a change its author never saw).
pub fn if_match_required() -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "if_match_required",
        "send `If-Match` with the record's ETag (its version, quoted: \"3\")".to_owned(),
    )
    .with_field(IF_MATCH)
}

/// 400 `invalid_if_match`: an `If-Match` that is not one ETag as this API
/// issues them (the operations' pattern for the header says the same).
pub fn invalid_if_match() -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid_if_match",
        "`If-Match` must be one ETag as this API issues them: the version, quoted (\"3\")"
            .to_owned(),
    )
    .with_field(IF_MATCH)
}

/// The version an `If-Match` header names: `"3"` (a bare `3` is accepted);
/// anything else is 400 `invalid_if_match`. (The header's pattern refuses
/// anything else before the operation runs; this reads what it lets by.)
pub fn if_match(header: &str) -> ApiResult<i64> {
    let raw = header.trim();
    let inner = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')).unwrap_or(raw);
    match inner.parse::<i64>() {
        Ok(v) if v >= 1 => Ok(v),
        _ => Err(ApiError::BadRequest(Json(invalid_if_match()))),
    }
}

/// A time filter from the query string, moved into the years a record can
/// hold (`records::fields::within_years`): `occurred_from` in year -5000
/// lists from the first record, as it says, rather than failing.
pub fn time_filter(
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    at.map(crate::records::fields::within_years)
}

/// A page size: 1 to 200 (the operation's validator refuses others
/// before the handler runs), 50 by default.
pub fn page_limit(limit: Option<u64>) -> u64 {
    limit.unwrap_or(50)
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

/// A REST write applied but not committed: its answer is read from
/// `txn()`, and `answer` commits. A write dropped without `answer` rolls
/// back.
pub struct Written {
    result: MutationResult,
    txn: DatabaseTransaction,
}

impl Written {
    /// The transaction to read the answer from.
    pub fn txn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Whether the record was there already (a retried create).
    pub fn existed(&self) -> bool {
        self.result.status == MutationStatus::Duplicate
    }

    /// Commits and answers `view`, the record read from `txn()`. A record
    /// the caller cannot see is `missing` (a create: the id is taken by a
    /// record of another site; an edit: not found); a failed read commits
    /// nothing and answers as the database error does (a storage hiccup is
    /// 503 with `Retry-After`, so the client retries).
    pub async fn answer<T>(
        self,
        view: ServiceResult<T>,
        missing: impl FnOnce() -> ApiError,
    ) -> ApiResult<T> {
        let view = match view {
            Ok(view) => view,
            Err(ServiceError::NotFound(_)) => return Err(missing()),
            Err(err) => return Err(err.into()),
        };
        self.txn.commit().await?;
        Ok(view)
    }
}

/// Creates a record through the engine; read its view from the answer's
/// transaction (`Written::answer`).
pub async fn create(
    state: &AppState,
    actor: &Actor,
    entity: EntityKind,
    id: Uuid,
    fields: Map<String, Value>,
) -> ApiResult<Written> {
    let mutation = one(entity, id, MutationOp::Create, None, fields);
    let (result, txn) = push::write_one(state, actor, &mutation).await?;
    if result.status == MutationStatus::Rejected {
        return Err(refused(entity, result.problem));
    }
    Ok(Written { result, txn })
}

/// Updates a record through the engine if it is still at `if_match`; read
/// its view from the answer's transaction. The version check, the write
/// and the read are one transaction: a stale `If-Match` answers 412 and
/// changes nothing, and no change can land between them.
pub async fn update(
    state: &AppState,
    actor: &Actor,
    entity: EntityKind,
    id: Uuid,
    if_match: i64,
    fields: Map<String, Value>,
) -> ApiResult<Written> {
    let mutation = one(entity, id, MutationOp::Update, Some(if_match), fields);
    let (result, txn) = push::write_one(state, actor, &mutation).await?;
    match result.status {
        MutationStatus::Rejected => Err(refused(entity, result.problem)),
        // Not reached: the version was checked in the same transaction, so
        // nothing can have changed concurrently.
        MutationStatus::Conflict => {
            Err(ApiError::precondition_failed(result.version.unwrap_or(if_match)))
        }
        _ => Ok(Written { result, txn }),
    }
}

/// Deletes (tombstones) a record through the engine; deleting it again
/// answers as the first time did.
pub async fn delete(
    state: &AppState,
    actor: &Actor,
    entity: EntityKind,
    id: Uuid,
) -> ApiResult<()> {
    let mutation = one(entity, id, MutationOp::Delete, None, Map::new());
    let (result, txn) = push::write_one(state, actor, &mutation).await?;
    if result.status == MutationStatus::Rejected {
        return Err(refused(entity, result.problem));
    }
    txn.commit().await?;
    Ok(())
}

/// One mutation with a fresh id: a retried POST is made idempotent by the
/// record id (the engine answers `duplicate` for an id it holds already).
fn one(
    entity: EntityKind,
    id: Uuid,
    op: MutationOp,
    base_version: Option<i64>,
    fields: Map<String, Value>,
) -> Mutation {
    Mutation { mutation_id: Uuid::now_v7(), entity, id, op, base_version, online: true, fields }
}

/// The problem for an engine refusal: the engine's code, with the status
/// the code carries (`RejectionCode::status`) and the field at fault.
/// A record the caller cannot see is `not_found`, as its `GET` answers.
fn refused(entity: EntityKind, problem: Option<MutationProblem>) -> ApiError {
    let Some(p) = problem else {
        return ApiError::internal(&"a rejection without a problem");
    };
    if p.code == RejectionCode::UnknownRecord {
        return ApiError::not_found(&entity.as_str().replace('_', " "));
    }
    let status = p.code.status();
    let mut problem = Problem::new(status, p.code.as_str(), p.detail);
    if let Some(field) = p.field {
        problem = problem.with_field(field);
    }
    ApiError::from_problem(problem)
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
