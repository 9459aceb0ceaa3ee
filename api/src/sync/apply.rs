//! One mutation, applied inside the batch's transaction. Refusals come back
//! as `Rejection`s (the batch goes on); database errors abort the batch,
//! which the caller retries whole.

use crate::caller::Actor;
use std::collections::HashSet;

use super::editable::{EditableRecord, lock};

use sea_orm::{ActiveModelTrait, ConnectionTrait, IntoActiveModel};
use serde_json::Value;
use uuid::Uuid;

use super::{
    EntityKind, conflicts,
    feed::FeedEntry,
    merge,
    mutation::{ConflictRecord, Mutation, MutationOp, MutationResult, MutationStatus},
    writer::BatchWriter,
};
use crate::{
    domain::Role,
    records::{
        access,
        context::BatchContext,
        fields::{is_uuid_v7, normalise},
        kind::{self, Changes, SyncRecord},
        rejection::{ApplyError, Rejection, RejectionCode},
        row,
    },
};

/// Applies `m`. `created` holds the records (kind and id) created earlier in
/// this batch.
pub async fn apply<C: ConnectionTrait>(
    db: &C,
    ctx: &mut BatchContext,
    w: &mut BatchWriter,
    created: &mut HashSet<(EntityKind, Uuid)>,
    m: &Mutation,
) -> Result<MutationResult, ApplyError> {
    if matches!(ctx.actor.role, Some(Role::Viewer)) {
        return Err(ApplyError::Rejected(Rejection::new(
            RejectionCode::Forbidden,
            None,
            "viewers cannot record or change records",
        )));
    }
    crate::with_record!(m.entity, R => apply_to::<R, C>(db, ctx, w, created, m).await,
    else Err(ApplyError::Rejected(Rejection::new(
        RejectionCode::NotSyncable,
        Some("entity"),
        "this record type is changed through its REST endpoints, not by sync",
    ))))
}

async fn apply_to<R: SyncRecord, C: ConnectionTrait>(
    db: &C,
    ctx: &mut BatchContext,
    w: &mut BatchWriter,
    created: &mut HashSet<(EntityKind, Uuid)>,
    m: &Mutation,
) -> Result<MutationResult, ApplyError> {
    match (m.op, R::CHANGES) {
        (MutationOp::Create, _) if created.contains(&(m.entity, m.id)) => {
            Ok(MutationResult::new(m, MutationStatus::Duplicate, Some(1)))
        }
        (MutationOp::Create, _) if !is_uuid_v7(m.id) => Err(ApplyError::Rejected(
            Rejection::invalid("id", "must be a UUID v7 (time-ordered), generated on the device"),
        )),
        (MutationOp::Create, _) => {
            access::check_writable(&ctx.actor, m.entity, &m.fields, true)?;
            let fields = normalise(R::FIELDS, &m.fields, true, ctx)?;
            ctx.online = m.online;
            R::create(db, ctx, w, m.id, fields).await?;
            created.insert((m.entity, m.id));
            Ok(MutationResult::new(m, MutationStatus::Applied, Some(1)))
        }
        (MutationOp::Update, Changes::Merged) => {
            w.flush_records(db).await?;
            update::<R, C>(db, ctx, w, m).await
        }
        (MutationOp::Update, Changes::AppendOnly | Changes::Appended) => {
            Err(ApplyError::Rejected(Rejection::new(
                RejectionCode::AppendOnly,
                Some("op"),
                "this record is append-only: delete it and record it again to correct it",
            )))
        }
        (MutationOp::Delete, Changes::Appended) => Err(ApplyError::Rejected(Rejection::new(
            RejectionCode::AppendOnly,
            Some("op"),
            "this record cannot be deleted: record the next one instead",
        ))),
        (MutationOp::Delete, Changes::Merged | Changes::AppendOnly) => {
            w.flush_records(db).await?;
            delete::<R, C>(db, ctx, w, m).await
        }
    }
}

async fn update<R: SyncRecord, C: ConnectionTrait>(
    db: &C,
    ctx: &mut BatchContext,
    w: &mut BatchWriter,
    m: &Mutation,
) -> Result<MutationResult, ApplyError> {
    let Some(record) = EditableRecord::load_kind::<R, C>(db, &ctx.actor, m.id).await? else {
        return Err(ApplyError::Rejected(Rejection::new(
            RejectionCode::UnknownRecord,
            Some("id"),
            "no such record",
        )));
    };
    if record.deleted {
        return Err(ApplyError::Rejected(Rejection::new(
            RejectionCode::RecordDeleted,
            Some("id"),
            "the record was deleted; the deletion stands",
        )));
    }
    let Some(base_version) = m.base_version else {
        return Err(ApplyError::Rejected(Rejection::new(
            RejectionCode::BaseVersionRequired,
            Some("base_version"),
            "an update needs the version it started from",
        )));
    };
    if m.online && base_version != record.version {
        return Err(Rejection::new(
            RejectionCode::VersionMismatch,
            None,
            format!("the record is at version {}; fetch it again and reapply", record.version),
        )
        .into());
    }
    if base_version < 1 || base_version > record.version {
        return Err(ApplyError::Rejected(Rejection::new(
            RejectionCode::InvalidBaseVersion,
            Some("base_version"),
            format!("the server has versions 1 to {}", record.version),
        )));
    }
    access::check_writable(&ctx.actor, m.entity, &m.fields, false)?;
    let mine = normalise(&kind::editable::<R>(), &m.fields, false, ctx)?;
    if let Some(site) = mine.get("site_id")
        && Some(site) != record.fields.get("site_id")
    {
        may_move_to(&ctx.actor, site)?;
    }
    let base = record.fields_at(db, base_version).await?;
    let plan =
        merge::plan(&record.fields, &record.field_versions, base_version, base.as_ref(), &mine);
    let behind = base_version < record.version;
    let version = if plan.apply.is_empty() {
        record.version
    } else {
        record.check_update(db, ctx, &plan.apply).await?;
        record.write(db, &ctx.actor, w, &plan.apply).await?
    };
    if plan.conflicts.is_empty() {
        let status = if behind { MutationStatus::Merged } else { MutationStatus::Applied };
        return Ok(MutationResult::new(m, status, Some(version)));
    }
    let conflict_id =
        conflicts::open(&ctx.actor, w, m, base_version, version, &plan.conflicts).await?;
    let mut result = MutationResult::new(m, MutationStatus::Conflict, Some(version));
    result.conflict_id = Some(conflict_id);
    result.record = R::render(db, &ctx.actor, &[m.id]).await?.pop().map(|(_, v)| ConflictRecord(v));
    Ok(result)
}

/// Whether the actor may move a record to `site`: workers and viewers only
/// to one of their own sites. Elsewhere they would lose sight of what they
/// changed, and taking it off its site (`null`) would show it to every
/// worker of the organisation.
fn may_move_to(actor: &Actor, site: &Value) -> Result<(), Rejection> {
    let own = site
        .as_str()
        .and_then(|s| s.parse::<Uuid>().ok())
        .is_some_and(|s| actor.site_ids.contains(&s));
    if actor.sees_everything() || own {
        return Ok(());
    }
    Err(Rejection::new(
        RejectionCode::Forbidden,
        Some("site_id"),
        "workers and viewers may move a record only to one of their own sites",
    ))
}

async fn delete<R: SyncRecord, C: ConnectionTrait>(
    db: &C,
    ctx: &mut BatchContext,
    w: &mut BatchWriter,
    m: &Mutation,
) -> Result<MutationResult, ApplyError> {
    let actor = &ctx.actor;
    let now = ctx.now;
    // A record the actor may not see is as unknown here as to `GET`.
    let found = lock::<_, R::Entity>(db, actor.organisation_id, m.id).await?;
    let Some((model, placement)) = found
        .map(|model| kind::placement::<R>(&model).map(|p| (model, p)))
        .transpose()?
        .filter(|(_, (site, owner))| !R::PLACED || actor.may_see(*site, *owner))
    else {
        return Err(
            Rejection::new(RejectionCode::UnknownRecord, Some("id"), "no such record").into()
        );
    };
    R::may_delete(actor, placement)?;
    let version = row::int_of(&model, "version")?;
    if row::is_set(&model, "deleted_at")? {
        return Ok(MutationResult::new(m, MutationStatus::Applied, Some(version)));
    }
    // A tombstone at the next version, visible as the record was.
    let version = version + 1;
    let mut active: R::Row = model.into_active_model();
    row::set_fields(&mut active, R::FIELDS, &R::erased())?;
    row::set(&mut active, "version", sea_orm::Value::BigInt(Some(version)))?;
    row::set(&mut active, "deleted_at", sea_orm::Value::ChronoDateTimeUtc(Some(now)))?;
    row::set(&mut active, "updated_at", sea_orm::Value::ChronoDateTimeUtc(Some(now)))?;
    active.update(db).await?;
    R::deleted(db, ctx, w, m.id).await?;
    if matches!(R::CHANGES, Changes::Merged) {
        conflicts::close_for_deleted(db, &ctx.actor, w, R::KIND, m.id).await?;
    }
    let mut entry = FeedEntry::upsert(R::KIND, m.id, version);
    if R::PLACED {
        entry = entry.at_site(placement.0, placement.1);
    }
    w.change(entry.deleted());
    Ok(MutationResult::new(m, MutationStatus::Applied, Some(version)))
}
