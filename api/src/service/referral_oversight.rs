//! What managers watch over referrals: those overdue (still unanswered past
//! their deadline to respond, with how late), the steps the server flagged
//! (kept, but no longer following the status once a late step arrived),
//! and the organisation's deadlines per urgency.

use chrono::{DateTime, Duration, Utc};
use outpost_entity::{referral, referral_deadline, referral_step};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Set,
};
use uuid::Uuid;

use super::{ServiceError, ServiceResult};
use crate::{
    caller::Actor,
    domain::stored_name,
    records::{
        referral::{
            ReferralStepView, ReferralView,
            deadlines::{self, Deadline},
        },
        vocab::{ReferralStatus, Urgency},
    },
};

/// A referral past its deadline to respond.
pub struct Overdue {
    /// The referral.
    pub referral: ReferralView,
    /// How long past `respond_by`, at the time asked.
    pub late_by: Duration,
}

/// Open referrals in the actor's scope still `sent` past their deadline to
/// respond at `now`, the most overdue first, at most
/// `limit`.
pub async fn overdue<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    now: DateTime<Utc>,
    limit: u64,
) -> ServiceResult<Vec<Overdue>> {
    use referral::Column as Col;
    let rows = referral::Entity::find()
        .filter(Col::OrganisationId.eq(actor.organisation_id))
        .filter(Col::DeletedAt.is_null())
        .filter(actor.site_condition(Col::SiteId, Col::RecordedBy))
        .filter(Col::Status.eq(stored_name(&ReferralStatus::Sent)))
        .filter(Col::RespondBy.lte(now))
        .order_by_asc(Col::RespondBy)
        .order_by_asc(Col::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let late_by = now - row.respond_by.unwrap_or(now);
            Overdue { referral: row.into(), late_by }
        })
        .collect())
}

/// Steps the server flagged, of referrals in the actor's scope, most
/// recent first, at most `limit`.
pub async fn flagged_steps<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    limit: u64,
) -> ServiceResult<Vec<ReferralStepView>> {
    use referral_step::Column as Col;
    let visible = referral::Entity::find()
        .select_only()
        .column(referral::Column::Id)
        .filter(referral::Column::OrganisationId.eq(actor.organisation_id))
        .filter(referral::Column::DeletedAt.is_null())
        .filter(actor.site_condition(referral::Column::SiteId, referral::Column::RecordedBy))
        .into_query();
    Ok(referral_step::Entity::find()
        .filter(Col::OrganisationId.eq(actor.organisation_id))
        .filter(Col::Flag.is_not_null())
        .filter(Col::ReferralId.in_subquery(visible))
        .order_by_desc(Col::OccurredAt)
        .order_by_desc(Col::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(ReferralStepView::from)
        .collect())
}

/// The organisation's deadlines, every urgency, with each one's version
/// (0: the default, never set).
pub async fn deadlines<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
) -> ServiceResult<Vec<(Urgency, Deadline, i64)>> {
    Ok(deadlines::all(db, organisation_id).await?)
}

/// The longest a deadline may be: a year.
const LONGEST: i64 = 365 * 24 * 60;

/// Sets the deadlines of one urgency; they apply to referrals sent from
/// now on (and to any whose steps are walked again).
pub async fn set_deadline<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    urgency: Urgency,
    respond_within_minutes: i64,
    expire_after_minutes: i64,
) -> ServiceResult<(Deadline, i64)> {
    if !(1..=LONGEST).contains(&respond_within_minutes) {
        return Err(ServiceError::invalid(
            "respond_within_minutes",
            format!("must be 1 to {LONGEST} (a year)"),
        ));
    }
    if !(respond_within_minutes..=LONGEST).contains(&expire_after_minutes) {
        return Err(ServiceError::invalid(
            "expire_after_minutes",
            format!("must be at least respond_within_minutes and at most {LONGEST} (a year)"),
        ));
    }
    let key = (organisation_id, stored_name(&urgency));
    // Two admins setting an urgency for the first time at once: the second
    // insert loses the race and updates instead.
    let mut attempt = 0;
    let saved = loop {
        attempt += 1;
        let existing = referral_deadline::Entity::find_by_id(key.clone()).one(db).await?;
        let row = referral_deadline::ActiveModel {
            organisation_id: Set(key.0),
            urgency: Set(key.1.clone()),
            respond_within_minutes: Set(respond_within_minutes),
            expire_after_minutes: Set(expire_after_minutes),
            version: Set(existing.as_ref().map_or(1, |e| e.version + 1)),
            updated_at: Set(Utc::now()),
        };
        match existing {
            Some(_) => break row.update(db).await?,
            None => match row.insert(db).await {
                Err(err) if attempt < 3 && crate::db::is_lost_race(&err) => continue,
                other => break other?,
            },
        }
    };
    let deadline = Deadline {
        respond_within: Duration::minutes(saved.respond_within_minutes),
        expire_after: Duration::minutes(saved.expire_after_minutes),
    };
    Ok((deadline, saved.version))
}
