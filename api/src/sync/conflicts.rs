//! Conflicts: opened by the merge when both sides changed a field, listed
//! for the people who can decide (the worker whose change conflicted, and
//! managers and admins), resolved through the API, and synced down to the
//! devices of those people like any other record.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use outpost_entity::sync_conflict;
use poem_openapi::{Enum, Object};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{
    EntityKind, editable::EditableRecord, feed::FeedEntry, merge::FieldConflict,
    mutation::Mutation, writer::BatchWriter,
};
use crate::{
    domain::{parse_stored, stored_name},
    records::{
        access,
        context::{Actor, BatchContext},
        fields::normalise,
    },
    service::{ServiceError, ServiceResult},
    state::AppState,
};

/// Where a conflict is.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ConflictStatus {
    /// Waiting for a decision.
    Open,
    /// Decided.
    Resolved,
}

/// How a conflict was resolved.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum Resolution {
    /// Keep the server's values (nothing changes).
    KeepTheirs,
    /// Write the device's values.
    TakeMine,
    /// Write the values given in `values`.
    Merged,
    /// Closed by the server because the record was deleted; the values were
    /// cleared with it. Not a choice a caller can make.
    RecordDeleted,
}

/// How to resolve a conflict: the choices a caller has.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ResolutionChoice {
    /// Keep the server's values (nothing changes).
    KeepTheirs,
    /// Write the device's values.
    TakeMine,
    /// Write the values given in `values`.
    Merged,
}

impl From<ResolutionChoice> for Resolution {
    fn from(choice: ResolutionChoice) -> Self {
        match choice {
            ResolutionChoice::KeepTheirs => Resolution::KeepTheirs,
            ResolutionChoice::TakeMine => Resolution::TakeMine,
            ResolutionChoice::Merged => Resolution::Merged,
        }
    }
}

/// One conflicting field.
#[derive(Object, Clone)]
pub struct ConflictField {
    /// The field.
    pub field: String,
    /// The value both sides started from.
    pub base: Value,
    /// The device's value.
    pub mine: Value,
    /// The server's value at the time.
    pub theirs: Value,
}

/// A conflict, as the API and the sync feed show it.
#[derive(Object)]
pub struct ConflictView {
    /// Its id.
    pub id: Uuid,
    /// Its version: 1 when opened, one more at each change (resolved,
    /// cleared when its record was deleted).
    pub version: i64,
    /// The kind of record.
    pub entity: EntityKind,
    /// The record.
    pub record_id: Uuid,
    /// The fields in conflict.
    pub fields: Vec<ConflictField>,
    /// The version the device started from.
    pub base_version: i64,
    /// The record's version when the conflict was found.
    pub server_version: i64,
    /// Whose change conflicted.
    pub raised_by: Option<Uuid>,
    /// On which device.
    pub device_id: Option<Uuid>,
    /// The mutation that conflicted.
    pub mutation_id: Uuid,
    /// Open or resolved.
    pub status: ConflictStatus,
    /// How it was resolved.
    pub resolution: Option<Resolution>,
    /// The values the resolution wrote.
    pub resolved_values: Option<Value>,
    /// Who resolved it.
    pub resolved_by: Option<Uuid>,
    /// When.
    pub resolved_at: Option<DateTime<Utc>>,
    /// When the server found it.
    pub created_at: DateTime<Utc>,
}

impl ConflictView {
    /// The conflict as `actor` may see it: fields the actor may not read
    /// (`records::access`) are left out of `fields` and `resolved_values`.
    pub fn for_actor(m: sync_conflict::Model, actor: &Actor) -> Self {
        let entity = parse_stored(&m.entity).unwrap_or(EntityKind::Person);
        let mut fields: BTreeMap<String, FieldConflict> =
            serde_json::from_str(&m.fields).unwrap_or_default();
        access::retain_readable(actor, entity, &mut fields);
        let resolved_values = m
            .resolved_values
            .and_then(|v| serde_json::from_str::<BTreeMap<String, Value>>(&v).ok())
            .map(|mut values| {
                access::retain_readable(actor, entity, &mut values);
                Value::Object(values.into_iter().collect())
            });
        Self {
            id: m.id,
            version: m.version,
            entity,
            record_id: m.record_id,
            fields: fields
                .into_iter()
                .map(|(field, c)| ConflictField {
                    field,
                    base: c.base,
                    mine: c.mine,
                    theirs: c.theirs,
                })
                .collect(),
            base_version: m.base_version,
            server_version: m.server_version,
            raised_by: m.raised_by,
            device_id: m.device_id,
            mutation_id: m.mutation_id,
            status: parse_stored(&m.status).unwrap_or(ConflictStatus::Open),
            resolution: m.resolution.as_deref().and_then(|r| parse_stored(r).ok()),
            resolved_values,
            resolved_by: m.resolved_by,
            resolved_at: m.resolved_at,
            created_at: m.created_at,
        }
    }
}

/// Queues a new conflict for `m` and its feed entry; returns its id.
pub async fn open(
    actor: &Actor,
    w: &mut BatchWriter,
    m: &Mutation,
    base_version: i64,
    server_version: i64,
    fields: &BTreeMap<String, FieldConflict>,
) -> Result<Uuid, DbErr> {
    let id = Uuid::now_v7();
    let now = Utc::now();
    w.conflict(sync_conflict::ActiveModel {
        id: Set(id),
        organisation_id: Set(actor.organisation_id),
        entity: Set(m.entity.as_str().to_owned()),
        record_id: Set(m.id),
        fields: Set(serde_json::to_string(fields).unwrap_or_default()),
        base_version: Set(base_version),
        server_version: Set(server_version),
        raised_by: Set(actor.user_id),
        device_id: Set(actor.device_id),
        mutation_id: Set(m.mutation_id),
        status: Set("open".into()),
        resolution: Set(None),
        resolved_values: Set(None),
        resolved_by: Set(None),
        resolved_at: Set(None),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    });
    w.change(FeedEntry::upsert(EntityKind::Conflict, id, 1).owned_by(actor.user_id));
    Ok(id)
}

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
    let conflict =
        super::editable::lock::<_, sync_conflict::Entity>(&txn, actor.organisation_id, id)
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

/// Closes the conflicts of a record that was just deleted and clears their
/// values: the details they hold (base, mine, theirs, the values a
/// resolution wrote) go with the record. Open ones end as `record_deleted`;
/// each gets a new version and a feed entry, so the devices that hold them
/// replace them too.
pub async fn close_for_deleted<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    w: &mut BatchWriter,
    entity: EntityKind,
    record_id: Uuid,
) -> Result<(), DbErr> {
    // Locked: a resolution committing meanwhile is waited for, then seen
    // (the caller holds the record's lock, taken before any conflict's).
    let found = sync_conflict::Entity::find()
        .filter(sync_conflict::Column::OrganisationId.eq(actor.organisation_id))
        .filter(sync_conflict::Column::Entity.eq(entity.as_str()))
        .filter(sync_conflict::Column::RecordId.eq(record_id))
        .lock_exclusive()
        .all(db)
        .await?;
    let now = Utc::now();
    for conflict in found {
        let cleared: BTreeMap<String, FieldConflict> = serde_json::from_str::<
            BTreeMap<String, FieldConflict>,
        >(&conflict.fields)
        .unwrap_or_default()
        .into_keys()
        .map(|name| {
            (name, FieldConflict { base: Value::Null, mine: Value::Null, theirs: Value::Null })
        })
        .collect();
        let (id, raised_by, version) = (conflict.id, conflict.raised_by, conflict.version + 1);
        let open = conflict.status == "open";
        let mut active = conflict.into_active_model();
        active.fields = Set(serde_json::to_string(&cleared).unwrap_or_default());
        active.resolved_values = Set(None);
        if open {
            active.status = Set("resolved".into());
            active.resolution = Set(Some(stored_name(&Resolution::RecordDeleted)));
            active.resolved_by = Set(actor.user_id);
            active.resolved_at = Set(Some(now));
        }
        active.version = Set(version);
        active.updated_at = Set(now);
        active.update(db).await?;
        w.change(FeedEntry::upsert(EntityKind::Conflict, id, version).owned_by(raised_by));
    }
    Ok(())
}
