//! Which fields of a record a caller may read and write: the one place the
//! need-to-know rule for fields lives. Every view of a record (a `GET`, a
//! pulled record, a conflict, a pushed or replayed answer) passes through
//! here, and so does every write, so a field a caller may not read can
//! neither be shown to them nor written by them.

use crate::caller::Actor;
use serde_json::{Map, Value};

use super::fields::{Rejection, RejectionCode};
use crate::sync::EntityKind;

/// The fields of `kind` that only callers who see identifiers may read or
/// write (an NHS number, a CHAIN id).
pub fn restricted_fields(kind: EntityKind) -> impl Iterator<Item = &'static str> {
    super::kind::fields(kind).iter().filter(|s| s.restricted).map(|s| s.name)
}

/// Whether `actor` may read (and so write) `field` of a `kind` record.
pub fn may_read(actor: &Actor, kind: EntityKind, field: &str) -> bool {
    actor.sees_identifiers() || !restricted_fields(kind).any(|f| f == field)
}

/// Refuses a write that carries a field the actor may not read. A create
/// may name such a field as `null` (a typed body sends every field): there
/// is nothing to write; on an update `null` would clear it, which is a
/// write.
pub fn check_writable(
    actor: &Actor,
    kind: EntityKind,
    fields: &Map<String, Value>,
    creating: bool,
) -> Result<(), Rejection> {
    let forbidden = fields
        .iter()
        .filter(|(_, value)| !(creating && value.is_null()))
        .map(|(name, _)| name)
        .find(|name| !may_read(actor, kind, name));
    match forbidden {
        Some(name) => Err(Rejection::new(
            RejectionCode::FieldForbidden,
            Some(name),
            format!("`{name}` may be read and written by managers and admins only"),
        )),
        None => Ok(()),
    }
}

/// Blanks, in a record rendered as JSON, the fields the actor may not read
/// (they stay in the object as `null`, as the view's schema has them).
pub fn redact_record(actor: &Actor, kind: EntityKind, record: &mut Value) {
    if actor.sees_identifiers() {
        return;
    }
    if let Value::Object(map) = record {
        for field in restricted_fields(kind) {
            if let Some(value) = map.get_mut(field) {
                *value = Value::Null;
            }
        }
    }
}

/// Drops from a per-field map (a conflict's fields or resolved values) the
/// fields the actor may not read.
pub fn retain_readable<V>(
    actor: &Actor,
    kind: EntityKind,
    fields: &mut std::collections::BTreeMap<String, V>,
) {
    fields.retain(|name, _| may_read(actor, kind, name));
}
