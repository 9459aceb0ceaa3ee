//! The kit catalogue: what workers hand out, by code. A pre-made pack lists
//! the ordinary items it expands into, so reports can count what was really
//! handed out. Codes never change once created: kit lines store them.

use std::collections::HashSet;

use chrono::Utc;
use outpost_entity::kit_item;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set, TransactionTrait,
};
use uuid::Uuid;

use super::{code, code_taken, commit_change, insert_error};
use crate::records::reference::{
    kit_item::{PackComponent, components_of},
    vocab::KitCategory,
};
use crate::{
    caller::{Caller, RequestMeta},
    domain::stored_name,
    service::{ServiceError, ServiceResult, validate},
    state::AppState,
    sync::EntityKind,
};

/// The most components a pack may list.
const MAX_COMPONENTS: usize = 50;
/// The largest quantity of one component in a pack.
const MAX_QUANTITY: i32 = 1000;

/// A kit item to create.
pub struct NewKitItem {
    /// Unique code within the organisation.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Report category.
    pub category: KitCategory,
    /// How it is counted.
    pub unit: String,
    /// What a pack expands into; empty for an ordinary item.
    pub components: Vec<PackComponent>,
}

/// Changes to a kit item; `None` leaves a field as it is.
#[derive(Default)]
pub struct KitItemChanges {
    /// New name.
    pub name: Option<String>,
    /// New category.
    pub category: Option<KitCategory>,
    /// New unit.
    pub unit: Option<String>,
    /// New components (`Some(vec![])` makes it an ordinary item).
    pub components: Option<Vec<PackComponent>>,
}

/// The organisation's kit items, by name; archived ones only when asked.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    include_archived: bool,
) -> ServiceResult<Vec<kit_item::Model>> {
    let mut query = kit_item::Entity::find()
        .filter(kit_item::Column::OrganisationId.eq(organisation_id))
        .order_by_asc(kit_item::Column::Name)
        .order_by_asc(kit_item::Column::Id);
    if !include_archived {
        query = query.filter(kit_item::Column::ArchivedAt.is_null());
    }
    Ok(query.all(db).await?)
}

/// One kit item of the caller's organisation.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: Uuid,
) -> ServiceResult<kit_item::Model> {
    kit_item::Entity::find_by_id(id)
        .filter(kit_item::Column::OrganisationId.eq(caller.organisation_id()))
        .one(db)
        .await?
        .ok_or(ServiceError::NotFound("kit item"))
}

fn unit(value: &str) -> ServiceResult<String> {
    validate::text("unit", value, 48)
}

/// Checks a pack's components against the organisation's active items:
/// each must exist, be an ordinary item (packs do not nest), appear once,
/// and not be the pack itself.
fn check_components(
    own_code: &str,
    components: Vec<PackComponent>,
    items: &[kit_item::Model],
) -> ServiceResult<Vec<PackComponent>> {
    if components.len() > MAX_COMPONENTS {
        return Err(ServiceError::invalid(
            "components",
            format!("a pack holds at most {MAX_COMPONENTS} components"),
        ));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(components.len());
    for (i, component) in components.into_iter().enumerate() {
        let field = format!("components[{i}].code");
        let code = component.code.trim().to_lowercase();
        if code == own_code {
            return Err(ServiceError::invalid(&field, "a pack cannot contain itself"));
        }
        let Some(item) = items.iter().find(|it| it.code == code && it.archived_at.is_none()) else {
            return Err(ServiceError::invalid(&field, format!("no active kit item `{code}`")));
        };
        if !components_of(item).is_empty() {
            return Err(ServiceError::invalid(
                &field,
                format!("`{code}` is a pack; packs do not nest"),
            ));
        }
        if !seen.insert(code.clone()) {
            return Err(ServiceError::invalid(&field, format!("`{code}` is listed twice")));
        }
        if !(1..=MAX_QUANTITY).contains(&component.quantity) {
            return Err(ServiceError::invalid(
                &format!("components[{i}].quantity"),
                format!("must be between 1 and {MAX_QUANTITY}"),
            ));
        }
        out.push(PackComponent { code, quantity: component.quantity });
    }
    Ok(out)
}

/// The active packs of `items` that contain `code`.
fn packs_containing<'a>(
    code: &'a str,
    items: &'a [kit_item::Model],
) -> impl Iterator<Item = &'a kit_item::Model> {
    items.iter().filter(move |it| {
        it.archived_at.is_none() && components_of(it).iter().any(|c| c.code == code)
    })
}

fn components_json(components: &[PackComponent]) -> String {
    serde_json::to_string(components).unwrap_or_else(|_| "[]".into())
}

/// Creates a kit item (version 1).
pub async fn create(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    new: NewKitItem,
) -> ServiceResult<kit_item::Model> {
    let code = code("code", &new.code)?;
    let name = validate::text("name", &new.name, 200)?;
    let unit = unit(&new.unit)?;
    let org = caller.organisation_id();
    let txn = state.db.begin().await?;
    let items = list(&txn, org, true).await?;
    if items.iter().any(|it| it.code == code) {
        return Err(code_taken(&code));
    }
    let components = check_components(&code, new.components, &items)?;
    let now = Utc::now();
    let item = kit_item::ActiveModel {
        id: Set(Uuid::now_v7()),
        organisation_id: Set(org),
        code: Set(code.clone()),
        name: Set(name),
        category: Set(stored_name(&new.category)),
        unit: Set(unit),
        components: Set(components_json(&components)),
        version: Set(1),
        archived_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(|e| insert_error(e, &code))?;
    commit_change(
        txn,
        caller,
        meta,
        "kit_item.created",
        EntityKind::KitItem,
        item.id,
        item.version,
    )
    .await?;
    Ok(item)
}

/// Edits a kit item; its version goes up by one.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    id: Uuid,
    changes: KitItemChanges,
) -> ServiceResult<kit_item::Model> {
    let name = changes.name.map(|n| validate::text("name", &n, 200)).transpose()?;
    let unit = changes.unit.map(|u| unit(&u)).transpose()?;
    let txn = state.db.begin().await?;
    let item = get(&txn, caller, id).await?;
    let components = match changes.components {
        Some(components) => {
            let items = list(&txn, caller.organisation_id(), true).await?;
            let components = check_components(&item.code, components, &items)?;
            if !components.is_empty() && packs_containing(&item.code, &items).next().is_some() {
                return Err(ServiceError::invalid(
                    "components",
                    "this item is inside a pack, so it cannot become a pack itself",
                ));
            }
            Some(components)
        }
        None => None,
    };
    let version = item.version + 1;
    let mut active = item.into_active_model();
    if let Some(name) = name {
        active.name = Set(name);
    }
    if let Some(category) = changes.category {
        active.category = Set(stored_name(&category));
    }
    if let Some(unit) = unit {
        active.unit = Set(unit);
    }
    if let Some(components) = components {
        active.components = Set(components_json(&components));
    }
    active.version = Set(version);
    active.updated_at = Set(Utc::now());
    let item = active.update(&txn).await?;
    commit_change(
        txn,
        caller,
        meta,
        "kit_item.updated",
        EntityKind::KitItem,
        item.id,
        item.version,
    )
    .await?;
    Ok(item)
}

/// Archives a kit item (idempotent): it leaves lists and can no longer be
/// handed out, but old records keep its code. An item inside an active pack
/// cannot be archived before the pack.
pub async fn archive(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    id: Uuid,
) -> ServiceResult<kit_item::Model> {
    let txn = state.db.begin().await?;
    let item = get(&txn, caller, id).await?;
    if item.archived_at.is_some() {
        return Ok(item);
    }
    let items = list(&txn, caller.organisation_id(), false).await?;
    if let Some(pack) = packs_containing(&item.code, &items).next() {
        return Err(ServiceError::Conflict {
            code: "item_in_pack",
            detail: format!("`{}` is a component of the pack `{}`", item.code, pack.code),
        });
    }
    let version = item.version + 1;
    let mut active = item.into_active_model();
    let now = Utc::now();
    active.archived_at = Set(Some(now));
    active.version = Set(version);
    active.updated_at = Set(now);
    let item = active.update(&txn).await?;
    commit_change(
        txn,
        caller,
        meta,
        "kit_item.archived",
        EntityKind::KitItem,
        item.id,
        item.version,
    )
    .await?;
    Ok(item)
}
