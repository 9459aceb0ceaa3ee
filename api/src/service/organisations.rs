//! Organisations: read and rename your own; create one with its first admin
//! (the operator's `outpost admin create-org`, and the demo).

use chrono::Utc;
use outpost_entity::{organisation, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set, TransactionTrait,
};
use uuid::Uuid;

use super::{
    ServiceError, ServiceResult,
    audit::{self, AuditEntry},
    reference, users, validate,
};
use crate::{
    caller::{Caller, RequestMeta},
    config::PasswordHashing,
    domain::Role,
    secrets::hash_password,
    state::AppState,
};

/// The caller's own organisation.
pub async fn get(state: &AppState, caller: &Caller) -> ServiceResult<organisation::Model> {
    organisation::Entity::find_by_id(caller.organisation_id())
        .one(&state.db)
        .await?
        .ok_or(ServiceError::NotFound("organisation"))
}

/// Renames the caller's organisation.
pub async fn rename(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    name: &str,
) -> ServiceResult<organisation::Model> {
    let name = validate::text("name", name, 200)?;
    let txn = state.db.begin().await?;
    let org = organisation::Entity::find_by_id(caller.organisation_id())
        .one(&txn)
        .await?
        .ok_or(ServiceError::NotFound("organisation"))?;
    let mut active = org.into_active_model();
    active.name = Set(name.clone());
    active.updated_at = Set(Utc::now());
    let org = active.update(&txn).await?;
    audit::record(
        &txn,
        caller,
        Some(&meta.request_id),
        AuditEntry::new("organisation.renamed", "organisation", org.id)
            .with_detail(serde_json::json!({ "name": name })),
    )
    .await?;
    txn.commit().await?;
    Ok(org)
}

/// What a new organisation starts with.
pub struct NewOrganisation<'a> {
    /// Display name.
    pub name: &'a str,
    /// Unique slug.
    pub slug: &'a str,
    /// The first admin's email.
    pub admin_email: &'a str,
    /// The first admin's display name.
    pub admin_name: &'a str,
    /// The first admin's password.
    pub admin_password: &'a str,
}

/// Creates an organisation with its first admin and the default reference
/// data, in one transaction.
pub async fn create_with_admin(
    db: &sea_orm::DatabaseConnection,
    cost: &PasswordHashing,
    new: NewOrganisation<'_>,
) -> ServiceResult<(organisation::Model, user::Model)> {
    let name = validate::text("name", new.name, 200)?;
    let slug = validate::slug("slug", new.slug)?;
    let email = validate::email("admin_email", new.admin_email)?;
    let admin_name = validate::text("admin_name", new.admin_name, 200)?;
    validate::password("admin_password", new.admin_password)?;
    let password_hash = hash_password(new.admin_password.to_owned(), cost.clone()).await?;

    let txn = db.begin().await?;
    if organisation::Entity::find()
        .filter(organisation::Column::Slug.eq(&slug))
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(ServiceError::Conflict {
            code: "slug_taken",
            detail: format!("an organisation `{slug}` exists"),
        });
    }
    if user::Entity::find().filter(user::Column::Email.eq(&email)).one(&txn).await?.is_some() {
        // The same answer as the key gives a concurrent create, and the
        // same whichever organisation holds the address.
        return Err(ServiceError::Taken(crate::db::EMAIL_TAKEN));
    }
    let now = Utc::now();
    let org = organisation::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name),
        slug: Set(slug),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let admin =
        users::insert_row(&txn, org.id, email, admin_name, Role::Admin, password_hash).await?;
    audit::record_raw(
        &txn,
        org.id,
        None,
        None,
        None,
        AuditEntry::new("organisation.created", "organisation", org.id)
            .with_detail(serde_json::json!({ "first_admin": admin.id })),
    )
    .await?;
    // Last before commit: it appends to the change feed.
    reference::defaults::seed_defaults(&txn, org.id).await?;
    txn.commit().await?;
    Ok((org, admin))
}
