//! The partner service directory: where rapid referrals go, with the
//! contact route and opening hours a worker needs in the field.

use chrono::Utc;
use outpost_entity::partner_service;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set, TransactionTrait,
};
use uuid::Uuid;

use super::commit_change;
use crate::records::reference::vocab::ServiceType;
use crate::{
    caller::{Caller, RequestMeta},
    domain::stored_name,
    service::{ServiceError, ServiceResult, validate},
    state::AppState,
    sync::EntityKind,
};

/// A partner service to create.
pub struct NewPartnerService {
    /// Display name.
    pub name: String,
    /// What kind of service it is.
    pub service_type: ServiceType,
    /// How to refer (phone, secure email, form).
    pub contact_route: Option<String>,
    /// When it is open.
    pub opening_hours: Option<String>,
    /// The broad area it serves.
    pub area: Option<String>,
}

/// Changes to a partner service; `None` leaves a field as it is and
/// `Some(None)` clears an optional one.
#[derive(Default)]
pub struct PartnerServiceChanges {
    /// New name.
    pub name: Option<String>,
    /// New type.
    pub service_type: Option<ServiceType>,
    /// New contact route.
    pub contact_route: Option<Option<String>>,
    /// New opening hours.
    pub opening_hours: Option<Option<String>>,
    /// New area.
    pub area: Option<Option<String>>,
}

/// The organisation's partner services, by name; archived ones only when
/// asked.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    include_archived: bool,
) -> ServiceResult<Vec<partner_service::Model>> {
    let mut query = partner_service::Entity::find()
        .filter(partner_service::Column::OrganisationId.eq(organisation_id))
        .order_by_asc(partner_service::Column::Name)
        .order_by_asc(partner_service::Column::Id);
    if !include_archived {
        query = query.filter(partner_service::Column::ArchivedAt.is_null());
    }
    Ok(query.all(db).await?)
}

/// One partner service of the caller's organisation.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: Uuid,
) -> ServiceResult<partner_service::Model> {
    partner_service::Entity::find_by_id(id)
        .filter(partner_service::Column::OrganisationId.eq(caller.organisation_id()))
        .one(db)
        .await?
        .ok_or(ServiceError::NotFound("partner service"))
}

fn optional(field: &str, value: Option<String>, max: usize) -> ServiceResult<Option<String>> {
    value.map(|v| validate::text(field, &v, max)).transpose()
}

fn contact_route(value: Option<String>) -> ServiceResult<Option<String>> {
    optional("contact_route", value, 1000)
}

fn opening_hours(value: Option<String>) -> ServiceResult<Option<String>> {
    optional("opening_hours", value, 500)
}

fn area(value: Option<String>) -> ServiceResult<Option<String>> {
    optional("area", value, 200)
}

/// Creates a partner service (version 1).
pub async fn create(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    new: NewPartnerService,
) -> ServiceResult<partner_service::Model> {
    let name = validate::text("name", &new.name, 200)?;
    let contact_route = contact_route(new.contact_route)?;
    let opening_hours = opening_hours(new.opening_hours)?;
    let area = area(new.area)?;
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let service = partner_service::ActiveModel {
        id: Set(Uuid::now_v7()),
        organisation_id: Set(caller.organisation_id()),
        name: Set(name),
        service_type: Set(stored_name(&new.service_type)),
        contact_route: Set(contact_route),
        opening_hours: Set(opening_hours),
        area: Set(area),
        linked_organisation_id: Set(None),
        version: Set(1),
        archived_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    commit_change(
        txn,
        caller,
        meta,
        "partner_service.created",
        EntityKind::PartnerService,
        service.id,
        service.version,
    )
    .await?;
    Ok(service)
}

/// Edits a partner service; its version goes up by one.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    id: Uuid,
    changes: PartnerServiceChanges,
) -> ServiceResult<partner_service::Model> {
    let name = changes.name.map(|n| validate::text("name", &n, 200)).transpose()?;
    let new_contact_route = changes.contact_route.map(contact_route).transpose()?;
    let new_opening_hours = changes.opening_hours.map(opening_hours).transpose()?;
    let new_area = changes.area.map(area).transpose()?;
    let txn = state.db.begin().await?;
    let service = get(&txn, caller, id).await?;
    let version = service.version + 1;
    let mut active = service.into_active_model();
    if let Some(name) = name {
        active.name = Set(name);
    }
    if let Some(service_type) = changes.service_type {
        active.service_type = Set(stored_name(&service_type));
    }
    if let Some(value) = new_contact_route {
        active.contact_route = Set(value);
    }
    if let Some(value) = new_opening_hours {
        active.opening_hours = Set(value);
    }
    if let Some(value) = new_area {
        active.area = Set(value);
    }
    active.version = Set(version);
    active.updated_at = Set(Utc::now());
    let service = active.update(&txn).await?;
    commit_change(
        txn,
        caller,
        meta,
        "partner_service.updated",
        EntityKind::PartnerService,
        service.id,
        service.version,
    )
    .await?;
    Ok(service)
}

/// Archives a partner service (idempotent): new referrals can no longer go
/// to it; old ones keep pointing at it.
pub async fn archive(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    id: Uuid,
) -> ServiceResult<partner_service::Model> {
    let txn = state.db.begin().await?;
    let service = get(&txn, caller, id).await?;
    if service.archived_at.is_some() {
        return Ok(service);
    }
    let version = service.version + 1;
    let mut active = service.into_active_model();
    let now = Utc::now();
    active.archived_at = Set(Some(now));
    active.version = Set(version);
    active.updated_at = Set(now);
    let service = active.update(&txn).await?;
    commit_change(
        txn,
        caller,
        meta,
        "partner_service.archived",
        EntityKind::PartnerService,
        service.id,
        service.version,
    )
    .await?;
    Ok(service)
}
