//! One mutation, applied inside the batch's transaction. Refusals come back
//! as `Rejection`s (the batch goes on); database errors abort the batch,
//! which the caller retries whole.

use std::collections::{BTreeMap, HashSet};

use super::editable::{EditableRecord, lock, update_specs};

use outpost_entity::{contact, incident, person, record_revision, referral, referral_step};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, Set, sea_query::Expr,
};
use serde_json::{Map, Value};
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
        access, contact as contact_record,
        context::{Actor, BatchContext},
        fields::{is_uuid_v7, normalise},
        incident as incident_record, person as person_record, referral as referral_record,
        rejection::{ApplyError, Rejection, RejectionCode},
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
    match (m.entity, m.op) {
        (
            EntityKind::Conflict
            | EntityKind::Site
            | EntityKind::KitItem
            | EntityKind::Substance
            | EntityKind::PartnerService,
            _,
        ) => Err(ApplyError::Rejected(Rejection::new(
            RejectionCode::NotSyncable,
            Some("entity"),
            "this record type is changed through its REST endpoints, not by sync",
        ))),
        (_, MutationOp::Create) if created.contains(&(m.entity, m.id)) => {
            Ok(MutationResult::new(m, MutationStatus::Duplicate, Some(1)))
        }
        (_, MutationOp::Create) if !is_uuid_v7(m.id) => Err(ApplyError::Rejected(
            Rejection::invalid("id", "must be a UUID v7 (time-ordered), generated on the device"),
        )),
        (_, MutationOp::Create) => {
            let applied = create(db, ctx, w, m).await?;
            created.insert((m.entity, m.id));
            Ok(applied)
        }
        (
            EntityKind::Contact | EntityKind::Incident | EntityKind::ReferralStep,
            MutationOp::Update,
        ) => Err(ApplyError::Rejected(Rejection::new(
            RejectionCode::AppendOnly,
            Some("op"),
            "this record is append-only: delete it and record it again to correct it",
        ))),
        (EntityKind::Person | EntityKind::Referral, MutationOp::Update) => {
            w.flush_records(db).await?;
            update(db, ctx, w, m).await
        }
        (EntityKind::ReferralStep, MutationOp::Delete) => {
            Err(ApplyError::Rejected(Rejection::new(
                RejectionCode::AppendOnly,
                Some("op"),
                "referral steps cannot be deleted: record the next step instead",
            )))
        }
        (_, MutationOp::Delete) => {
            w.flush_records(db).await?;
            delete(db, ctx, w, m).await
        }
    }
}

async fn create<C: ConnectionTrait>(
    db: &C,
    ctx: &mut BatchContext,
    w: &mut BatchWriter,
    m: &Mutation,
) -> Result<MutationResult, ApplyError> {
    let actor = ctx.actor.clone();
    let now = ctx.now;
    match m.entity {
        EntityKind::Person => {
            access::check_writable(&actor, m.entity, &m.fields, true)?;
            let fields = normalise(person_record::SPECS, &m.fields, true, ctx)?;
            let mut all = person_record::defaults();
            all.extend(fields);
            let versions = all.keys().map(|k| (k.clone(), 1i64)).collect::<BTreeMap<_, _>>();
            w.person(person_record::new_row(
                m.id,
                actor.organisation_id,
                &all,
                serde_json::to_string(&versions).unwrap_or_default(),
                actor.user_id,
                now,
            ));
            w.revision(&actor, EntityKind::Person, m.id, 1, &all);
            w.change(FeedEntry::upsert(EntityKind::Person, m.id, 1));
            ctx.persons.insert(m.id);
        }
        EntityKind::Contact => {
            let fields = normalise(contact_record::SPECS, &m.fields, true, ctx)?;
            let (row, lines) = contact_record::new_rows(m.id, &actor, &fields, now);
            let site = row.site_id.clone().unwrap();
            w.contact(row, lines);
            w.change(FeedEntry::upsert(EntityKind::Contact, m.id, 1).at_site(site, actor.user_id));
        }
        EntityKind::Incident => {
            let fields = normalise(incident_record::SPECS, &m.fields, true, ctx)?;
            let row = incident_record::new_row(m.id, &actor, &fields, now);
            let site = row.site_id.clone().unwrap();
            w.incident(row);
            w.change(FeedEntry::upsert(EntityKind::Incident, m.id, 1).at_site(site, actor.user_id));
        }
        EntityKind::Referral => {
            let fields = normalise(referral_record::CREATE_SPECS, &m.fields, true, ctx)?;
            let editable: Map<String, Value> = referral_record::UPDATE_SPECS
                .iter()
                .map(|s| (s.name.to_owned(), fields.get(s.name).cloned().unwrap_or(Value::Null)))
                .collect();
            let versions = editable.keys().map(|k| (k.clone(), 1i64)).collect::<BTreeMap<_, _>>();
            let (row, step) = referral_record::new_rows(
                m.id,
                &actor,
                &fields,
                serde_json::to_string(&versions).unwrap_or_default(),
                now,
            );
            let site = row.site_id.clone().unwrap();
            let step_id = step.id.clone().unwrap();
            w.referral(row);
            w.step(step);
            let mut snapshot = referral_record::UPDATE_SPECS
                .iter()
                .map(|s| (s.name.to_owned(), Value::Null))
                .collect::<Map<_, _>>();
            snapshot.extend(editable);
            w.revision(&actor, EntityKind::Referral, m.id, 1, &snapshot);
            w.change(FeedEntry::upsert(EntityKind::Referral, m.id, 1).at_site(site, actor.user_id));
            w.change(
                FeedEntry::upsert(EntityKind::ReferralStep, step_id, 1)
                    .at_site(site, actor.user_id),
            );
            ctx.referrals.insert(m.id);
        }
        EntityKind::ReferralStep => {
            let fields = normalise(referral_record::STEP_SPECS, &m.fields, true, ctx)?;
            w.flush_records(db).await?;
            let step = referral_record::new_step(m.id, &actor, &fields, now);
            let referral_id = step.referral_id.clone().unwrap();
            let Some(current) =
                lock::<_, referral::Entity>(db, actor.organisation_id, referral_id).await?
            else {
                return Err(ApplyError::Rejected(Rejection::new(
                    RejectionCode::UnknownReference,
                    Some("referral_id"),
                    "no such referral",
                )));
            };
            step.insert(db).await?;
            let latest = referral_step::Entity::find()
                .filter(referral_step::Column::ReferralId.eq(referral_id))
                .order_by_desc(referral_step::Column::OccurredAt)
                .order_by_desc(referral_step::Column::Id)
                .one(db)
                .await?;
            let site = current.site_id;
            let owner = current.recorded_by;
            if let Some(latest) = latest
                && (latest.status != current.status || latest.occurred_at != current.status_at)
            {
                let version = current.version + 1;
                let mut active = current.into_active_model();
                active.status = Set(latest.status);
                active.status_at = Set(latest.occurred_at);
                active.version = Set(version);
                active.updated_at = Set(now);
                active.update(db).await?;
                w.change(
                    FeedEntry::upsert(EntityKind::Referral, referral_id, version)
                        .at_site(site, owner),
                );
            }
            w.change(FeedEntry::upsert(EntityKind::ReferralStep, m.id, 1).at_site(site, owner));
        }
        _ => unreachable!("reference types are refused before"),
    }
    Ok(MutationResult::new(m, MutationStatus::Applied, Some(1)))
}

async fn update<C: ConnectionTrait>(
    db: &C,
    ctx: &mut BatchContext,
    w: &mut BatchWriter,
    m: &Mutation,
) -> Result<MutationResult, ApplyError> {
    let Some(record) = EditableRecord::load(db, &ctx.actor, m.entity, m.id).await? else {
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
    if m.exact_base && base_version != record.version {
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
    let mine = normalise(update_specs(m.entity), &m.fields, false, ctx)?;
    if let Some(site) = mine.get("site_id")
        && Some(site) != record.fields.get("site_id")
    {
        may_move_to(&ctx.actor, site)?;
    }
    let base = record.fields_at(db, m.entity, m.id, base_version).await?;
    let plan =
        merge::plan(&record.fields, &record.field_versions, base_version, base.as_ref(), &mine);
    let behind = base_version < record.version;
    let version = if plan.apply.is_empty() {
        record.version
    } else {
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
    result.record = current_json(db, ctx, m.entity, m.id).await?.map(ConflictRecord);
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

/// The record as `GET` shows it to this actor.
pub async fn current_json<C: ConnectionTrait>(
    db: &C,
    ctx: &BatchContext,
    entity: EntityKind,
    id: Uuid,
) -> Result<Option<Value>, DbErr> {
    Ok(super::render::of_kind(db, &ctx.actor, entity, &[id]).await?.pop().map(|(_, v)| v))
}

async fn delete<C: ConnectionTrait>(
    db: &C,
    ctx: &mut BatchContext,
    w: &mut BatchWriter,
    m: &Mutation,
) -> Result<MutationResult, ApplyError> {
    let org = ctx.actor.organisation_id;
    let now = ctx.now;
    let refused = || {
        Rejection::new(
            RejectionCode::Forbidden,
            None,
            "only the recorder, a manager or an admin may delete this",
        )
    };
    let missing = || Rejection::new(RejectionCode::UnknownRecord, Some("id"), "no such record");
    // Contacts, incidents and referrals share one deletion rule: the
    // recorder, a manager or an admin; idempotent; a tombstone at the next
    // version, visible like the record was.
    macro_rules! tombstone {
        ($table:ident, $kind:expr) => {{
            // A record the actor may not see is as unknown here as to `GET`.
            let Some(c) = lock::<_, $table::Entity>(db, org, m.id)
                .await?
                .filter(|c| ctx.actor.may_see(c.site_id, c.recorded_by))
            else {
                return Err(ApplyError::Rejected(missing()));
            };
            if !ctx.actor.may_correct(c.recorded_by) {
                return Err(ApplyError::Rejected(refused()));
            }
            if c.deleted_at.is_some() {
                return Ok(MutationResult::new(m, MutationStatus::Applied, Some(c.version)));
            }
            let (version, site, owner) = (c.version + 1, c.site_id, c.recorded_by);
            let mut active = c.into_active_model();
            active.version = Set(version);
            active.deleted_at = Set(Some(now));
            active.updated_at = Set(now);
            active.update(db).await?;
            (version, FeedEntry::upsert($kind, m.id, version).at_site(site, owner))
        }};
    }
    let (version, entry) = match m.entity {
        EntityKind::Person => {
            let Some(p) = lock::<_, person::Entity>(db, org, m.id).await? else {
                return Err(ApplyError::Rejected(missing()));
            };
            if !ctx.actor.may_erase_people() {
                return Err(ApplyError::Rejected(Rejection::new(
                    RejectionCode::Forbidden,
                    None,
                    "only managers and admins may erase a person",
                )));
            }
            if p.deleted_at.is_some() {
                return Ok(MutationResult::new(m, MutationStatus::Applied, Some(p.version)));
            }
            let version = p.version + 1;
            let mut active = p.into_active_model();
            // Erasure: the personal details go; the id stays so contacts
            // and referrals that counted this person still add up.
            let mut erased = person_record::defaults();
            erased.remove("name_quality");
            erased.remove("dob_quality");
            person_record::apply(&mut active, &erased);
            active.version = Set(version);
            active.deleted_at = Set(Some(now));
            active.updated_at = Set(now);
            active.update(db).await?;
            ctx.persons.remove(&m.id);
            conflicts::close_for_deleted(db, &ctx.actor, w, EntityKind::Person, m.id).await?;
            // The revisions held every earlier version of the details: they
            // go too (their versions stay, as the checks expect).
            record_revision::Entity::update_many()
                .col_expr(
                    record_revision::Column::Snapshot,
                    Expr::value(Value::Object(person_record::defaults()).to_string()),
                )
                .filter(record_revision::Column::OrganisationId.eq(org))
                .filter(record_revision::Column::Entity.eq(EntityKind::Person.as_str()))
                .filter(record_revision::Column::RecordId.eq(m.id))
                .exec(db)
                .await?;
            (version, FeedEntry::upsert(EntityKind::Person, m.id, version))
        }
        EntityKind::Contact => tombstone!(contact, EntityKind::Contact),
        EntityKind::Incident => tombstone!(incident, EntityKind::Incident),
        _ => {
            let done = tombstone!(referral, EntityKind::Referral);
            ctx.referrals.remove(&m.id);
            conflicts::close_for_deleted(db, &ctx.actor, w, EntityKind::Referral, m.id).await?;
            done
        }
    };
    w.change(entry.deleted());
    Ok(MutationResult::new(m, MutationStatus::Applied, Some(version)))
}
