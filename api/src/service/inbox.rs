//! The partner inbox over REST: the referrals other organisations sent to
//! the caller's, as far as each person's consent allows at the moment of
//! asking.

use chrono::Utc;
use outpost_entity::referral_share;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::{ServiceError, ServiceResult};
use crate::{
    caller::Actor,
    records::referral::inbox::{self, InboxReferralView},
};

/// The latest `limit` referrals shared with the actor's organisation,
/// newest first.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    limit: u64,
) -> ServiceResult<Vec<InboxReferralView>> {
    let ids: Vec<Uuid> = referral_share::Entity::find()
        .select_only()
        .column(referral_share::Column::ReferralId)
        .filter(referral_share::Column::OrganisationId.eq(actor.organisation_id))
        .filter(referral_share::Column::EndedAt.is_null())
        .order_by_desc(referral_share::Column::SharedAt)
        .order_by_desc(referral_share::Column::ReferralId)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    let mut rendered = inbox::render(db, actor, &ids, Utc::now()).await?;
    // Newest first, as the shares were read.
    rendered.sort_by_key(|(id, _)| ids.iter().position(|i| i == id));
    Ok(rendered.into_iter().map(|(_, view)| view).collect())
}

/// One referral shared with the actor's organisation.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: Uuid,
) -> ServiceResult<InboxReferralView> {
    inbox::render(db, actor, &[id], Utc::now())
        .await?
        .pop()
        .map(|(_, view)| view)
        .ok_or(ServiceError::NotFound("referral"))
}
