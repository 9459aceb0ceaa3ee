//! Sharing a referral with the partner organisation it was sent to (issue
//! 14): the partner's inbox. A referral is shared while it has been sent
//! to a partner service linked to another organisation on Outpost, is not
//! deleted, and the person's consent to sharing with that service is in
//! force; shown with identifiers only under consent to
//! `identifiable_sharing` too. [`refresh`] brings the partner's row in
//! line after anything that could change that or what the partner sees,
//! and answers the entries the partner's feed needs: an upsert while
//! shared, an eviction once not.

use chrono::{DateTime, Utc};
use outpost_entity::{consent, partner_service, referral, referral_share};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, Set,
};
use uuid::Uuid;

use crate::{
    records::{
        consent::{in_force, shares_with},
        vocab::ConsentPurpose,
    },
    sync::{
        EntityKind,
        feed::{ChangeOp, FeedEntry},
    },
};

/// A feed entry for another organisation.
pub type ForeignEntry = (Uuid, FeedEntry);

/// The partner organisation a referral to `partner_service_id` reaches,
/// if the service is linked to one (other than the referrer).
async fn partner_of<C: ConnectionTrait>(
    db: &C,
    referrer: Uuid,
    partner_service_id: Option<Uuid>,
) -> Result<Option<Uuid>, DbErr> {
    let Some(service) = partner_service_id else { return Ok(None) };
    let linked = partner_service::Entity::find_by_id(service)
        .filter(partner_service::Column::OrganisationId.eq(referrer))
        .one(db)
        .await?
        .and_then(|s| s.linked_organisation_id);
    Ok(linked.filter(|org| *org != referrer))
}

/// What consent allows, at `now`, for sharing `referral` with its partner
/// service: `None` nothing, `Some(identifiable)` the referral (with the
/// person's identifiers when `identifiable`).
pub async fn allowed<C: ConnectionTrait>(
    db: &C,
    referral: &referral::Model,
    now: DateTime<Utc>,
) -> Result<Option<bool>, DbErr> {
    let Some(service) = referral.partner_service_id else { return Ok(None) };
    if !referral.consent_to_share {
        return Ok(None);
    }
    let consents = consent::Entity::find()
        .filter(consent::Column::OrganisationId.eq(referral.organisation_id))
        .filter(consent::Column::PersonId.eq(referral.person_id))
        .all(db)
        .await?;
    let live: Vec<&consent::Model> =
        consents.iter().filter(|c| in_force(c, now) && shares_with(c, service)).collect();
    if live.is_empty() {
        return Ok(None);
    }
    let identifiable = live.iter().any(|c| {
        let purposes: Vec<ConsentPurpose> = serde_json::from_str(&c.purposes).unwrap_or_default();
        purposes.contains(&ConsentPurpose::IdentifiableSharing)
    });
    Ok(Some(identifiable))
}

/// Brings the partner inbox rows of `referral` (as it stands, stored or
/// about to be) in line with what it should be at `now`; answers the
/// entries for the partners' feeds.
pub async fn refresh<C: ConnectionTrait>(
    db: &C,
    referral: &referral::Model,
    now: DateTime<Utc>,
) -> Result<Vec<ForeignEntry>, DbErr> {
    let referrer = referral.organisation_id;
    let existing = referral_share::Entity::find()
        .filter(referral_share::Column::ReferrerOrganisationId.eq(referrer))
        .filter(referral_share::Column::ReferralId.eq(referral.id))
        .all(db)
        .await?;
    let partner = partner_of(db, referrer, referral.partner_service_id).await?;
    let shown = match partner {
        Some(_) if referral.deleted_at.is_none() && referral.sent_at.is_some() => {
            allowed(db, referral, now).await?
        }
        _ => None,
    };
    let mut entries = Vec::new();
    for share in &existing {
        let keep = shown.is_some() && Some(share.organisation_id) == partner;
        if keep || share.ended_at.is_some() {
            continue;
        }
        let (org, version) = (share.organisation_id, share.version + 1);
        let mut ended = share.clone().into_active_model();
        ended.ended_at = Set(Some(now));
        ended.version = Set(version);
        ended.update(db).await?;
        let mut evict = FeedEntry::upsert(EntityKind::InboxReferral, referral.id, version);
        evict.op = ChangeOp::Evict;
        entries.push((org, evict));
    }
    let (Some(partner), Some(identifiable)) = (partner, shown) else { return Ok(entries) };
    let (partner_service_id, person_id) =
        (referral.partner_service_id.unwrap_or_default(), referral.person_id);
    let version = match existing.iter().find(|s| s.organisation_id == partner) {
        Some(share) => {
            let version = share.version + 1;
            let mut live = share.clone().into_active_model();
            live.ended_at = Set(None);
            live.identifiable = Set(identifiable);
            live.partner_service_id = Set(partner_service_id);
            live.version = Set(version);
            live.update(db).await?;
            version
        }
        None => {
            referral_share::ActiveModel {
                organisation_id: Set(partner),
                referral_id: Set(referral.id),
                referrer_organisation_id: Set(referrer),
                partner_service_id: Set(partner_service_id),
                person_id: Set(person_id),
                identifiable: Set(identifiable),
                version: Set(1),
                shared_at: Set(now),
                ended_at: Set(None),
            }
            .insert(db)
            .await?;
            1
        }
    };
    entries.push((partner, FeedEntry::upsert(EntityKind::InboxReferral, referral.id, version)));
    Ok(entries)
}

/// [`refresh`] for every sent referral of the organisation that meets
/// `which` (a person's, after a consent of theirs was recorded or revoked;
/// a partner service's, after it was linked or unlinked).
pub async fn refresh_all<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    which: sea_orm::sea_query::SimpleExpr,
    now: DateTime<Utc>,
) -> Result<Vec<ForeignEntry>, DbErr> {
    let referrals = referral::Entity::find()
        .filter(referral::Column::OrganisationId.eq(organisation_id))
        .filter(referral::Column::PartnerServiceId.is_not_null())
        .filter(referral::Column::SentAt.is_not_null())
        .filter(which)
        .all(db)
        .await?;
    let mut entries = Vec::new();
    for referral in &referrals {
        entries.extend(refresh(db, referral, now).await?);
    }
    Ok(entries)
}
