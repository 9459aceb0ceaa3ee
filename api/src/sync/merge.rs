//! Field-level three-way merge (sync.md, guarantee 3).
//!
//! The server keeps, for each editable record, the version at which each
//! field last changed. A device's update names the version it started from
//! (its base) and the fields it changed. A field the server has not changed
//! since the base takes the device's value; a field both sides changed to
//! different values is a conflict, and the server's value stays until
//! someone resolves it. Nothing is silently overwritten either way.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// One field both sides changed from the same base.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FieldConflict {
    /// The value both started from (`null` when unknown).
    pub base: Value,
    /// The device's value.
    pub mine: Value,
    /// The server's value, which stays until resolved.
    pub theirs: Value,
}

/// What to do with an update.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct MergePlan {
    /// Fields to write now.
    pub apply: Map<String, Value>,
    /// Fields that conflict, by name.
    pub conflicts: BTreeMap<String, FieldConflict>,
}

/// Plans an update.
///
/// - `server`: the record's current fields;
/// - `field_versions`: the version at which each field last changed;
/// - `base_version` and `base`: the version (and its fields, when known)
///   the device started from;
/// - `mine`: the fields the device sent.
pub fn plan(
    server: &Map<String, Value>,
    field_versions: &BTreeMap<String, i64>,
    base_version: i64,
    base: Option<&Map<String, Value>>,
    mine: &Map<String, Value>,
) -> MergePlan {
    let mut out = MergePlan::default();
    for (name, my_value) in mine {
        let theirs = server.get(name).cloned().unwrap_or(Value::Null);
        if theirs == *my_value {
            // Already so: nothing to write, nothing to argue about.
            continue;
        }
        let base_value = base.and_then(|b| b.get(name)).cloned();
        if base_value.as_ref() == Some(my_value) {
            // The device sent a field it did not change (some clients send
            // the whole record): the server's newer value stands.
            continue;
        }
        let changed_on_server = field_versions.get(name).copied().unwrap_or(0) > base_version;
        if changed_on_server {
            out.conflicts.insert(
                name.clone(),
                FieldConflict {
                    base: base_value.unwrap_or(Value::Null),
                    mine: my_value.clone(),
                    theirs,
                },
            );
        } else {
            out.apply.insert(name.clone(), my_value.clone());
        }
    }
    out
}

/// Parses a stored `field_versions` column.
pub fn parse_versions(stored: &str) -> BTreeMap<String, i64> {
    serde_json::from_str(stored).unwrap_or_default()
}

/// Marks `fields` as changed at `version`.
pub fn bump_versions<'a>(
    versions: &mut BTreeMap<String, i64>,
    fields: impl Iterator<Item = &'a String>,
    version: i64,
) {
    for name in fields {
        versions.insert(name.clone(), version);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn different_fields_merge() {
        let server = map(json!({"alias": "Jay", "gender": "man"}));
        let versions = BTreeMap::from([("alias".into(), 2), ("gender".into(), 1)]);
        let base = map(json!({"alias": "J", "gender": "man"}));
        let plan = plan(&server, &versions, 1, Some(&base), &map(json!({"gender": "non_binary"})));
        assert_eq!(plan.apply, map(json!({"gender": "non_binary"})));
        assert!(plan.conflicts.is_empty());
    }

    #[test]
    fn same_field_conflicts_and_keeps_server_value() {
        let server = map(json!({"alias": "Jay"}));
        let versions = BTreeMap::from([("alias".into(), 2)]);
        let base = map(json!({"alias": "J"}));
        let plan = plan(&server, &versions, 1, Some(&base), &map(json!({"alias": "Jo"})));
        assert!(plan.apply.is_empty());
        assert_eq!(
            plan.conflicts["alias"],
            FieldConflict { base: json!("J"), mine: json!("Jo"), theirs: json!("Jay") }
        );
    }

    #[test]
    fn same_value_on_both_sides_is_no_conflict() {
        let server = map(json!({"alias": "Jay"}));
        let versions = BTreeMap::from([("alias".into(), 2)]);
        let plan = plan(&server, &versions, 1, None, &map(json!({"alias": "Jay"})));
        assert_eq!(plan, MergePlan::default());
    }

    #[test]
    fn unchanged_field_sent_back_does_not_overwrite() {
        let server = map(json!({"alias": "Jay"}));
        let versions = BTreeMap::from([("alias".into(), 2)]);
        let base = map(json!({"alias": "J"}));
        let plan = plan(&server, &versions, 1, Some(&base), &map(json!({"alias": "J"})));
        assert_eq!(plan, MergePlan::default());
    }
}
