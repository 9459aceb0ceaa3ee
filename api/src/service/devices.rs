//! Devices: phones and tablets registered to a user at login. Revoking one
//! (a lost phone) ends every session on it at once and blocks new logins.

use chrono::Utc;
use outpost_entity::device;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use uuid::Uuid;

use super::{
    ServiceError, ServiceResult,
    audit::{self, AuditEntry},
    validate,
};
use crate::{
    caller::{Caller, RequestMeta},
    domain::Permission,
    session,
    state::AppState,
};

/// What a device says about itself at login.
#[derive(Clone)]
pub struct DeviceRegistration {
    /// The device's own UUID (v7, generated on the device).
    pub id: Uuid,
    /// A name people recognise ("Outreach phone 3").
    pub name: String,
    /// The platform, e.g. "android".
    pub platform: Option<String>,
}

/// Registers `registration` to `user_id` or finds it already registered.
/// A device of another user, or another organisation, is refused; a revoked
/// device cannot log in again.
pub async fn register_for_login(
    state: &AppState,
    organisation_id: Uuid,
    user_id: Uuid,
    registration: DeviceRegistration,
) -> ServiceResult<device::Model> {
    match register_once(state, organisation_id, user_id, registration.clone()).await {
        // A concurrent login registered the same new device first: run
        // again, which finds it (the same user's: fine; another's: 409).
        Err(ServiceError::Db(err))
            if matches!(err.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) =>
        {
            register_once(state, organisation_id, user_id, registration).await
        }
        other => other,
    }
}

async fn register_once(
    state: &AppState,
    organisation_id: Uuid,
    user_id: Uuid,
    registration: DeviceRegistration,
) -> ServiceResult<device::Model> {
    let name = validate::text("device.name", &registration.name, 200)?;
    let platform =
        registration.platform.map(|p| validate::text("device.platform", &p, 64)).transpose()?;
    let txn = state.db.begin().await?;
    let now = Utc::now();
    let device = match device::Entity::find_by_id(registration.id).one(&txn).await? {
        Some(existing) => {
            if existing.organisation_id != organisation_id || existing.user_id != user_id {
                return Err(ServiceError::Conflict {
                    code: "device_registered_to_another_user",
                    detail: "this device id is registered to another account; an admin can revoke it, then use a new device id".into(),
                });
            }
            if existing.revoked_at.is_some() {
                return Err(ServiceError::Forbidden {
                    code: "device_revoked",
                    detail: "this device has been revoked; it cannot sign in again".into(),
                });
            }
            let mut active = existing.into_active_model();
            active.name = Set(name);
            active.platform = Set(platform);
            active.last_seen_at = Set(now);
            active.update(&txn).await?
        }
        None => {
            device::ActiveModel {
                id: Set(registration.id),
                organisation_id: Set(organisation_id),
                user_id: Set(user_id),
                name: Set(name),
                platform: Set(platform),
                revoked_at: Set(None),
                last_seen_at: Set(now),
                created_at: Set(now),
                stock_location_id: Set(None),
            }
            .insert(&txn)
            .await?
        }
    };
    txn.commit().await?;
    Ok(device)
}

/// Devices the caller may see: all of the organisation's for those who may
/// read devices, otherwise their own.
pub async fn list(state: &AppState, caller: &Caller) -> ServiceResult<Vec<device::Model>> {
    let mut query = device::Entity::find()
        .filter(device::Column::OrganisationId.eq(caller.organisation_id()))
        .order_by_desc(device::Column::LastSeenAt)
        .order_by_asc(device::Column::Id);
    if !caller.may(Permission::ReadDevices) {
        query = query.filter(device::Column::UserId.eq(caller.user_id()));
    }
    Ok(query.all(&state.db).await?)
}

/// One device the caller may see.
pub async fn get<C: sea_orm::ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: Uuid,
) -> ServiceResult<device::Model> {
    let device = device::Entity::find_by_id(id)
        .filter(device::Column::OrganisationId.eq(caller.organisation_id()))
        .one(db)
        .await?
        .ok_or(ServiceError::NotFound("device"))?;
    if !caller.may(Permission::ReadDevices) && Some(device.user_id) != caller.user_id() {
        // Someone else's device is as good as absent.
        return Err(ServiceError::NotFound("device"));
    }
    Ok(device)
}

/// Revokes a device (idempotent) and every session on it. Anyone may revoke
/// their own device; managers and admins any of the organisation's.
pub async fn revoke(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    id: Uuid,
) -> ServiceResult<device::Model> {
    let txn = state.db.begin().await?;
    let device = get(&txn, caller, id).await?;
    let own = Some(device.user_id) == caller.user_id();
    if !own && !caller.may(Permission::ManageDevices) {
        return Err(ServiceError::Forbidden {
            code: "forbidden",
            detail: "you may revoke only your own devices".into(),
        });
    }
    let device = if device.revoked_at.is_none() {
        let mut active = device.into_active_model();
        active.revoked_at = Set(Some(Utc::now()));
        let device = active.update(&txn).await?;
        audit::record(
            &txn,
            caller,
            Some(&meta.request_id),
            AuditEntry::new("device.revoked", "device", id),
        )
        .await?;
        device
    } else {
        device
    };
    txn.commit().await?;
    // Also on a repeat: a previous revocation may have failed half-way.
    session::revoke_device(state, id).await?;
    Ok(device)
}

/// Sets a device's bag (`None`: none). The caller's own device, or any for
/// those who manage devices; the location must be active, and one the
/// device's user may hand kit out of (at their sites, unless they see
/// every site).
pub async fn set_stock_location(
    state: &AppState,
    caller: &Caller,
    actor: &crate::caller::Actor,
    meta: &RequestMeta,
    id: Uuid,
    location: Option<Uuid>,
) -> ServiceResult<device::Model> {
    use outpost_entity::stock_location;
    let txn = state.db.begin().await?;
    let device = get(&txn, caller, id).await?;
    if Some(device.user_id) != caller.user_id() && !caller.may(Permission::ManageDevices) {
        return Err(ServiceError::Forbidden {
            code: "forbidden",
            detail: "you may set only your own devices' bags".into(),
        });
    }
    if let Some(location) = location {
        // The device's user, as a push from it will write.
        let owner = super::users::get(&txn, caller.organisation_id(), device.user_id).await?;
        let owner = crate::caller::Actor {
            organisation_id: caller.organisation_id(),
            user_id: Some(owner.user.id),
            device_id: Some(device.id),
            api_key_id: None,
            role: Some(owner.role),
            site_ids: owner.site_ids,
        };
        let found = stock_location::Entity::find_by_id(location)
            .filter(stock_location::Column::OrganisationId.eq(caller.organisation_id()))
            .filter(stock_location::Column::ArchivedAt.is_null())
            .one(&txn)
            .await?
            .filter(|l| {
                actor.may_see(Some(l.site_id), None) && owner.may_see(Some(l.site_id), None)
            });
        if found.is_none() {
            return Err(ServiceError::invalid(
                "stock_location_id",
                "no such active stock location at your sites",
            ));
        }
    }
    let mut active = device.into_active_model();
    active.stock_location_id = Set(location);
    let device = active.update(&txn).await?;
    audit::record(
        &txn,
        caller,
        Some(&meta.request_id),
        AuditEntry::new("device.stock_location_set", "device", id),
    )
    .await?;
    txn.commit().await?;
    Ok(device)
}
