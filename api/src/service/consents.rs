//! Reading people's consents: one consent, and a person's whole history
//! (consents and revocations), or what was in force at a moment.

use chrono::{DateTime, Utc};
use outpost_entity::{consent, consent_revocation};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::{ServiceError, ServiceResult, records::person_row};
use crate::{
    caller::Actor,
    records::consent::{ConsentRevocationView, ConsentView, in_force},
};

/// One consent of the actor's organisation (people, and so their
/// consents, are seen across it).
pub async fn get<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: Uuid,
) -> ServiceResult<ConsentView> {
    consent::Entity::find_by_id(id)
        .filter(consent::Column::OrganisationId.eq(actor.organisation_id))
        .one(db)
        .await?
        .map(ConsentView::from)
        .ok_or(ServiceError::NotFound("consent"))
}

/// One revocation of the actor's organisation.
pub async fn get_revocation<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: Uuid,
) -> ServiceResult<ConsentRevocationView> {
    consent_revocation::Entity::find_by_id(id)
        .filter(consent_revocation::Column::OrganisationId.eq(actor.organisation_id))
        .one(db)
        .await?
        .map(ConsentRevocationView::from)
        .ok_or(ServiceError::NotFound("consent revocation"))
}

/// A person's consents, oldest first (only those in force at `at`, when
/// given), and every revocation of them.
pub async fn of_person<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    person_id: Uuid,
    at: Option<DateTime<Utc>>,
) -> ServiceResult<(Vec<ConsentView>, Vec<ConsentRevocationView>)> {
    person_row(db, actor, person_id).await?;
    let consents = consent::Entity::find()
        .filter(consent::Column::OrganisationId.eq(actor.organisation_id))
        .filter(consent::Column::PersonId.eq(person_id))
        .order_by_asc(consent::Column::OccurredAt)
        .order_by_asc(consent::Column::Id)
        .all(db)
        .await?;
    let revocations = consent_revocation::Entity::find()
        .filter(consent_revocation::Column::OrganisationId.eq(actor.organisation_id))
        .filter(consent_revocation::Column::PersonId.eq(person_id))
        .order_by_asc(consent_revocation::Column::OccurredAt)
        .order_by_asc(consent_revocation::Column::Id)
        .all(db)
        .await?;
    let consents = consents
        .into_iter()
        .filter(|c| at.is_none_or(|at| in_force(c, at)))
        .map(ConsentView::from)
        .collect();
    Ok((consents, revocations.into_iter().map(ConsentRevocationView::from).collect()))
}
