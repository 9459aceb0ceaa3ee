//! Sync conflicts through the API: listed for the people who can decide
//! (the worker whose change conflicted, and managers and admins) and
//! resolved by them, the chosen values written through the merge engine.

use crate::caller::Actor;
use std::collections::BTreeMap;

use chrono::Utc;
use outpost_entity::sync_conflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{ServiceError, ServiceResult};
use crate::{
    domain::{parse_stored, stored_name},
    records::{access, context::BatchContext, fields::normalise},
    state::AppState,
    sync::{
        EntityKind,
        conflicts::{ConflictStatus, Resolution, ResolutionChoice},
        editable::{EditableRecord, lock},
        feed::FeedEntry,
        merge::FieldConflict,
        writer::BatchWriter,
    },
};

/// Conflicts the actor may see, newest first, keyset-paged by id.
pub async fn list(
    state: &AppState,
    actor: &Actor,
    status: Option<ConflictStatus>,
    before: Option<Uuid>,
    limit: u64,
) -> ServiceResult<Vec<sync_conflict::Model>> {
    let mut query = sync_conflict::Entity::find()
        .filter(sync_conflict::Column::OrganisationId.eq(actor.organisation_id))
        .order_by_desc(sync_conflict::Column::Id)
        .limit(limit);
    if !actor.sees_everything() {
        query = query.filter(sync_conflict::Column::RaisedBy.eq(actor.user_id));
    }
    if let Some(status) = status {
        query = query.filter(sync_conflict::Column::Status.eq(stored_name(&status)));
    }
    if let Some(before) = before {
        query = query.filter(sync_conflict::Column::Id.lt(before));
    }
    Ok(query.all(&state.db).await?)
}

/// One conflict the actor may see.
pub async fn get(state: &AppState, actor: &Actor, id: Uuid) -> ServiceResult<sync_conflict::Model> {
    let found = sync_conflict::Entity::find_by_id(id)
        .filter(sync_conflict::Column::OrganisationId.eq(actor.organisation_id))
        .one(&state.db)
        .await?
        .ok_or(ServiceError::NotFound("conflict"))?;
    if !actor.may_correct(found.raised_by) {
        return Err(ServiceError::NotFound("conflict"));
    }
    Ok(found)
}

/// Resolves a conflict: writes the chosen values to the record as a new
/// version (unless the server's are kept) and closes the conflict.
pub async fn resolve(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    resolution: ResolutionChoice,
    values: Option<Map<String, Value>>,
) -> ServiceResult<sync_conflict::Model> {
    let txn = state.db.begin().await?;
    // The record is locked before the conflict, the order a deletion of the
    // record takes them in (`close_for_deleted`), so the two never wait on
    // each other in a circle; the conflict is read again under its lock.
    let seen = sync_conflict::Entity::find_by_id(id)
        .filter(sync_conflict::Column::OrganisationId.eq(actor.organisation_id))
        .one(&txn)
        .await?
        .filter(|c| actor.may_correct(c.raised_by))
        .ok_or(ServiceError::NotFound("conflict"))?;
    let entity: EntityKind = parse_stored(&seen.entity).map_err(ServiceError::Internal)?;
    let record = EditableRecord::load(&txn, actor, entity, seen.record_id).await?;
    let conflict = lock::<_, sync_conflict::Entity>(&txn, actor.organisation_id, id)
        .await?
        .ok_or(ServiceError::NotFound("conflict"))?;
    if conflict.status != "open" {
        return Err(ServiceError::Conflict {
            code: "already_resolved",
            detail: "this conflict has already been resolved".into(),
        });
    }
    let fields: BTreeMap<String, FieldConflict> = serde_json::from_str(&conflict.fields)
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    let chosen: Map<String, Value> = match (resolution, values) {
        (ResolutionChoice::KeepTheirs, _) => Map::new(),
        (ResolutionChoice::TakeMine, _) => {
            fields.iter().map(|(k, c)| (k.clone(), c.mine.clone())).collect()
        }
        (ResolutionChoice::Merged, None) => {
            return Err(ServiceError::invalid("values", "a merged resolution needs the values"));
        }
        (ResolutionChoice::Merged, Some(values)) => {
            if let Some(extra) = values.keys().find(|k| !fields.contains_key(*k)) {
                return Err(ServiceError::invalid(
                    &format!("values.{extra}"),
                    "is not one of the conflicting fields",
                ));
            }
            values
        }
    };
    let mut w = BatchWriter::default();
    if !chosen.is_empty() {
        access::check_writable(actor, entity, &chosen, false)
            .map_err(|r| ServiceError::Forbidden { code: "field_forbidden", detail: r.detail })?;
        let ctx = BatchContext::load(&txn, actor.clone(), std::iter::once(&chosen)).await?;
        let checked =
            normalise(&crate::records::kind::editable_fields(entity), &chosen, false, &ctx)
                .map_err(|r| {
                    ServiceError::invalid(
                        &format!("values.{}", r.field.unwrap_or_default()),
                        r.detail,
                    )
                })?;
        // A record out of the caller's sight (a referral moved to another
        // site) is unknown to them, as to `GET`; keep_theirs still closes
        // the conflict, which writes nothing.
        let record = record.ok_or(ServiceError::NotFound("record"))?;
        if record.deleted {
            return Err(ServiceError::Conflict {
                code: "record_deleted",
                detail: "the record was deleted; only keep_theirs can close this conflict".into(),
            });
        }
        record.check_update(&txn, &ctx, &checked).await.map_err(|err| match err {
            crate::records::rejection::ApplyError::Rejected(r) => ServiceError::ConflictOn {
                code: r.code.as_str(),
                field: "values",
                detail: r.detail,
            },
            crate::records::rejection::ApplyError::Db(db) => ServiceError::Db(db),
        })?;
        record.write(&txn, actor, &mut w, &checked).await?;
    }
    let now = Utc::now();
    let (raised_by, version) = (conflict.raised_by, conflict.version + 1);
    let mut active = conflict.into_active_model();
    active.status = Set("resolved".into());
    active.resolution = Set(Some(stored_name(&Resolution::from(resolution))));
    active.resolved_values = Set(Some(Value::Object(chosen).to_string()));
    active.resolved_by = Set(actor.user_id);
    active.resolved_at = Set(Some(now));
    active.version = Set(version);
    active.updated_at = Set(now);
    let saved = active.update(&txn).await?;
    w.change(FeedEntry::upsert(EntityKind::Conflict, id, version).owned_by(raised_by));
    w.finish(&txn, actor.organisation_id).await?;
    txn.commit().await?;
    Ok(saved)
}
