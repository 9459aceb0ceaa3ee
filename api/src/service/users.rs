//! Staff accounts. Managers handle workers and viewers; admins handle
//! everyone. Deactivating an account ends its sessions at once.

use std::collections::{BTreeSet, HashMap};

use chrono::Utc;
use outpost_entity::{site, user, user_site};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, Set, TransactionTrait,
};
use uuid::Uuid;

use super::{
    ServiceError, ServiceResult,
    audit::{self, AuditEntry},
    validate,
};
use crate::{
    caller::{Caller, RequestMeta},
    domain::{Role, parse_stored, stored_name},
    secrets::hash_password,
    session,
    state::AppState,
};

/// A user with the sites they work at.
#[derive(Debug, Clone)]
pub struct UserWithSites {
    /// The account.
    pub user: user::Model,
    /// Its role, parsed.
    pub role: Role,
    /// The sites, sorted.
    pub site_ids: Vec<Uuid>,
}

/// An account to create.
pub struct NewUser {
    /// Login email.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Initial password.
    pub password: String,
    /// Sites they work at.
    pub site_ids: Vec<Uuid>,
}

/// Changes to an account; `None` leaves a field as it is.
#[derive(Default)]
pub struct UserChanges {
    /// New display name.
    pub display_name: Option<String>,
    /// New role.
    pub role: Option<Role>,
    /// New password.
    pub password: Option<String>,
    /// The new full set of sites.
    pub site_ids: Option<Vec<Uuid>>,
}

/// Every account of the organisation, by display name.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    include_deactivated: bool,
) -> ServiceResult<Vec<UserWithSites>> {
    let mut query = user::Entity::find()
        .filter(user::Column::OrganisationId.eq(caller.organisation_id()))
        .order_by_asc(user::Column::DisplayName)
        .order_by_asc(user::Column::Id);
    if !include_deactivated {
        query = query.filter(user::Column::DeactivatedAt.is_null());
    }
    let users = query.all(&state.db).await?;
    let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
    let mut sites: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for link in user_site::Entity::find()
        .filter(user_site::Column::UserId.is_in(ids))
        .all(&state.db)
        .await?
    {
        sites.entry(link.user_id).or_default().push(link.site_id);
    }
    users
        .into_iter()
        .map(|user| {
            let site_ids = sites.remove(&user.id).unwrap_or_default();
            with_sites(user, site_ids)
        })
        .collect()
}

fn with_sites(user: user::Model, mut site_ids: Vec<Uuid>) -> ServiceResult<UserWithSites> {
    site_ids.sort();
    let role = parse_stored::<Role>(&user.role).map_err(ServiceError::Internal)?;
    Ok(UserWithSites { user, role, site_ids })
}

/// One account of the caller's organisation.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    id: Uuid,
) -> ServiceResult<UserWithSites> {
    let user = user::Entity::find_by_id(id)
        .filter(user::Column::OrganisationId.eq(organisation_id))
        .one(db)
        .await?
        .ok_or(ServiceError::NotFound("user"))?;
    let site_ids = user_site::Entity::find()
        .filter(user_site::Column::UserId.eq(id))
        .all(db)
        .await?
        .into_iter()
        .map(|l| l.site_id)
        .collect();
    with_sites(user, site_ids)
}

fn actor_role(caller: &Caller) -> ServiceResult<Role> {
    match caller {
        Caller::User(u) => Ok(u.role),
        Caller::Integrator(_) => Err(ServiceError::Forbidden {
            code: "forbidden",
            detail: "API keys cannot manage accounts".into(),
        }),
    }
}

fn may_manage(actor: Role, target: Role) -> ServiceResult<()> {
    if actor.may_manage(target) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden {
            code: "role_not_allowed",
            detail: format!("a {actor:?} cannot manage {target:?} accounts"),
        })
    }
}

/// Checks that every site exists (unarchived) in the organisation.
async fn check_sites<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    site_ids: &[Uuid],
) -> ServiceResult<Vec<Uuid>> {
    let unique: BTreeSet<Uuid> = site_ids.iter().copied().collect();
    let found = site::Entity::find()
        .filter(site::Column::OrganisationId.eq(organisation_id))
        .filter(site::Column::ArchivedAt.is_null())
        .filter(site::Column::Id.is_in(unique.iter().copied()))
        .count(db)
        .await?;
    if found as usize != unique.len() {
        return Err(ServiceError::invalid(
            "site_ids",
            "every site must be an active site of your organisation",
        ));
    }
    Ok(unique.into_iter().collect())
}

async fn set_sites<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    site_ids: &[Uuid],
) -> ServiceResult<()> {
    user_site::Entity::delete_many().filter(user_site::Column::UserId.eq(user_id)).exec(db).await?;
    if !site_ids.is_empty() {
        user_site::Entity::insert_many(site_ids.iter().map(|site_id| user_site::ActiveModel {
            user_id: Set(user_id),
            site_id: Set(*site_id),
        }))
        .exec(db)
        .await?;
    }
    Ok(())
}

/// Inserts an account row; callers validate the fields and hash the
/// password first.
pub(crate) async fn insert_row<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    email: String,
    display_name: String,
    role: Role,
    password_hash: String,
) -> Result<user::Model, sea_orm::DbErr> {
    let now = Utc::now();
    user::ActiveModel {
        id: Set(Uuid::now_v7()),
        organisation_id: Set(organisation_id),
        email: Set(email),
        display_name: Set(display_name),
        role: Set(stored_name(&role)),
        password_hash: Set(password_hash),
        deactivated_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
}

/// Creates an account.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    new: NewUser,
) -> ServiceResult<UserWithSites> {
    may_manage(actor_role(caller)?, new.role)?;
    let email = validate::email("email", &new.email)?;
    let display_name = validate::text("display_name", &new.display_name, 200)?;
    validate::password("password", &new.password)?;
    let password_hash = hash_password(new.password, state.config.password_hashing.clone()).await?;

    let txn = state.db.begin().await?;
    let site_ids = check_sites(&txn, caller.organisation_id(), &new.site_ids).await?;
    if user::Entity::find().filter(user::Column::Email.eq(&email)).one(&txn).await?.is_some() {
        // The same answer as the key gives a concurrent create, and the
        // same whichever organisation holds the address.
        return Err(ServiceError::Taken(crate::db::EMAIL_TAKEN));
    }
    let user =
        insert_row(&txn, caller.organisation_id(), email, display_name, new.role, password_hash)
            .await?;
    set_sites(&txn, user.id, &site_ids).await?;
    audit::record(
        &txn,
        caller,
        Some(&meta.request_id),
        AuditEntry::new("user.created", "user", user.id)
            .with_detail(serde_json::json!({ "role": new.role, "site_ids": site_ids })),
    )
    .await?;
    txn.commit().await?;
    with_sites(user, site_ids)
}

/// Edits an account. A role change takes effect on the user's next request.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    id: Uuid,
    changes: UserChanges,
) -> ServiceResult<UserWithSites> {
    let actor = actor_role(caller)?;
    let display_name =
        changes.display_name.map(|n| validate::text("display_name", &n, 200)).transpose()?;
    let password_hash = match changes.password {
        Some(password) => {
            validate::password("password", &password)?;
            Some(hash_password(password, state.config.password_hashing.clone()).await?)
        }
        None => None,
    };

    let txn = state.db.begin().await?;
    let current = get(&txn, caller.organisation_id(), id).await?;
    may_manage(actor, current.role)?;
    if let Some(role) = changes.role {
        may_manage(actor, role)?;
        if Some(id) == caller.user_id() && role != current.role {
            return Err(ServiceError::Forbidden {
                code: "own_role",
                detail: "you cannot change your own role".into(),
            });
        }
    }
    let site_ids = match &changes.site_ids {
        Some(ids) => Some(check_sites(&txn, caller.organisation_id(), ids).await?),
        None => None,
    };
    let mut active = current.user.clone().into_active_model();
    if let Some(name) = display_name {
        active.display_name = Set(name);
    }
    if let Some(role) = changes.role {
        active.role = Set(stored_name(&role));
    }
    let password_changed = password_hash.is_some();
    if let Some(hash) = password_hash {
        active.password_hash = Set(hash);
    }
    active.updated_at = Set(Utc::now());
    let user = active.update(&txn).await?;
    if let Some(ids) = &site_ids {
        set_sites(&txn, id, ids).await?;
    }
    audit::record(
        &txn,
        caller,
        Some(&meta.request_id),
        AuditEntry::new("user.updated", "user", id).with_detail(serde_json::json!({
            "role": changes.role,
            "site_ids": site_ids,
            "password_changed": password_changed,
        })),
    )
    .await?;
    if let Some(ids) = &site_ids {
        // Last before commit: it takes the organisation's feed counter.
        let role = changes.role.unwrap_or(current.role);
        crate::sync::scope::sites_changed(
            &txn,
            caller.organisation_id(),
            id,
            role,
            &current.site_ids,
            ids,
        )
        .await?;
    }
    txn.commit().await?;
    if password_changed && Some(id) != caller.user_id() {
        // Someone else set the password (a reset): sessions opened with the
        // old one end.
        session::revoke_user(state, id).await?;
    } else if changes.role.is_some() {
        session::refresh_user(state, id).await?;
    }
    with_sites(user, site_ids.unwrap_or(current.site_ids))
}

/// Deactivates an account (idempotent) and ends its sessions.
pub async fn deactivate(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    id: Uuid,
) -> ServiceResult<UserWithSites> {
    let actor = actor_role(caller)?;
    if Some(id) == caller.user_id() {
        return Err(ServiceError::Forbidden {
            code: "own_account",
            detail: "you cannot deactivate yourself".into(),
        });
    }
    let txn = state.db.begin().await?;
    let current = get(&txn, caller.organisation_id(), id).await?;
    may_manage(actor, current.role)?;
    if current.user.deactivated_at.is_some() {
        return Ok(current);
    }
    let mut active = current.user.clone().into_active_model();
    let now = Utc::now();
    active.deactivated_at = Set(Some(now));
    active.updated_at = Set(now);
    let user = active.update(&txn).await?;
    audit::record(
        &txn,
        caller,
        Some(&meta.request_id),
        AuditEntry::new("user.deactivated", "user", id),
    )
    .await?;
    txn.commit().await?;
    session::revoke_user(state, id).await?;
    with_sites(user, current.site_ids)
}
