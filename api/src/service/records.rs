//! Reading field records for the REST API: one record in the caller's
//! scope, and keyset pages of them. Writes go through the sync engine
//! (`crate::sync::push`), so REST and devices share one set of rules.
//!
//! Scope is the sync feed's (`crate::sync::pull`): the caller's organisation
//! only; people are visible organisation-wide; workers and viewers see the
//! contacts, incidents and referrals of their sites, their own, and those
//! recorded without a site; managers, admins and API keys see them all.
//! Deleted records are never shown.
//!
//! Pages are keyset pages on the id: ids are UUID v7, so id order is
//! creation order and a page never repeats or skips a record that existed
//! when the first page was read.

use crate::caller::Actor;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use outpost_entity::{contact, incident, kit_line, person, referral, referral_step};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
};
use uuid::Uuid;

use super::{ServiceError, ServiceResult};
use crate::records::{
    contact::ContactView,
    incident::IncidentView,
    person::PersonView,
    referral::{ReferralStepView, ReferralView},
};

/// A page of records, oldest first.
pub struct Page<T> {
    /// The records.
    pub items: Vec<T>,
    /// The id to pass as `after` for the next page; `None` on the last.
    pub next_after: Option<Uuid>,
}

/// Filters of the contact list.
#[derive(Default)]
pub struct ContactFilter {
    /// Recorded at this site.
    pub site_id: Option<Uuid>,
    /// About this person.
    pub person_id: Option<Uuid>,
    /// Occurred at or after.
    pub occurred_from: Option<DateTime<Utc>>,
    /// Occurred before.
    pub occurred_to: Option<DateTime<Utc>>,
}

/// Filters of the incident list.
#[derive(Default)]
pub struct IncidentFilter {
    /// Recorded at this site.
    pub site_id: Option<Uuid>,
    /// Occurred at or after.
    pub occurred_from: Option<DateTime<Utc>>,
    /// Occurred before.
    pub occurred_to: Option<DateTime<Utc>>,
}

/// Filters of the referral list.
#[derive(Default)]
pub struct ReferralFilter {
    /// About this person.
    pub person_id: Option<Uuid>,
    /// In this status (its stored name).
    pub status: Option<String>,
}

/// Keeps `limit` rows of `limit + 1` read; the last kept id continues.
pub(crate) fn split<M>(
    mut rows: Vec<M>,
    limit: u64,
    id: impl Fn(&M) -> Uuid,
) -> (Vec<M>, Option<Uuid>) {
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next = if more { rows.last().map(id) } else { None };
    (rows, next)
}

/// A page of people.
pub async fn list_persons<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    after: Option<Uuid>,
    limit: u64,
) -> ServiceResult<Page<PersonView>> {
    let query = person::Entity::find()
        .filter(person::Column::OrganisationId.eq(actor.organisation_id))
        .filter(person::Column::DeletedAt.is_null())
        .apply_if(after, |q, after| q.filter(person::Column::Id.gt(after)));
    let rows = query.order_by_asc(person::Column::Id).limit(limit + 1).all(db).await?;
    let (rows, next_after) = split(rows, limit, |m| m.id);
    Ok(Page {
        items: rows.into_iter().map(|m| PersonView::for_actor(m, actor)).collect(),
        next_after,
    })
}

/// A person of the organisation, not deleted.
pub async fn person_row<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: Uuid,
) -> ServiceResult<person::Model> {
    person::Entity::find_by_id(id)
        .filter(person::Column::OrganisationId.eq(actor.organisation_id))
        .filter(person::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .ok_or(ServiceError::NotFound("person"))
}

/// A person as the actor may see them.
pub async fn get_person<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: Uuid,
) -> ServiceResult<PersonView> {
    Ok(PersonView::for_actor(person_row(db, actor, id).await?, actor))
}

async fn contact_views<C: ConnectionTrait>(
    db: &C,
    rows: Vec<contact::Model>,
) -> Result<Vec<ContactView>, DbErr> {
    let ids: Vec<Uuid> = rows.iter().map(|m| m.id).collect();
    let mut lines: HashMap<Uuid, Vec<kit_line::Model>> = HashMap::new();
    if !ids.is_empty() {
        for line in kit_line::Entity::find()
            .filter(kit_line::Column::ContactId.is_in(ids))
            .order_by_asc(kit_line::Column::Position)
            .all(db)
            .await?
        {
            lines.entry(line.contact_id).or_default().push(line);
        }
    }
    Ok(rows
        .into_iter()
        .map(|m| {
            let own = lines.remove(&m.id).unwrap_or_default();
            ContactView::new(m, own)
        })
        .collect())
}

/// A page of contacts in the actor's scope.
pub async fn list_contacts<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    filter: ContactFilter,
    after: Option<Uuid>,
    limit: u64,
) -> ServiceResult<Page<ContactView>> {
    use contact::Column as Col;
    let query = contact::Entity::find()
        .filter(Col::OrganisationId.eq(actor.organisation_id))
        .filter(Col::DeletedAt.is_null())
        .filter(actor.site_condition(Col::SiteId, Col::RecordedBy))
        .apply_if(after, |q, after| q.filter(Col::Id.gt(after)))
        .apply_if(filter.site_id, |q, site| q.filter(Col::SiteId.eq(site)))
        .apply_if(filter.person_id, |q, person| q.filter(Col::PersonId.eq(person)))
        .apply_if(filter.occurred_from, |q, from| q.filter(Col::OccurredAt.gte(from)))
        .apply_if(filter.occurred_to, |q, to| q.filter(Col::OccurredAt.lt(to)));
    let rows = query.order_by_asc(Col::Id).limit(limit + 1).all(db).await?;
    let (rows, next_after) = split(rows, limit, |m| m.id);
    Ok(Page { items: contact_views(db, rows).await?, next_after })
}

/// A contact in the actor's scope, deleted or not (a delete is idempotent).
pub async fn contact_row<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: Uuid,
) -> ServiceResult<contact::Model> {
    use contact::Column as Col;
    contact::Entity::find_by_id(id)
        .filter(Col::OrganisationId.eq(actor.organisation_id))
        .filter(actor.site_condition(Col::SiteId, Col::RecordedBy))
        .one(db)
        .await?
        .ok_or(ServiceError::NotFound("contact"))
}

/// A contact in the actor's scope, not deleted, with its kit lines.
pub async fn get_contact<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: Uuid,
) -> ServiceResult<ContactView> {
    let row = contact_row(db, actor, id).await?;
    if row.deleted_at.is_some() {
        return Err(ServiceError::NotFound("contact"));
    }
    contact_views(db, vec![row]).await?.pop().ok_or(ServiceError::NotFound("contact"))
}

/// A page of incidents in the actor's scope.
pub async fn list_incidents<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    filter: IncidentFilter,
    after: Option<Uuid>,
    limit: u64,
) -> ServiceResult<Page<IncidentView>> {
    use incident::Column as Col;
    let query = incident::Entity::find()
        .filter(Col::OrganisationId.eq(actor.organisation_id))
        .filter(Col::DeletedAt.is_null())
        .filter(actor.site_condition(Col::SiteId, Col::RecordedBy))
        .apply_if(after, |q, after| q.filter(Col::Id.gt(after)))
        .apply_if(filter.site_id, |q, site| q.filter(Col::SiteId.eq(site)))
        .apply_if(filter.occurred_from, |q, from| q.filter(Col::OccurredAt.gte(from)))
        .apply_if(filter.occurred_to, |q, to| q.filter(Col::OccurredAt.lt(to)));
    let rows = query.order_by_asc(Col::Id).limit(limit + 1).all(db).await?;
    let (rows, next_after) = split(rows, limit, |m| m.id);
    Ok(Page { items: rows.into_iter().map(IncidentView::from).collect(), next_after })
}

/// An incident in the actor's scope, deleted or not.
pub async fn incident_row<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: Uuid,
) -> ServiceResult<incident::Model> {
    use incident::Column as Col;
    incident::Entity::find_by_id(id)
        .filter(Col::OrganisationId.eq(actor.organisation_id))
        .filter(actor.site_condition(Col::SiteId, Col::RecordedBy))
        .one(db)
        .await?
        .ok_or(ServiceError::NotFound("incident"))
}

/// An incident in the actor's scope, not deleted.
pub async fn get_incident<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: Uuid,
) -> ServiceResult<IncidentView> {
    let row = incident_row(db, actor, id).await?;
    if row.deleted_at.is_some() {
        return Err(ServiceError::NotFound("incident"));
    }
    Ok(row.into())
}

/// A page of referrals in the actor's scope.
pub async fn list_referrals<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    filter: ReferralFilter,
    after: Option<Uuid>,
    limit: u64,
) -> ServiceResult<Page<ReferralView>> {
    use referral::Column as Col;
    let query = referral::Entity::find()
        .filter(Col::OrganisationId.eq(actor.organisation_id))
        .filter(Col::DeletedAt.is_null())
        .filter(actor.site_condition(Col::SiteId, Col::RecordedBy))
        .apply_if(after, |q, after| q.filter(Col::Id.gt(after)))
        .apply_if(filter.person_id, |q, person| q.filter(Col::PersonId.eq(person)))
        .apply_if(filter.status, |q, status| q.filter(Col::Status.eq(status)));
    let rows = query.order_by_asc(Col::Id).limit(limit + 1).all(db).await?;
    let (rows, next_after) = split(rows, limit, |m| m.id);
    Ok(Page { items: rows.into_iter().map(ReferralView::from).collect(), next_after })
}

/// A referral in the actor's scope, not deleted.
pub async fn referral_row<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: Uuid,
) -> ServiceResult<referral::Model> {
    use referral::Column as Col;
    referral::Entity::find_by_id(id)
        .filter(Col::OrganisationId.eq(actor.organisation_id))
        .filter(Col::DeletedAt.is_null())
        .filter(actor.site_condition(Col::SiteId, Col::RecordedBy))
        .one(db)
        .await?
        .ok_or(ServiceError::NotFound("referral"))
}

/// A referral in the actor's scope, not deleted.
pub async fn get_referral<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: Uuid,
) -> ServiceResult<ReferralView> {
    Ok(referral_row(db, actor, id).await?.into())
}

/// The steps of a referral in the actor's scope, in the order they
/// happened (`occurred_at`, then id): the order the status follows.
pub async fn list_steps<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    referral_id: Uuid,
) -> ServiceResult<Vec<ReferralStepView>> {
    referral_row(db, actor, referral_id).await?;
    Ok(referral_step::Entity::find()
        .filter(referral_step::Column::OrganisationId.eq(actor.organisation_id))
        .filter(referral_step::Column::ReferralId.eq(referral_id))
        .order_by_asc(referral_step::Column::OccurredAt)
        .order_by_asc(referral_step::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(ReferralStepView::from)
        .collect())
}

/// A step of a referral in the actor's scope.
pub async fn get_step<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    referral_id: Uuid,
    id: Uuid,
) -> ServiceResult<ReferralStepView> {
    referral_row(db, actor, referral_id).await?;
    referral_step::Entity::find_by_id(id)
        .filter(referral_step::Column::OrganisationId.eq(actor.organisation_id))
        .filter(referral_step::Column::ReferralId.eq(referral_id))
        .one(db)
        .await?
        .map(ReferralStepView::from)
        .ok_or(ServiceError::NotFound("referral step"))
}
