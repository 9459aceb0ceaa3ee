//! Reference data the field records validate against: the kit catalogue,
//! substances with their street names, and the partner service directory.
//! Admins edit it; every change is audited and goes to the change feed in the
//! same transaction, so each device gets it on its next sync. Records are
//! archived, never deleted: field records keep pointing at them.

pub mod defaults;
pub mod kit_items;
pub mod partner_services;
pub mod substances;

use sea_orm::{DatabaseTransaction, DbErr};
use uuid::Uuid;

use super::{
    ServiceError, ServiceResult,
    audit::{self, AuditEntry},
};
use crate::{
    caller::{Caller, RequestMeta},
    sync::{
        EntityKind,
        feed::{self, FeedEntry},
    },
};

/// The longest code of a kit item or substance.
pub const CODE_MAX: usize = 48;

/// A code: trimmed, lower-cased, starting with a letter, then letters,
/// digits and `_`; at most [`CODE_MAX`] characters.
pub fn code(field: &str, value: &str) -> ServiceResult<String> {
    let value = value.trim().to_lowercase();
    if value.is_empty() {
        return Err(ServiceError::invalid(field, "must not be empty"));
    }
    if value.len() > CODE_MAX {
        return Err(ServiceError::invalid(field, format!("must be at most {CODE_MAX} characters")));
    }
    let valid = value.starts_with(|c: char| c.is_ascii_lowercase())
        && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        return Err(ServiceError::invalid(
            field,
            "must start with a-z and hold only a-z, 0-9 and '_'",
        ));
    }
    Ok(value)
}

/// The 409 for a code the organisation already uses.
pub(crate) fn code_taken(code: &str) -> ServiceError {
    ServiceError::ConflictOn {
        code: "code_taken",
        field: "code",
        detail: format!("the code `{code}` is in use"),
    }
}

/// Maps the code's unique index on insert (a concurrent create of the same
/// code) onto `code_taken` naming the code; any other key keeps its own
/// meaning (`db::UNIQUE_KEYS`).
pub(crate) fn insert_error(err: DbErr, code: &str) -> ServiceError {
    match crate::db::unique_key_taken(&err) {
        Some(key) if key.code == "code_taken" => code_taken(code),
        _ => err.into(),
    }
}

/// Records the audit entry, appends the change to the feed (last, it takes
/// the organisation's counter lock) and commits.
pub(crate) async fn commit_change(
    txn: DatabaseTransaction,
    caller: &Caller,
    meta: &RequestMeta,
    action: &str,
    kind: EntityKind,
    id: Uuid,
    version: i64,
) -> ServiceResult<()> {
    audit::record(&txn, caller, Some(&meta.request_id), AuditEntry::new(action, kind.as_str(), id))
        .await?;
    feed::append(&txn, caller.organisation_id(), vec![FeedEntry::upsert(kind, id, version)])
        .await?;
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(code("c", "  Naloxone_Nasal ").unwrap(), "naloxone_nasal");
        for bad in ["", "   ", "1ml", "a-b", "a b", "é", &"a".repeat(49)] {
            assert!(code("c", bad).is_err(), "{bad} accepted");
        }
    }
}
