//! `POST /v1/sync/push`: a batch of mutations in one transaction, each with
//! its own answer (sync.md, guarantees 1, 2 and 7).
//!
//! - A mutation already applied (same `mutation_id` in the organisation) is
//!   answered from the mutation log, through a hot cache in Redis: the
//!   retry of a lost response gets the original answer and writes nothing.
//! - Refusals are answers, not errors: the batch goes on with the next
//!   mutation and commits the rest.
//! - Two copies of a batch racing: the second blocks on the first's rows,
//!   fails on the unique key once the first commits, and is run again, when
//!   the log answers every mutation as a duplicate.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use outpost_entity::{contact, incident, person, referral, referral_step, sync_mutation};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, SqlErr,
    TransactionTrait,
};
use uuid::Uuid;

use super::{
    EntityKind,
    apply::apply,
    mutation::{Mutation, MutationOp, MutationResult, MutationStatus},
    writer::BatchWriter,
};
use crate::{
    records::{
        context::{Actor, BatchContext},
        fields::Rejection,
    },
    service::ServiceResult,
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
) -> ServiceResult<Vec<MutationResult>> {
    let mut answers: Vec<Option<MutationResult>> = vec![None; mutations.len()];
    // A mutation id repeated inside the batch is answered like a replay.
    let mut first_of: HashMap<Uuid, usize> = HashMap::new();
    let mut repeats = Vec::new();
    for (i, m) in mutations.iter().enumerate() {
        if let Some(&first) = first_of.get(&m.mutation_id) {
            repeats.push((i, first));
        } else {
            first_of.insert(m.mutation_id, i);
        }
    }

    replay_from_cache(state, actor, &mutations, &first_of, &mut answers).await;
    let mut attempt = 0;
    let fresh = loop {
        attempt += 1;
        replay_from_log(state, actor, &mutations, &first_of, &mut answers).await?;
        let pending: Vec<&Mutation> = first_of
            .values()
            .copied()
            .filter(|&i| answers[i].is_none())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .map(|i| &mutations[i])
            .collect();
        match run_batch(state, actor, &pending).await {
            Ok(results) => break results,
            Err(err) if attempt < ATTEMPTS && lost_a_race(&err) => {
                tracing::debug!(error = %err, attempt, "push lost a race; running it again");
            }
            Err(err) => return Err(err.into()),
        }
    };

    let mut to_cache = Vec::new();
    for result in fresh {
        if !matches!(result.status, MutationStatus::Rejected | MutationStatus::Duplicate)
            && let Ok(json) = serde_json::to_string(&result)
        {
            to_cache.push((replay_key(actor.organisation_id, result.mutation_id), json));
        }
        let i = first_of[&result.mutation_id];
        answers[i] = Some(result);
    }
    for (i, first) in repeats {
        answers[i] = answers[first].clone().map(MutationResult::as_duplicate);
    }
    if let Err(err) = state.cache.set_many(&to_cache, REPLAY_TTL).await {
        tracing::debug!(error = %err, "replay cache not written; the database answers replays");
    }
    Ok(answers.into_iter().flatten().collect())
}

/// Whether a failed batch lost a race with a concurrent one (a unique key,
/// a deadlock, a serialisation failure) and should run again.
fn lost_a_race(err: &DbErr) -> bool {
    if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
        return true;
    }
    let text = err.to_string();
    text.contains("deadlock") || text.contains("could not serialize") || text.contains("locked")
}

async fn replay_from_cache(
    state: &AppState,
    actor: &Actor,
    mutations: &[Mutation],
    first_of: &HashMap<Uuid, usize>,
    answers: &mut [Option<MutationResult>],
) {
    let ids: Vec<Uuid> = first_of.keys().copied().collect();
    let keys: Vec<String> = ids.iter().map(|id| replay_key(actor.organisation_id, *id)).collect();
    let Ok(values) = state.cache.get_many(&keys).await else { return };
    for (id, value) in ids.iter().zip(values) {
        let Some(result) = value.and_then(|v| serde_json::from_str::<MutationResult>(&v).ok())
        else {
            continue;
        };
        let i = first_of[id];
        // A replay must be the same mutation; a reused id for another record
        // falls through to the log check below, which refuses it.
        if mutations[i].id == result.id && mutations[i].entity == result.entity {
            answers[i] = Some(result.as_duplicate());
        }
    }
}

async fn replay_from_log(
    state: &AppState,
    actor: &Actor,
    mutations: &[Mutation],
    first_of: &HashMap<Uuid, usize>,
    answers: &mut [Option<MutationResult>],
) -> Result<(), DbErr> {
    let unanswered: Vec<Uuid> =
        first_of.iter().filter(|(_, i)| answers[**i].is_none()).map(|(id, _)| *id).collect();
    for chunk in unanswered.chunks(500) {
        let logged = sync_mutation::Entity::find()
            .filter(sync_mutation::Column::OrganisationId.eq(actor.organisation_id))
            .filter(sync_mutation::Column::MutationId.is_in(chunk.iter().copied()))
            .all(&state.db)
            .await?;
        for row in logged {
            let i = first_of[&row.mutation_id];
            let m = &mutations[i];
            answers[i] = Some(if row.record_id == m.id && row.entity == m.entity.as_str() {
                match serde_json::from_str::<MutationResult>(&row.result) {
                    Ok(result) => result.as_duplicate(),
                    Err(err) => {
                        return Err(DbErr::Custom(format!("stored result unreadable: {err}")));
                    }
                }
            } else {
                MutationResult::rejected(
                    m,
                    Rejection::new(
                        "mutation_id_reused",
                        Some("mutation_id"),
                        "this mutation id was already used for another change",
                    ),
                )
            });
        }
    }
    Ok(())
}

async fn run_batch(
    state: &AppState,
    actor: &Actor,
    pending: &[&Mutation],
) -> Result<Vec<MutationResult>, DbErr> {
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let txn = state.db.begin().await?;
    let mut ctx =
        BatchContext::load(&txn, actor.clone(), pending.iter().map(|m| &m.fields)).await?;
    let existing = existing_records(&txn, pending).await?;
    let mut writer = BatchWriter::default();
    let mut created = HashSet::new();
    let mut results = Vec::with_capacity(pending.len());
    for m in pending {
        let result = match (m.op, existing.get(&(m.entity, m.id))) {
            (MutationOp::Create, Some((org, version))) if *org == actor.organisation_id => {
                // The record is there already (the device lost the answer
                // and made a new mutation id): nothing to write.
                MutationResult::new(m, MutationStatus::Duplicate, Some(*version))
            }
            (MutationOp::Create, Some(_)) => MutationResult::rejected(
                m,
                Rejection::new(
                    "id_taken",
                    Some("id"),
                    "this id is already in use; generate a new UUID",
                ),
            ),
            _ => match apply(&txn, &mut ctx, &mut writer, &mut created, m).await? {
                Ok(result) => result,
                Err(rejection) => MutationResult::rejected(m, rejection),
            },
        };
        if !matches!(result.status, MutationStatus::Rejected | MutationStatus::Duplicate) {
            writer.remember(actor, m, &result);
        }
        results.push(result);
    }
    writer.finish(&txn, actor.organisation_id).await?;
    txn.commit().await?;
    Ok(results)
}

/// The records the batch's creates name that exist already, in any
/// organisation: (kind, id) to (organisation, version). By kind as well as
/// id: a person with the id of a new contact does not make the contact a
/// duplicate.
async fn existing_records<C: ConnectionTrait>(
    db: &C,
    pending: &[&Mutation],
) -> Result<HashMap<(EntityKind, Uuid), (Uuid, i64)>, DbErr> {
    let mut by_kind: HashMap<EntityKind, Vec<Uuid>> = HashMap::new();
    for m in pending.iter().filter(|m| m.op == MutationOp::Create) {
        by_kind.entry(m.entity).or_default().push(m.id);
    }
    let mut found = HashMap::new();
    for (kind, ids) in by_kind {
        for chunk in ids.chunks(500) {
            let ids = chunk.to_vec();
            let rows: Vec<(Uuid, Uuid, i64)> = match kind {
                EntityKind::Person => {
                    id_org_version::<_, person::Entity>(db, ids, person::Column::Version).await?
                }
                EntityKind::Contact => {
                    id_org_version::<_, contact::Entity>(db, ids, contact::Column::Version).await?
                }
                EntityKind::Incident => {
                    id_org_version::<_, incident::Entity>(db, ids, incident::Column::Version)
                        .await?
                }
                EntityKind::Referral => {
                    id_org_version::<_, referral::Entity>(db, ids, referral::Column::Version)
                        .await?
                }
                EntityKind::ReferralStep => referral_step::Entity::find()
                    .select_only()
                    .column(referral_step::Column::Id)
                    .column(referral_step::Column::OrganisationId)
                    .filter(referral_step::Column::Id.is_in(ids))
                    .into_tuple::<(Uuid, Uuid)>()
                    .all(db)
                    .await?
                    .into_iter()
                    .map(|(id, org)| (id, org, 1))
                    .collect(),
                _ => Vec::new(),
            };
            found.extend(rows.into_iter().map(|(id, org, v)| ((kind, id), (org, v))));
        }
    }
    Ok(found)
}

async fn id_org_version<C, E>(
    db: &C,
    ids: Vec<Uuid>,
    version: E::Column,
) -> Result<Vec<(Uuid, Uuid, i64)>, DbErr>
where
    C: ConnectionTrait,
    E: EntityTrait,
{
    use std::str::FromStr;
    let id = E::Column::from_str("id").map_err(|_| DbErr::Custom("no id column".into()))?;
    let org = E::Column::from_str("organisation_id")
        .map_err(|_| DbErr::Custom("no organisation_id column".into()))?;
    E::find()
        .select_only()
        .column(id)
        .column(org)
        .column(version)
        .filter(id.is_in(ids))
        .into_tuple::<(Uuid, Uuid, i64)>()
        .all(db)
        .await
}
