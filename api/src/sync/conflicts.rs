//! Conflicts: opened by the merge when both sides changed a field, closed
//! when their record is deleted, and synced down to the devices of the
//! people who can decide (the worker whose change conflicted, and managers
//! and admins) like any other record. Listing and resolving them is a
//! service (`service::conflicts`).

use crate::caller::Actor;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use outpost_entity::sync_conflict;
use poem_openapi::{Enum, Object};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QuerySelect, Set,
};
use serde_json::Value;
use uuid::Uuid;

use super::{
    EntityKind, feed::FeedEntry, merge::FieldConflict, mutation::Mutation, writer::BatchWriter,
};
use crate::{
    domain::{parse_stored, stored_name},
    records::access,
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
