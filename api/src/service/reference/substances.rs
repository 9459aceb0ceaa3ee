//! Substances: a coded, extensible list with the street names ("Spice",
//! "Mamba", "pound shop brown") mapped onto codes, so what workers record can
//! be counted. A name resolves to one substance only: an alias may not repeat
//! another active substance's alias or code, ignoring case.

use std::collections::HashSet;

use chrono::Utc;
use outpost_entity::{substance, substance_name};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, Set, TransactionTrait,
};
use uuid::Uuid;

use super::{code, code_taken, commit_change, insert_error};
use crate::records::reference::{
    substance::{aliases_of, name_key},
    vocab::SubstanceCategory,
};
use crate::{
    caller::{Caller, RequestMeta},
    domain::stored_name,
    service::{ServiceError, ServiceResult, validate},
    state::AppState,
    sync::EntityKind,
};

/// The longest street name.
const ALIAS_MAX: usize = 60;
/// The most street names one substance may have.
const MAX_ALIASES: usize = 100;

/// A substance to create.
pub struct NewSubstance {
    /// Unique code within the organisation.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Pharmacological group.
    pub category: SubstanceCategory,
    /// Street names.
    pub aliases: Vec<String>,
}

/// Changes to a substance; `None` leaves a field as it is.
#[derive(Default)]
pub struct SubstanceChanges {
    /// New name.
    pub name: Option<String>,
    /// New category.
    pub category: Option<SubstanceCategory>,
    /// The new, whole list of street names.
    pub aliases: Option<Vec<String>>,
}

/// Makes `code` and `aliases` the names `substance_id` answers to in the
/// `substance_names` key, replacing what it answered to before. A name
/// another active substance holds fails on the key (409 `alias_taken`
/// through `db::UNIQUE_KEYS`), even when a concurrent request passed the
/// same check as this one.
pub(crate) async fn claim_names<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    substance_id: Uuid,
    code: &str,
    aliases: &[String],
) -> Result<(), DbErr> {
    release_names(db, substance_id).await?;
    let mut keys: Vec<String> =
        std::iter::once(code).chain(aliases.iter().map(String::as_str)).map(name_key).collect();
    keys.sort();
    keys.dedup();
    let rows = keys.into_iter().map(|name_key| substance_name::ActiveModel {
        organisation_id: Set(organisation_id),
        name_key: Set(name_key),
        substance_id: Set(substance_id),
    });
    substance_name::Entity::insert_many(rows).exec_without_returning(db).await?;
    Ok(())
}

/// Frees the names `substance_id` answered to (it was archived).
async fn release_names<C: ConnectionTrait>(db: &C, substance_id: Uuid) -> Result<(), DbErr> {
    substance_name::Entity::delete_many()
        .filter(substance_name::Column::SubstanceId.eq(substance_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The organisation's substances, by name; archived ones only when asked.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    include_archived: bool,
) -> ServiceResult<Vec<substance::Model>> {
    let mut query = substance::Entity::find()
        .filter(substance::Column::OrganisationId.eq(organisation_id))
        .order_by_asc(substance::Column::Name)
        .order_by_asc(substance::Column::Id);
    if !include_archived {
        query = query.filter(substance::Column::ArchivedAt.is_null());
    }
    Ok(query.all(db).await?)
}

/// One substance of the caller's organisation.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: Uuid,
) -> ServiceResult<substance::Model> {
    substance::Entity::find_by_id(id)
        .filter(substance::Column::OrganisationId.eq(caller.organisation_id()))
        .one(db)
        .await?
        .ok_or(ServiceError::NotFound("substance"))
}

/// Trims and checks each alias; a name repeated in the list is an error.
fn clean_aliases(aliases: Vec<String>) -> ServiceResult<Vec<String>> {
    if aliases.len() > MAX_ALIASES {
        return Err(ServiceError::invalid(
            "aliases",
            format!("at most {MAX_ALIASES} street names"),
        ));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(aliases.len());
    for (i, alias) in aliases.iter().enumerate() {
        let field = format!("aliases[{i}]");
        let alias = validate::text(&field, alias, ALIAS_MAX)?;
        if !seen.insert(name_key(&alias)) {
            return Err(ServiceError::invalid(&field, format!("`{alias}` is listed twice")));
        }
        out.push(alias);
    }
    Ok(out)
}

/// Refuses aliases another active substance (other than `own_id`) already
/// answers to, by alias or code.
fn check_aliases_free(
    aliases: &[String],
    own_id: Option<Uuid>,
    others: &[substance::Model],
) -> ServiceResult<()> {
    for other in others.iter().filter(|s| Some(s.id) != own_id && s.archived_at.is_none()) {
        let mut names: HashSet<String> = aliases_of(other).iter().map(|a| name_key(a)).collect();
        names.insert(name_key(&other.code));
        if let Some(alias) = aliases.iter().find(|a| names.contains(&name_key(a))) {
            return Err(ServiceError::ConflictOn {
                code: "alias_taken",
                field: "aliases",
                detail: format!("`{alias}` already names the substance `{}`", other.code),
            });
        }
    }
    Ok(())
}

/// Creates a substance (version 1).
pub async fn create(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    new: NewSubstance,
) -> ServiceResult<substance::Model> {
    let code = code("code", &new.code)?;
    let name = validate::text("name", &new.name, 200)?;
    let aliases = clean_aliases(new.aliases)?;
    let org = caller.organisation_id();
    let txn = state.db.begin().await?;
    let existing = list(&txn, org, true).await?;
    if existing.iter().any(|s| s.code == code) {
        return Err(code_taken(&code));
    }
    // The new code must not be a street name of another substance either.
    if let Some(other) = existing
        .iter()
        .filter(|s| s.archived_at.is_none())
        .find(|s| aliases_of(s).iter().any(|a| name_key(a) == code))
    {
        return Err(ServiceError::ConflictOn {
            code: "code_taken",
            field: "code",
            detail: format!("`{code}` is a street name of the substance `{}`", other.code),
        });
    }
    check_aliases_free(&aliases, None, &existing)?;
    let now = Utc::now();
    let substance = substance::ActiveModel {
        id: Set(Uuid::now_v7()),
        organisation_id: Set(org),
        code: Set(code.clone()),
        name: Set(name),
        category: Set(stored_name(&new.category)),
        aliases: Set(serde_json::to_string(&aliases).unwrap_or_else(|_| "[]".into())),
        version: Set(1),
        archived_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(|e| insert_error(e, &code))?;
    claim_names(&txn, org, substance.id, &substance.code, &aliases).await?;
    commit_change(
        txn,
        caller,
        meta,
        "substance.created",
        EntityKind::Substance,
        substance.id,
        substance.version,
    )
    .await?;
    Ok(substance)
}

/// Edits a substance; its version goes up by one.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    id: Uuid,
    changes: SubstanceChanges,
) -> ServiceResult<substance::Model> {
    let name = changes.name.map(|n| validate::text("name", &n, 200)).transpose()?;
    let aliases = changes.aliases.map(clean_aliases).transpose()?;
    let txn = state.db.begin().await?;
    let substance = get(&txn, caller, id).await?;
    if let Some(aliases) = &aliases {
        let existing = list(&txn, caller.organisation_id(), false).await?;
        check_aliases_free(aliases, Some(substance.id), &existing)?;
    }
    let version = substance.version + 1;
    let mut active = substance.into_active_model();
    if let Some(name) = name {
        active.name = Set(name);
    }
    if let Some(category) = changes.category {
        active.category = Set(stored_name(&category));
    }
    if let Some(aliases) = &aliases {
        active.aliases = Set(serde_json::to_string(aliases).unwrap_or_else(|_| "[]".into()));
    }
    active.version = Set(version);
    active.updated_at = Set(Utc::now());
    let substance = active.update(&txn).await?;
    if let Some(aliases) = &aliases
        && substance.archived_at.is_none()
    {
        claim_names(&txn, substance.organisation_id, substance.id, &substance.code, aliases)
            .await?;
    }
    commit_change(
        txn,
        caller,
        meta,
        "substance.updated",
        EntityKind::Substance,
        substance.id,
        substance.version,
    )
    .await?;
    Ok(substance)
}

/// Archives a substance (idempotent): its code and street names stop
/// resolving for new records; old records keep the code.
pub async fn archive(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    id: Uuid,
) -> ServiceResult<substance::Model> {
    let txn = state.db.begin().await?;
    let substance = get(&txn, caller, id).await?;
    if substance.archived_at.is_some() {
        return Ok(substance);
    }
    let version = substance.version + 1;
    let mut active = substance.into_active_model();
    let now = Utc::now();
    active.archived_at = Set(Some(now));
    active.version = Set(version);
    active.updated_at = Set(now);
    let substance = active.update(&txn).await?;
    release_names(&txn, substance.id).await?;
    commit_change(
        txn,
        caller,
        meta,
        "substance.archived",
        EntityKind::Substance,
        substance.id,
        substance.version,
    )
    .await?;
    Ok(substance)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_lists() {
        assert_eq!(clean_aliases(vec![" Spice ".into()]).unwrap(), vec!["Spice"]);
        let empty = clean_aliases(vec!["ok".into(), "  ".into()]).unwrap_err();
        assert!(matches!(empty, ServiceError::Invalid { ref field, .. } if field == "aliases[1]"));
        let long = clean_aliases(vec!["x".repeat(61)]).unwrap_err();
        assert!(matches!(long, ServiceError::Invalid { ref field, .. } if field == "aliases[0]"));
        let twice = clean_aliases(vec!["Black Mamba".into(), "black  mamba".into()]).unwrap_err();
        assert_eq!(
            name_key(" Black  MAMBA "),
            outpost_migration::m20261202_000001_create_substance_names::name_key(" Black  MAMBA ")
        );
        assert!(matches!(twice, ServiceError::Invalid { ref field, .. } if field == "aliases[1]"));
    }
}
