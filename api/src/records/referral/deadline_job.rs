//! The deadline job. Referrals newly past `respond_by` and still `sent`
//! are marked overdue (a new version, fed to the referrer and the staff
//! of its site); referrals past `expires_at` still unanswered get the
//! server's `expired` step. Each referral is changed in its own
//! transaction, locked and checked again first, so several instances
//! running the job at once change each referral once.

use chrono::{DateTime, Utc};
use outpost_entity::{referral, referral_share, referral_step};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QuerySelect, Set, TransactionTrait,
};
use uuid::Uuid;

use super::{lifecycle, settle, sharing};
use crate::{
    domain::stored_name,
    records::vocab::ReferralStatus,
    sync::{EntityKind, editable::lock, feed::FeedEntry, writer::BatchWriter},
};

/// What one run changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeadlineRun {
    /// Referrals marked overdue.
    pub overdue: u64,
    /// Referrals expired.
    pub expired: u64,
    /// Referrals partners lost because consent lapsed or a revocation
    /// dated ahead came to pass.
    pub unshared: u64,
}

/// How many candidates one query takes; the run goes on until none are
/// left.
const BATCH: u64 = 200;

/// Marks what is overdue and expires what is past its expiry, as of `now`.
pub async fn run(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<DeadlineRun, DbErr> {
    let mut run = DeadlineRun::default();
    let overdue = || {
        Condition::all()
            .add(referral::Column::Status.eq(stored_name(&ReferralStatus::Sent)))
            .add(referral::Column::OverdueAt.is_null())
            .add(referral::Column::RespondBy.lte(now))
    };
    loop {
        let found = candidates(db, overdue()).await?;
        let mut changed = 0;
        for &(organisation_id, id) in &found {
            changed += u64::from(retrying(|| mark_overdue(db, organisation_id, id, now)).await?);
        }
        run.overdue += changed;
        if (found.len() as u64) < BATCH || changed == 0 {
            break;
        }
    }
    let expiring = || {
        let awaiting =
            [ReferralStatus::Sent, ReferralStatus::Acknowledged].map(|s| stored_name(&s));
        Condition::all()
            .add(referral::Column::Status.is_in(awaiting))
            .add(referral::Column::ExpiresAt.lte(now))
    };
    loop {
        let found = candidates(db, expiring()).await?;
        let mut changed = 0;
        for &(organisation_id, id) in &found {
            changed += u64::from(retrying(|| expire(db, organisation_id, id, now)).await?);
        }
        run.expired += changed;
        if (found.len() as u64) < BATCH || changed == 0 {
            break;
        }
    }
    let live: Vec<(Uuid, Uuid)> = referral_share::Entity::find()
        .select_only()
        .column(referral_share::Column::ReferrerOrganisationId)
        .column(referral_share::Column::ReferralId)
        .filter(referral_share::Column::EndedAt.is_null())
        .into_tuple()
        .all(db)
        .await?;
    for (referrer, id) in live {
        run.unshared += u64::from(retrying(|| unshare(db, referrer, id, now)).await?);
    }
    Ok(run)
}

/// Ends a partner's sight of one referral if consent no longer covers it;
/// answers whether it did.
async fn unshare(
    db: &DatabaseConnection,
    organisation_id: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    // Nearly every share is still covered: read first, and lock only the
    // referrals that lost their consent, not every shared one every run.
    let Some(unlocked) = referral::Entity::find_by_id(id)
        .filter(referral::Column::OrganisationId.eq(organisation_id))
        .one(db)
        .await?
    else {
        return Ok(false);
    };
    if still_shared(db, &unlocked, now).await? {
        return Ok(false);
    }
    let txn = db.begin().await?;
    let Some(current) = lock::<_, referral::Entity>(&txn, organisation_id, id).await? else {
        return Ok(false);
    };
    if still_shared(&txn, &current, now).await? {
        return Ok(false);
    }
    let entries = sharing::refresh(&txn, &current, now).await?;
    if entries.is_empty() {
        return Ok(false);
    }
    let mut w = BatchWriter::default();
    super::route(&mut w, organisation_id, entries);
    w.finish(&txn, organisation_id).await?;
    txn.commit().await?;
    Ok(true)
}

/// Whether a partner may still see `referral` at `now`.
async fn still_shared<C: sea_orm::ConnectionTrait>(
    db: &C,
    referral: &referral::Model,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    Ok(referral.deleted_at.is_none() && sharing::allowed(db, referral, now).await?.is_some())
}

/// Runs one referral's change again when it lost a race with another
/// instance's (a busy SQLite file, a Postgres deadlock); after five tries
/// it is left for the next run.
async fn retrying<F, Fut>(mut change: F) -> Result<bool, DbErr>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, DbErr>>,
{
    for attempt in 1..=5u64 {
        match change().await {
            Err(err) if crate::db::is_lost_race(&err) => {
                tokio::time::sleep(std::time::Duration::from_millis(10 * attempt)).await;
            }
            other => return other,
        }
    }
    Ok(false)
}

/// Live referrals meeting `condition`, across organisations.
async fn candidates(
    db: &DatabaseConnection,
    condition: Condition,
) -> Result<Vec<(Uuid, Uuid)>, DbErr> {
    referral::Entity::find()
        .select_only()
        .column(referral::Column::OrganisationId)
        .column(referral::Column::Id)
        .filter(referral::Column::DeletedAt.is_null())
        .filter(condition)
        .limit(BATCH)
        .into_tuple()
        .all(db)
        .await
}

/// Marks one referral overdue if it still is; answers whether it did.
async fn mark_overdue(
    db: &DatabaseConnection,
    organisation_id: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let txn = db.begin().await?;
    let Some(current) = lock::<_, referral::Entity>(&txn, organisation_id, id).await? else {
        return Ok(false);
    };
    let still = current.deleted_at.is_none()
        && current.overdue_at.is_none()
        && current.status == stored_name(&ReferralStatus::Sent)
        && current.respond_by.is_some_and(|by| by <= now);
    if !still {
        return Ok(false);
    }
    let (site, owner, version) = (current.site_id, current.recorded_by, current.version + 1);
    let mut active = current.into_active_model();
    active.overdue_at = Set(Some(now));
    active.version = Set(version);
    active.updated_at = Set(Utc::now());
    active.update(&txn).await?;
    let mut w = BatchWriter::default();
    w.change(FeedEntry::upsert(EntityKind::Referral, id, version).at_site(site, owner));
    w.finish(&txn, organisation_id).await?;
    txn.commit().await?;
    Ok(true)
}

/// Appends the server's `expired` step to one referral if it is still
/// unanswered past its expiry; answers whether it did.
async fn expire(
    db: &DatabaseConnection,
    organisation_id: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let txn = db.begin().await?;
    let Some(current) = lock::<_, referral::Entity>(&txn, organisation_id, id).await? else {
        return Ok(false);
    };
    let status = crate::domain::parse_stored(&current.status).unwrap_or(ReferralStatus::Draft);
    let still = current.deleted_at.is_none()
        && lifecycle::awaits_answer(status)
        && current.expires_at.is_some_and(|at| at <= now);
    if !still {
        return Ok(false);
    }
    let step = referral_step::Model {
        id: Uuid::now_v7(),
        organisation_id,
        referral_id: id,
        status: stored_name(&ReferralStatus::Expired),
        occurred_at: now,
        note: None,
        reason: Some("no answer from the partner before the referral's expiry".into()),
        outcome: None,
        appointment_at: None,
        flag: None,
        version: 1,
        partner_organisation_id: None,
        partner_user_id: None,
        recorded_by: None,
        device_id: None,
        created_at: Utc::now(),
    };
    let mut steps = referral_step::Entity::find()
        .filter(referral_step::Column::OrganisationId.eq(organisation_id))
        .filter(referral_step::Column::ReferralId.eq(id))
        .all(&txn)
        .await?;
    steps.push(step.clone());
    settle::sort(&mut steps);
    let walked = lifecycle::walk(&steps.iter().map(settle::step_of).collect::<Vec<_>>());
    let place = steps.iter().position(|s| s.id == step.id).unwrap_or_default();
    if walked.flags[place].is_some() {
        // A step dated after now (a device clock ahead) already moved it.
        return Ok(false);
    }
    let (site, owner, step_id) = (current.site_id, current.recorded_by, step.id);
    let mut w = BatchWriter::default();
    let stored = step.into_active_model().insert(&txn).await?;
    let (saved, entries) = settle::write(&txn, current, steps, &walked, Utc::now()).await?;
    super::announce(&txn, &saved, &stored, now).await?;
    for entry in entries {
        w.change(entry);
    }
    w.change(FeedEntry::upsert(EntityKind::ReferralStep, step_id, 1).at_site(site, owner));
    super::route(&mut w, organisation_id, sharing::refresh(&txn, &saved, now).await?);
    w.finish(&txn, organisation_id).await?;
    txn.commit().await?;
    Ok(true)
}
