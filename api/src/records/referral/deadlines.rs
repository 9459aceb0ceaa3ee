//! An organisation's referral deadlines, per urgency: how long a partner
//! has to respond to a sent referral before it is overdue, and how long
//! an unanswered one stays open before the server expires it. An urgency
//! the organisation has not set takes [`default_for`].

use chrono::{DateTime, Duration, Utc};
use outpost_entity::referral_deadline;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::{
    domain::{parse_stored, stored_name},
    records::vocab::Urgency,
};

/// The deadlines of one urgency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    /// From sending to the partner's first answer.
    pub respond_within: Duration,
    /// From sending to expiry while still unanswered.
    pub expire_after: Duration,
}

impl Deadline {
    /// The deadline to respond and the expiry of a referral sent at `sent_at`.
    pub fn from_sent(&self, sent_at: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        (sent_at + self.respond_within, sent_at + self.expire_after)
    }
}

/// Every urgency, most urgent first.
pub const URGENCIES: [Urgency; 4] =
    [Urgency::Emergency, Urgency::Urgent, Urgency::Soon, Urgency::Routine];

/// The deadlines an organisation starts with: an emergency is answered
/// within two hours, an urgent referral within a day, a routine one
/// within five days (the example); each expires unanswered after
/// a few times that.
pub fn default_for(urgency: Urgency) -> Deadline {
    let (respond_within, expire_after) = match urgency {
        Urgency::Emergency => (Duration::hours(2), Duration::days(2)),
        Urgency::Urgent => (Duration::hours(24), Duration::days(7)),
        Urgency::Soon => (Duration::hours(72), Duration::days(14)),
        Urgency::Routine => (Duration::days(5), Duration::days(28)),
    };
    Deadline { respond_within, expire_after }
}

/// The organisation's deadlines for a stored urgency.
pub async fn for_urgency<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    urgency: &str,
) -> Result<Deadline, DbErr> {
    let set = referral_deadline::Entity::find_by_id((organisation_id, urgency.to_owned()))
        .one(db)
        .await?;
    Ok(match set {
        Some(row) => of_row(&row),
        None => default_for(parse_stored(urgency).unwrap_or(Urgency::Routine)),
    })
}

/// The organisation's deadlines for every urgency, with the version of
/// each (0: the default, never set).
pub async fn all<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
) -> Result<Vec<(Urgency, Deadline, i64)>, DbErr> {
    let rows = referral_deadline::Entity::find()
        .filter(referral_deadline::Column::OrganisationId.eq(organisation_id))
        .all(db)
        .await?;
    Ok(URGENCIES
        .into_iter()
        .map(|urgency| {
            let name = stored_name(&urgency);
            match rows.iter().find(|row| row.urgency == name) {
                Some(row) => (urgency, of_row(row), row.version),
                None => (urgency, default_for(urgency), 0),
            }
        })
        .collect())
}

fn of_row(row: &referral_deadline::Model) -> Deadline {
    Deadline {
        respond_within: Duration::minutes(row.respond_within_minutes),
        expire_after: Duration::minutes(row.expire_after_minutes),
    }
}
