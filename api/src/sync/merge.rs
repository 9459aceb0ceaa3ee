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

/// The laws of [`plan`], over random records: a handful of fields and a few
/// values each, so that equal values on both sides happen often.
#[cfg(test)]
mod laws {
    use std::collections::BTreeSet;

    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;

    const FIELDS: [&str; 4] = ["alias", "gender", "initials", "description"];

    fn value(choice: usize) -> Value {
        [Value::Null, json!("a"), json!("b"), json!(1)][choice].clone()
    }

    /// One field as both sides see it.
    #[derive(Debug, Clone)]
    struct Field {
        base: Value,
        /// The server's value now.
        server: Value,
        /// Whether the server changed it since the base (its field version
        /// is after the base version). The value may still equal the base:
        /// changed and changed back.
        server_changed: bool,
        /// The field version, when the field has one.
        version: Option<i64>,
        /// What the device sent, if it sent the field.
        mine: Option<Value>,
    }

    /// A random update against a record, coherent with the versions: a
    /// field the server did not change since the base still holds the base
    /// value, and its field version is at or before the base version.
    #[derive(Debug, Clone)]
    struct Scenario {
        base_version: i64,
        fields: Vec<Field>,
    }

    fn field(base_version: i64, aba: bool) -> impl Strategy<Value = Field> {
        (0..4usize, any::<bool>(), 0..4usize, 0..=3i64, any::<bool>(), prop::option::of(0..4usize))
            .prop_map(move |(base, server_changed, server, offset, versioned, mine)| {
                let base = value(base);
                let mut server = if server_changed { value(server) } else { base.clone() };
                // Without `aba`, a server change is a change of value.
                let server_changed = server_changed && (aba || server != base);
                if !server_changed {
                    server = base.clone();
                }
                let version = if server_changed {
                    Some(base_version + 1 + offset)
                } else {
                    // At the base version itself, before it, or never set.
                    versioned.then_some((base_version - offset).max(0))
                };
                Field { base, server, server_changed, version, mine: mine.map(value) }
            })
    }

    fn scenario(aba: bool) -> impl Strategy<Value = Scenario> {
        (0..6i64).prop_flat_map(move |base_version| {
            prop::collection::vec(field(base_version, aba), FIELDS.len())
                .prop_map(move |fields| Scenario { base_version, fields })
        })
    }

    struct Inputs {
        server: Map<String, Value>,
        versions: BTreeMap<String, i64>,
        base: Map<String, Value>,
        mine: Map<String, Value>,
    }

    impl Scenario {
        fn inputs(&self) -> Inputs {
            let mut inputs = Inputs {
                server: Map::new(),
                versions: BTreeMap::new(),
                base: Map::new(),
                mine: Map::new(),
            };
            for (name, f) in FIELDS.iter().zip(&self.fields) {
                let name = (*name).to_owned();
                inputs.server.insert(name.clone(), f.server.clone());
                inputs.base.insert(name.clone(), f.base.clone());
                if let Some(v) = f.version {
                    inputs.versions.insert(name.clone(), v);
                }
                if let Some(m) = &f.mine {
                    inputs.mine.insert(name, m.clone());
                }
            }
            inputs
        }

        fn plan(&self, with_base: bool) -> MergePlan {
            let i = self.inputs();
            plan(&i.server, &i.versions, self.base_version, with_base.then_some(&i.base), &i.mine)
        }

        /// The same edits with the sides swapped: what the device changed
        /// the server changed, and the other way round. Fields the device
        /// did not send it did not change, so it sends the fields the
        /// server had changed.
        fn swapped(&self) -> Scenario {
            let fields = self
                .fields
                .iter()
                .map(|f| {
                    let device_value = f.mine.clone().unwrap_or_else(|| f.base.clone());
                    let server_changed = device_value != f.base;
                    Field {
                        base: f.base.clone(),
                        server: device_value,
                        server_changed,
                        version: Some(if server_changed {
                            self.base_version + 1
                        } else {
                            self.base_version
                        }),
                        mine: f.server_changed.then(|| f.server.clone()),
                    }
                })
                .collect();
            Scenario { base_version: self.base_version, fields }
        }
    }

    fn conflicting(plan: &MergePlan) -> BTreeSet<String> {
        plan.conflicts.keys().cloned().collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

        /// Field by field, the outcome the contract names: one side's
        /// change wins, the same change on both sides is no conflict,
        /// different changes conflict and keep the server's value, and a
        /// field nobody changed keeps its base value.
        #[test]
        fn each_field_follows_the_three_way_rules(s in scenario(true)) {
            let plan = s.plan(true);
            for (name, f) in FIELDS.iter().zip(&s.fields) {
                let name = *name;
                let device_changed = f.mine.as_ref().is_some_and(|m| *m != f.base);
                let applied = plan.apply.get(name);
                let conflict = plan.conflicts.get(name);
                // The record after the plan is applied.
                let after = applied.unwrap_or(&f.server);
                match (device_changed, f.server_changed) {
                    (false, false) => {
                        prop_assert!(applied.is_none() && conflict.is_none(), "{name}: {plan:?}");
                        prop_assert_eq!(after, &f.base);
                    }
                    (false, true) => {
                        // The server's newer value stands, even when the
                        // device sent the field back unchanged.
                        prop_assert!(applied.is_none() && conflict.is_none(), "{name}: {plan:?}");
                        prop_assert_eq!(after, &f.server);
                    }
                    (true, false) => {
                        let mine = f.mine.as_ref().unwrap();
                        prop_assert_eq!(applied, Some(mine), "{}: {:?}", name, plan);
                        prop_assert!(conflict.is_none(), "{name}: {plan:?}");
                    }
                    (true, true) => {
                        let mine = f.mine.as_ref().unwrap();
                        prop_assert!(applied.is_none(), "{name}: the server value is kept: {plan:?}");
                        prop_assert_eq!(after, &f.server);
                        if *mine == f.server {
                            prop_assert!(conflict.is_none(), "{name}: same value, no conflict: {plan:?}");
                        } else {
                            prop_assert_eq!(
                                conflict,
                                Some(&FieldConflict {
                                    base: f.base.clone(),
                                    mine: mine.clone(),
                                    theirs: f.server.clone(),
                                }),
                                "{}: {:?}", name, plan
                            );
                        }
                    }
                }
            }
        }

        /// Only fields the device sent are written or conflict, never both,
        /// and a value written is the device's own.
        #[test]
        fn no_field_is_lost_or_invented(s in scenario(true), with_base in any::<bool>()) {
            let i = s.inputs();
            let plan = s.plan(with_base);
            for (name, v) in &plan.apply {
                prop_assert_eq!(i.mine.get(name), Some(v), "{} written but not sent", name);
                prop_assert!(!plan.conflicts.contains_key(name), "{name} both written and in conflict");
            }
            for (name, c) in &plan.conflicts {
                prop_assert_eq!(i.mine.get(name), Some(&c.mine), "{} in conflict but not sent", name);
                prop_assert_eq!(i.server.get(name), Some(&c.theirs));
                prop_assert_ne!(&c.mine, &c.theirs);
            }
            // Every field the device changed against the server's value is
            // accounted for: written, in conflict, or deliberately left.
            for (name, m) in &i.mine {
                let sent_change = i.server.get(name) != Some(m) && i.base.get(name) != Some(m);
                if sent_change {
                    prop_assert!(
                        plan.apply.contains_key(name) || plan.conflicts.contains_key(name),
                        "{name}: a change sent was dropped: {plan:?}"
                    );
                }
            }
        }

        /// Without the base record, the versions alone decide: nothing is
        /// written over a server change, and anything else that differs is.
        #[test]
        fn without_a_base_nothing_is_written_over_a_server_change(s in scenario(true)) {
            let plan = s.plan(false);
            for (name, f) in FIELDS.iter().zip(&s.fields) {
                let name = *name;
                let differs = f.mine.as_ref().is_some_and(|m| *m != f.server);
                let expect_applied = differs && !f.server_changed;
                let expect_conflict = differs && f.server_changed;
                prop_assert_eq!(plan.apply.contains_key(name), expect_applied, "{}: {:?}", name, plan);
                prop_assert_eq!(plan.conflicts.contains_key(name), expect_conflict, "{}: {:?}", name, plan);
            }
        }

        /// Who changed what does not matter to whether it conflicts.
        #[test]
        fn swapping_the_sides_conflicts_on_the_same_fields(s in scenario(false)) {
            let swapped = s.swapped();
            prop_assert_eq!(conflicting(&s.plan(true)), conflicting(&swapped.plan(true)));
            // And swapping back gives the same conflicts again.
            let back = swapped.swapped();
            prop_assert_eq!(conflicting(&s.plan(true)), conflicting(&back.plan(true)));
        }

        /// Applying the plan and planning the same update again writes
        /// nothing more and finds the same conflicts (a retried push); the
        /// merged record sent back as it is writes nothing either.
        #[test]
        fn applying_the_plan_again_changes_nothing(s in scenario(true), with_base in any::<bool>()) {
            let i = s.inputs();
            let first = s.plan(with_base);
            let base = with_base.then_some(&i.base);

            let mut server = i.server.clone();
            let mut versions = i.versions.clone();
            let new_version = versions.values().copied().chain([s.base_version]).max().unwrap() + 1;
            server.extend(first.apply.clone());
            bump_versions(&mut versions, first.apply.keys(), new_version);

            let again = plan(&server, &versions, s.base_version, base, &i.mine);
            prop_assert!(again.apply.is_empty(), "written twice: {again:?}");
            prop_assert_eq!(&again.conflicts, &first.conflicts);

            // A device that pulled the merged record and sends it back
            // whole, unchanged, changes nothing.
            let caught_up = plan(&server, &versions, new_version, Some(&server), &server);
            prop_assert_eq!(caught_up, MergePlan::default());
        }
    }
}
