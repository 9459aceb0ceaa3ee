//! A referral as the partner organisation it was sent to sees it, in its
//! inbox: the referral, the person's alias or initials, year of birth and
//! risk flags, their identifiers only under consent to
//! `identifiable_sharing`, and the referral's steps (without the
//! referrer's notes). Never the referrer's other records. Shown only to
//! the partner's staff with the inbox permission, and only while the
//! person's consent covers the sharing at the moment of asking.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use outpost_entity::{
    organisation, partner_service, person, referral, referral_share, referral_step,
};
use poem_openapi::{Object, types::ToJSON};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::sharing;
use crate::{
    caller::Actor,
    domain::{Permission, parse_stored},
    records::{
        person::RiskFlag,
        vocab::{ReferralOutcome, ReferralStatus, ServiceType, Urgency},
    },
};

/// The person a shared referral is for, as far as consent allows.
#[derive(Object, Clone)]
pub struct InboxPerson {
    /// Their street name or alias.
    pub alias: Option<String>,
    /// Their initials.
    pub initials: Option<String>,
    /// Their year of birth.
    pub birth_year: Option<i32>,
    /// Their risk flags (violence, safeguarding...).
    pub risk_flags: Vec<RiskFlag>,
    /// Their date of birth: only under consent to `identifiable_sharing`,
    /// to your managers and admins.
    pub birth_date: Option<NaiveDate>,
    /// Their NHS number: only under consent to `identifiable_sharing`, to
    /// your managers and admins.
    pub nhs_number: Option<String>,
}

/// A step of a shared referral.
#[derive(Object, Clone)]
pub struct InboxStep {
    /// Its id.
    pub id: Uuid,
    /// The status it moved to.
    pub status: ReferralStatus,
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// Why (a decline, a withdrawal, a missed appointment).
    pub reason: Option<String>,
    /// How it ended (a close).
    pub outcome: Option<ReferralOutcome>,
    /// When the appointment is (a booking).
    pub appointment_at: Option<DateTime<Utc>>,
    /// Whether your organisation recorded it.
    pub by_you: bool,
    /// Set when it no longer follows the steps before it.
    pub flag: Option<String>,
}

/// A referral another organisation sent to yours.
#[derive(Object, Clone)]
pub struct InboxReferralView {
    /// The referral's id: record steps against it.
    pub id: Uuid,
    /// Goes up with every change you are sent.
    pub version: i64,
    /// The organisation that made it.
    pub referrer: String,
    /// The service it was sent to, as the referrer's directory names it.
    pub service_name: String,
    /// The kind of service.
    pub service_type: ServiceType,
    /// Why.
    pub reason: String,
    /// How soon.
    pub urgency: Urgency,
    /// Where it is in its life.
    pub status: ReferralStatus,
    /// When it was sent.
    pub sent_at: Option<DateTime<Utc>>,
    /// Until when a response is expected.
    pub respond_by: Option<DateTime<Utc>>,
    /// The person.
    pub person: InboxPerson,
    /// Its steps, in the order they happened.
    pub steps: Vec<InboxStep>,
}

/// Whether `actor` handles its organisation's inbox.
pub fn handles_inbox(actor: &Actor) -> bool {
    actor.role.is_some_and(|role| role.grants(Permission::HandleReferralInbox))
}

/// The referrals with these ids shared with the actor's organisation and
/// still covered by consent at `now`, as its inbox shows them.
pub async fn render<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    ids: &[Uuid],
    now: DateTime<Utc>,
) -> Result<Vec<(Uuid, InboxReferralView)>, DbErr> {
    if !handles_inbox(actor) || ids.is_empty() {
        return Ok(Vec::new());
    }
    let shares = referral_share::Entity::find()
        .filter(referral_share::Column::OrganisationId.eq(actor.organisation_id))
        .filter(referral_share::Column::ReferralId.is_in(ids.iter().copied()))
        .filter(referral_share::Column::EndedAt.is_null())
        .all(db)
        .await?;
    let mut names: HashMap<Uuid, String> = HashMap::new();
    let mut out = Vec::with_capacity(shares.len());
    for share in shares {
        let referrer = share.referrer_organisation_id;
        let Some(referral) = referral::Entity::find_by_id(share.referral_id)
            .filter(referral::Column::OrganisationId.eq(referrer))
            .filter(referral::Column::DeletedAt.is_null())
            .one(db)
            .await?
        else {
            continue;
        };
        // Consent is asked again now: a revocation or lapse takes effect at
        // once, before the eviction reaches the partner's devices.
        let Some(identifiable) = sharing::allowed(db, &referral, now).await? else { continue };
        // Identifiers also need a reader who may see them at home.
        let identifiable = identifiable && actor.sees_identifiers();
        let Some(person) = person::Entity::find_by_id(referral.person_id)
            .filter(person::Column::OrganisationId.eq(referrer))
            .one(db)
            .await?
        else {
            continue;
        };
        if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(referrer) {
            let name = organisation::Entity::find_by_id(referrer).one(db).await?.map(|o| o.name);
            slot.insert(name.unwrap_or_default());
        }
        let service_name = partner_service::Entity::find_by_id(share.partner_service_id)
            .filter(partner_service::Column::OrganisationId.eq(referrer))
            .one(db)
            .await?
            .map(|s| s.name)
            .unwrap_or_default();
        let steps = referral_step::Entity::find()
            .filter(referral_step::Column::OrganisationId.eq(referrer))
            .filter(referral_step::Column::ReferralId.eq(referral.id))
            .order_by_asc(referral_step::Column::OccurredAt)
            .order_by_asc(referral_step::Column::Id)
            .all(db)
            .await?;
        let view = InboxReferralView {
            id: referral.id,
            version: share.version,
            referrer: names[&referrer].clone(),
            service_name,
            service_type: parse_stored(&referral.service_type).unwrap_or(ServiceType::Welfare),
            reason: referral.reason,
            urgency: parse_stored(&referral.urgency).unwrap_or(Urgency::Routine),
            status: parse_stored(&referral.status).unwrap_or(ReferralStatus::Draft),
            sent_at: referral.sent_at,
            respond_by: referral.respond_by,
            person: InboxPerson {
                alias: person.alias,
                initials: person.initials,
                birth_year: person.birth_year,
                risk_flags: serde_json::from_str(&person.risk_flags).unwrap_or_default(),
                birth_date: person.birth_date.filter(|_| identifiable),
                nhs_number: person.nhs_number.filter(|_| identifiable),
            },
            steps: steps
                .into_iter()
                .map(|s| InboxStep {
                    id: s.id,
                    status: parse_stored(&s.status).unwrap_or(ReferralStatus::Draft),
                    occurred_at: s.occurred_at,
                    reason: s.reason,
                    outcome: s.outcome.and_then(|o| parse_stored(&o).ok()),
                    appointment_at: s.appointment_at,
                    by_you: s.partner_organisation_id == Some(actor.organisation_id),
                    flag: s.flag,
                })
                .collect(),
        };
        out.push((share.referral_id, view));
    }
    Ok(out)
}

/// [`render`] as JSON values, for the sync pull.
pub async fn render_values<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, serde_json::Value)>, DbErr> {
    Ok(render(db, actor, ids, Utc::now())
        .await?
        .into_iter()
        .filter_map(|(id, view)| view.to_json().map(|v| (id, v)))
        .collect())
}
