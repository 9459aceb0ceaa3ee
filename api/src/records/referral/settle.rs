//! Writes what walking a referral's steps changed: the flags of steps that
//! no longer follow (each change a new version of the step on the feed),
//! and the referral's status, times and deadlines (a new version of it).

use chrono::{DateTime, Utc};
use outpost_entity::{referral, referral_step};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, IntoActiveModel, Set};

use super::{
    deadlines,
    lifecycle::{self, Walked},
};
use crate::{
    domain::{parse_stored, stored_name},
    records::vocab::ReferralStatus,
    sync::{EntityKind, feed::FeedEntry},
};

/// A stored step as the walk reads it.
pub(super) fn step_of(model: &referral_step::Model) -> lifecycle::Step {
    lifecycle::Step {
        id: model.id,
        status: parse_stored(&model.status).unwrap_or(ReferralStatus::Draft),
        occurred_at: model.occurred_at,
        appointment_at: model.appointment_at,
    }
}

/// Sorts steps in the order the walk takes them.
pub(super) fn sort(steps: &mut [referral_step::Model]) {
    steps.sort_by_key(|s| (s.occurred_at, s.id));
}

/// What the steps give the referral.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Derived {
    status: String,
    status_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
    respond_by: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    first_appointment_at: Option<DateTime<Utc>>,
    seconds_to_acknowledgement: Option<i64>,
    seconds_to_acceptance: Option<i64>,
    seconds_to_first_appointment: Option<i64>,
}

impl Derived {
    /// From a walk, with the deadlines of the referral's urgency in the
    /// organisation (read only once it has been sent).
    pub(super) async fn of<C: ConnectionTrait>(
        db: &C,
        (organisation_id, urgency): (uuid::Uuid, &str),
        walked: &Walked,
    ) -> Result<Self, DbErr> {
        let (respond_by, expires_at) = match walked.sent_at {
            Some(sent_at) => {
                let deadline = deadlines::for_urgency(db, organisation_id, urgency).await?;
                let (respond_by, expires_at) = deadline.from_sent(sent_at);
                (Some(respond_by), Some(expires_at))
            }
            None => (None, None),
        };
        Ok(Self {
            status: stored_name(&walked.status),
            status_at: walked.status_at,
            sent_at: walked.sent_at,
            respond_by,
            expires_at,
            first_appointment_at: walked.first_appointment_at,
            seconds_to_acknowledgement: walked.seconds_since_sent(walked.answered_at),
            seconds_to_acceptance: walked.seconds_since_sent(walked.accepted_at),
            seconds_to_first_appointment: walked.seconds_since_sent(walked.first_appointment_at),
        })
    }

    /// What the stored referral holds.
    fn stored(model: &referral::Model) -> Self {
        Self {
            status: model.status.clone(),
            status_at: model.status_at,
            sent_at: model.sent_at,
            respond_by: model.respond_by,
            expires_at: model.expires_at,
            first_appointment_at: model.first_appointment_at,
            seconds_to_acknowledgement: model.seconds_to_acknowledgement,
            seconds_to_acceptance: model.seconds_to_acceptance,
            seconds_to_first_appointment: model.seconds_to_first_appointment,
        }
    }

    /// Writes these into a referral row.
    pub(super) fn set(self, row: &mut referral::ActiveModel) {
        row.status = Set(self.status);
        row.status_at = Set(self.status_at);
        row.sent_at = Set(self.sent_at);
        row.respond_by = Set(self.respond_by);
        row.expires_at = Set(self.expires_at);
        row.first_appointment_at = Set(self.first_appointment_at);
        row.seconds_to_acknowledgement = Set(self.seconds_to_acknowledgement);
        row.seconds_to_acceptance = Set(self.seconds_to_acceptance);
        row.seconds_to_first_appointment = Set(self.seconds_to_first_appointment);
    }
}

/// Writes the walk of `steps` (stored, sorted, flags as stored): the flags
/// that changed and the referral when what it derives changed. Answers the
/// referral as it now stands and the entries for its organisation's feed.
pub(super) async fn write<C: ConnectionTrait>(
    db: &C,
    current: referral::Model,
    steps: Vec<referral_step::Model>,
    walked: &Walked,
    now: DateTime<Utc>,
) -> Result<(referral::Model, Vec<FeedEntry>), DbErr> {
    let (site, owner) = (current.site_id, current.recorded_by);
    let mut entries = Vec::new();
    for (step, flag) in steps.into_iter().zip(&walked.flags) {
        if step.flag == *flag {
            continue;
        }
        let (id, version) = (step.id, step.version + 1);
        let mut active = step.into_active_model();
        active.flag = Set(flag.clone());
        active.version = Set(version);
        active.update(db).await?;
        entries.push(FeedEntry::upsert(EntityKind::ReferralStep, id, version).at_site(site, owner));
    }
    let derived = Derived::of(db, (current.organisation_id, &current.urgency), walked).await?;
    if derived == Derived::stored(&current) {
        return Ok((current, entries));
    }
    let (id, version) = (current.id, current.version + 1);
    let mut active = current.into_active_model();
    derived.set(&mut active);
    active.version = Set(version);
    active.updated_at = Set(now);
    let saved = active.update(db).await?;
    entries.push(FeedEntry::upsert(EntityKind::Referral, id, version).at_site(site, owner));
    Ok((saved, entries))
}
