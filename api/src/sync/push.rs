//! `POST /v1/sync/push`: a batch of mutations in one transaction, each with
//! its own answer (sync.md, guarantees 1, 2 and 7).
//!
//! - A mutation already applied (same `mutation_id` in the organisation) is
//!   answered from the mutation log, through a hot cache in Redis: the
//!   retry of a lost response gets the original answer and writes nothing.
//! - Refusals are answers, not errors: the batch goes on with the next
//!   mutation and commits the rest.
//! - Batches that overlap (two copies of one batch racing, or the same
//!   creates sent from several devices) may both pass the checks; the
//!   later fails on a unique key and runs again holding the organisation's
//!   push lock exclusively, when the log and the tables answer everything
//!   the other wrote as `duplicate`. Never an error, however many race.

use crate::caller::Actor;
use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use outpost_entity::sync_mutation;
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, Statement, TransactionTrait,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{
    EntityKind, SyncError, SyncResult,
    apply::apply,
    mutation::{ConflictRecord, Mutation, MutationOp, MutationResult, MutationStatus},
    writer::BatchWriter,
};
use crate::{
    records::{
        access,
        context::BatchContext,
        kind::SyncRecord,
        lookup::ByKeys,
        rejection::{ApplyError, Rejection, RejectionCode},
        row,
    },
    state::AppState,
};

/// How long the replay cache keeps an answer. The database keeps it for
/// good; the cache only spares it the lookups of a device retrying.
const REPLAY_TTL: Duration = Duration::from_secs(24 * 3600);

/// How often a batch is run again after losing a race on a unique key.
const ATTEMPTS: usize = 4;

fn replay_key(organisation_id: Uuid, mutation_id: Uuid) -> String {
    format!("sync:mutation:{organisation_id}:{mutation_id}")
}

/// Applies a batch and answers each mutation, in order.
pub async fn push(
    state: &AppState,
    actor: &Actor,
    mutations: Vec<Mutation>,
) -> SyncResult<Vec<MutationResult>> {
    let mut answers: Vec<Option<MutationResult>> = vec![None; mutations.len()];
    // A mutation id repeated inside the batch is answered like a replay when
    // it repeats the same change, and refused when it names another one.
    let mut first_of: HashMap<Uuid, usize> = HashMap::new();
    let mut repeats = Vec::new();
    for (i, m) in mutations.iter().enumerate() {
        if let Some(&first) = first_of.get(&m.mutation_id) {
            repeats.push((i, first));
        } else {
            first_of.insert(m.mutation_id, i);
        }
    }

    // What each mutation changes, digested once: the replay checks and the
    // log and cache entries all compare by it.
    let digests: Vec<String> = mutations.iter().map(Mutation::digest).collect();
    replay_from_cache(state, actor, &mutations, &digests, &first_of, &mut answers).await;
    let mut attempt = 0;
    let fresh = loop {
        attempt += 1;
        let batch = Batch { mutations: &mutations, digests: &digests, first_of: &first_of };
        match run_batch(state, actor, &batch, &answers, attempt > 1).await {
            Ok(results) => break results,
            Err(err) if attempt < ATTEMPTS && crate::db::is_lost_race(&err) => {
                tracing::debug!(error = %err, attempt, "push lost a race; running it again");
            }
            // Still losing after the exclusive attempts (a deadlock among
            // others, an id taken by another organisation at this moment):
            // the batch is safe to send again.
            Err(err) if crate::db::is_lost_race(&err) => {
                tracing::warn!(error = %err, "push kept losing races; asking the client to retry");
                return Err(SyncError::Busy);
            }
            Err(err) => return Err(err.into()),
        }
    };

    let mut to_cache = Vec::new();
    for (i, result) in fresh {
        if !matches!(result.status, MutationStatus::Rejected | MutationStatus::Duplicate)
            && let Ok(json) = serde_json::to_string(&result.without_record())
        {
            // The digest first: a replay must repeat the same change.
            let value = format!("{}\t{json}", digests[i]);
            to_cache.push((replay_key(actor.organisation_id, result.mutation_id), value));
        }
        answers[i] = Some(result);
    }
    for (i, first) in repeats {
        answers[i] = if mutations[i] == mutations[first] {
            answers[first].clone().map(MutationResult::as_duplicate)
        } else {
            Some(MutationResult::rejected(&mutations[i], reused_id()))
        };
    }
    if let Err(err) = state.cache.set_many(&to_cache, REPLAY_TTL).await {
        tracing::debug!(error = %err, "replay cache not written; the database answers replays");
    }
    let mut answers: Vec<MutationResult> = answers.into_iter().flatten().collect();
    attach_current_records(state, actor, &mut answers).await?;
    for answer in &mut answers {
        if let Some(record) = answer.record.as_mut() {
            access::redact_record(actor, answer.entity, &mut record.0);
        }
    }
    Ok(answers)
}

/// Gives a replayed conflict answer the record as it is now, as this
/// caller may see it. The log and the cache keep answers without their
/// record: a record stored there would outlive its erasure, and would show
/// a replaying caller what the first sender could see.
async fn attach_current_records(
    state: &AppState,
    actor: &Actor,
    answers: &mut [MutationResult],
) -> Result<(), DbErr> {
    let replayed_conflict = |a: &MutationResult| {
        a.status == MutationStatus::Duplicate
            && a.original_status == Some(MutationStatus::Conflict)
            && a.record.is_none()
    };
    let mut ids: HashMap<EntityKind, Vec<Uuid>> = HashMap::new();
    for answer in answers.iter().filter(|a| replayed_conflict(a)) {
        ids.entry(answer.entity).or_default().push(answer.id);
    }
    for (kind, ids) in ids {
        let records: HashMap<Uuid, serde_json::Value> =
            super::render::of_kind(&state.db, actor, kind, &ids)
                .await?
                .into_iter()
                .filter(|(_, record)| {
                    let uuid = |name: &str| {
                        record.get(name).and_then(|v| v.as_str()).and_then(|s| s.parse().ok())
                    };
                    let placed = crate::with_record!(kind, R => R::PLACED, else false);
                    !placed || actor.may_see(uuid("site_id"), uuid("recorded_by"))
                })
                .collect();
        for answer in answers.iter_mut().filter(|a| a.entity == kind && replayed_conflict(a)) {
            answer.record = records.get(&answer.id).cloned().map(ConflictRecord);
        }
    }
    Ok(())
}

fn reused_id() -> Rejection {
    Rejection::new(
        RejectionCode::MutationIdReused,
        Some("mutation_id"),
        "this mutation id was already used for another change",
    )
}

async fn replay_from_cache(
    state: &AppState,
    actor: &Actor,
    mutations: &[Mutation],
    digests: &[String],
    first_of: &HashMap<Uuid, usize>,
    answers: &mut [Option<MutationResult>],
) {
    let ids: Vec<Uuid> = first_of.keys().copied().collect();
    let keys: Vec<String> = ids.iter().map(|id| replay_key(actor.organisation_id, *id)).collect();
    let Ok(values) = state.cache.get_many(&keys).await else { return };
    for (id, value) in ids.iter().zip(values) {
        let Some((digest, result)) = value.as_deref().and_then(|v| v.split_once('\t')) else {
            continue;
        };
        let Ok(result) = serde_json::from_str::<MutationResult>(result) else { continue };
        let i = first_of[id];
        // A replay must be the same change of the same record; a reused id
        // for another one falls through to the log check, which refuses it.
        let m = &mutations[i];
        if m.id == result.id && m.entity == result.entity && digest == digests[i] {
            answers[i] = Some(result.as_duplicate());
        }
    }
}

/// Answers from the mutation log the mutations it holds already.
async fn replay_from_log<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    batch: &Batch<'_>,
    pending: &[usize],
) -> Result<Vec<(usize, MutationResult)>, DbErr> {
    let mutations = batch.mutations;
    let index: HashMap<Uuid, usize> =
        pending.iter().map(|&i| (mutations[i].mutation_id, i)).collect();
    let ids: Vec<Uuid> = index.keys().copied().collect();
    let mut out = Vec::new();
    let logged = ByKeys::<sync_mutation::Entity>::new(sync_mutation::Column::MutationId)
        .keyed_within_organisation(sync_mutation::Column::OrganisationId, actor.organisation_id)
        .models(db, &ids)
        .await?;
    for row in logged {
        let i = index[&row.mutation_id];
        let m = &mutations[i];
        let same = row.record_id == m.id
            && row.entity == m.entity.as_str()
            && row.digest.as_ref().is_none_or(|d| *d == batch.digests[i]);
        let answer = if same {
            serde_json::from_str::<MutationResult>(&row.result)
                .map_err(|err| DbErr::Custom(format!("stored result unreadable: {err}")))?
                .as_duplicate()
        } else {
            MutationResult::rejected(m, reused_id())
        };
        out.push((i, answer));
    }
    Ok(out)
}

/// A batch as `run_batch` reads it: the mutations, the digest of each,
/// and the first index of each mutation id.
struct Batch<'a> {
    mutations: &'a [Mutation],
    digests: &'a [String],
    first_of: &'a HashMap<Uuid, usize>,
}

/// Runs the mutations not answered yet in one transaction and answers each
/// (by its index in the batch).
///
/// It first takes the organisation's push lock (`claim`): shared, or
/// exclusive when `retry`, after the batch lost a race to a concurrent
/// one; then the log and the tables answer what the other batch wrote
/// (`duplicate`).
async fn run_batch(
    state: &AppState,
    actor: &Actor,
    batch: &Batch<'_>,
    answers: &[Option<MutationResult>],
    retry: bool,
) -> Result<Vec<(usize, MutationResult)>, DbErr> {
    let mutations = batch.mutations;
    let mut pending: Vec<usize> =
        batch.first_of.values().copied().filter(|&i| answers[i].is_none()).collect();
    pending.sort_unstable();
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let txn = state.db.begin().await?;
    claim(&txn, actor, retry).await?;
    let mut results = replay_from_log(&txn, actor, batch, &pending).await?;
    let logged: HashSet<usize> = results.iter().map(|(i, _)| *i).collect();
    let pending: Vec<(usize, &Mutation)> =
        pending.into_iter().filter(|i| !logged.contains(i)).map(|i| (i, &mutations[i])).collect();
    if pending.is_empty() {
        txn.commit().await?;
        return Ok(results);
    }
    results.extend(apply_pending(&txn, actor, &pending, Some(batch.digests)).await?);
    txn.commit().await?;
    Ok(results)
}

/// Applies `pending` (by index in the batch) in `txn` and answers each.
/// With `digests`, what was applied goes to the mutation log for replays;
/// a REST write (`write_one`) has none: its mutation id is fresh and can
/// never be replayed.
async fn apply_pending<C: ConnectionTrait>(
    txn: &C,
    actor: &Actor,
    pending: &[(usize, &Mutation)],
    digests: Option<&[String]>,
) -> Result<Vec<(usize, MutationResult)>, DbErr> {
    let mut ctx =
        BatchContext::load(txn, actor.clone(), pending.iter().map(|(_, m)| &m.fields)).await?;
    let existing = existing_records(txn, pending.iter().map(|(_, m)| *m)).await?;
    let mut writer = BatchWriter::default();
    let mut created = HashSet::new();
    let mut results = Vec::with_capacity(pending.len());
    for &(i, m) in pending {
        let result = match (m.op, existing.get(&(m.entity, m.id))) {
            (MutationOp::Create, Some((org, version))) if *org == actor.organisation_id => {
                // The record is there already (the device lost the answer
                // and made a new mutation id): nothing to write.
                MutationResult::new(m, MutationStatus::Duplicate, Some(*version))
            }
            (MutationOp::Create, Some(_)) => MutationResult::rejected(
                m,
                Rejection::new(
                    RejectionCode::IdTaken,
                    Some("id"),
                    "this id is already in use; generate a new UUID",
                ),
            ),
            _ => match apply(txn, &mut ctx, &mut writer, &mut created, m).await {
                Ok(result) => result,
                Err(ApplyError::Rejected(rejection)) => MutationResult::rejected(m, rejection),
                Err(ApplyError::Db(err)) => return Err(err),
            },
        };
        if let Some(digests) = digests
            && !matches!(result.status, MutationStatus::Rejected | MutationStatus::Duplicate)
        {
            writer.remember(actor, m, &digests[i], &result);
        }
        results.push((i, result));
    }
    writer.finish(txn, actor.organisation_id).await?;
    Ok(results)
}

/// A REST write: one mutation in a transaction of its own, without the
/// replay log (its mutation id is fresh). The transaction comes back open:
/// the caller reads its answer from it and commits, so the answer can never
/// disagree with what was committed, nor fail after the commit. Lost races
/// run again as a push's do.
pub async fn write_one(
    state: &AppState,
    actor: &Actor,
    m: &Mutation,
) -> SyncResult<(MutationResult, DatabaseTransaction)> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match write_one_attempt(state, actor, m, attempt > 1).await {
            Ok(done) => return Ok(done),
            Err(err) if attempt < ATTEMPTS && crate::db::is_lost_race(&err) => {
                tracing::debug!(error = %err, attempt, "write lost a race; running it again");
            }
            Err(err) if crate::db::is_lost_race(&err) => return Err(SyncError::Busy),
            Err(err) => return Err(err.into()),
        }
    }
}

async fn write_one_attempt(
    state: &AppState,
    actor: &Actor,
    m: &Mutation,
    retry: bool,
) -> Result<(MutationResult, DatabaseTransaction), DbErr> {
    let txn = state.db.begin().await?;
    claim(&txn, actor, retry).await?;
    let result = apply_pending(&txn, actor, &[(0, m)], None)
        .await?
        .pop()
        .map(|(_, result)| result)
        .ok_or_else(|| DbErr::Custom("a mutation applied without an answer".into()))?;
    Ok((result, txn))
}

/// Takes the organisation's push lock until the transaction ends: shared
/// on a first attempt, so batches run side by side, and exclusive on a
/// retry, so a batch that lost a race runs its checks (is this mutation
/// in the log, does this record exist) with no other push of the
/// organisation in flight, and cannot lose again, however many copies of
/// it race. One lock per batch: a lock per id would fill Postgres's shared
/// lock table under large concurrent batches. Postgres only: SQLite runs
/// one writer at a time.
async fn claim<C: ConnectionTrait>(db: &C, actor: &Actor, exclusive: bool) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let function = if exclusive { "pg_advisory_xact_lock" } else { "pg_advisory_xact_lock_shared" };
    let key = lock_key(&[b"push", actor.organisation_id.as_bytes()]);
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("SELECT {function}($1)"),
        [key.into()],
    ))
    .await?;
    Ok(())
}

/// A stable 64-bit advisory-lock key for `parts` (the same on every
/// instance and every build, unlike the standard library's hasher).
pub(crate) fn lock_key(parts: &[&[u8]]) -> i64 {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u32).to_be_bytes());
        hasher.update(part);
    }
    let digest = hasher.finalize();
    i64::from_be_bytes(digest[..8].try_into().unwrap_or_default())
}

/// The records the batch's creates name that exist already, in any
/// organisation: (kind, id) to (organisation, version). By kind as well as
/// id: a person with the id of a new contact does not make the contact a
/// duplicate.
async fn existing_records<'m, C: ConnectionTrait>(
    db: &C,
    pending: impl Iterator<Item = &'m Mutation>,
) -> Result<HashMap<(EntityKind, Uuid), (Uuid, i64)>, DbErr> {
    let mut by_kind: HashMap<EntityKind, Vec<Uuid>> = HashMap::new();
    for m in pending.filter(|m| m.op == MutationOp::Create) {
        by_kind.entry(m.entity).or_default().push(m.id);
    }
    let mut found = HashMap::new();
    for (kind, ids) in by_kind {
        let rows = crate::with_record!(kind, R => existing_of::<R, C>(db, &ids).await?,
            else Vec::new());
        found.extend(rows.into_iter().map(|(id, org, v)| ((kind, id), (org, v))));
    }
    Ok(found)
}

/// The (id, organisation, version) of the records of `R` among `ids`; the
/// kinds stored without versions (appended, never changed) are at 1.
async fn existing_of<R: SyncRecord, C: ConnectionTrait>(
    db: &C,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, Uuid, i64)>, DbErr> {
    let col = |name| row::column::<R::Entity>(name);
    let (id, org) = (col("id")?, col("organisation_id")?);
    // Every organisation: an id taken elsewhere is refused, not created.
    let lookup = ByKeys::<R::Entity>::new(id);
    match col("version") {
        Ok(version) => lookup.columns(vec![id, org, version]).tuples(db, ids).await,
        Err(_) => Ok(lookup
            .columns(vec![id, org])
            .tuples::<(Uuid, Uuid), C>(db, ids)
            .await?
            .into_iter()
            .map(|(id, org)| (id, org, 1))
            .collect()),
    }
}
