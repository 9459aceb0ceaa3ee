//! A mutation as the engine sees it, and the result it answers with.

use poem_openapi::{
    Enum, Object,
    registry::{MetaSchema, Registry},
    types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::EntityKind;
use crate::records::{
    person::PersonView,
    referral::ReferralView,
    rejection::{Rejection, RejectionCode},
};

/// What a mutation does.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum MutationOp {
    /// Create the record with this client-generated id.
    Create,
    /// Change some fields, from `base_version`.
    Update,
    /// Delete (tombstone) the record.
    Delete,
}

impl MutationOp {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            MutationOp::Create => "create",
            MutationOp::Update => "update",
            MutationOp::Delete => "delete",
        }
    }
}

/// One change recorded on a device.
#[derive(Debug, Clone, PartialEq)]
pub struct Mutation {
    /// Client-generated id; a replay with the same id gets the first result.
    pub mutation_id: Uuid,
    /// The kind of record.
    pub entity: EntityKind,
    /// The record (client-generated UUID v7 for creates).
    pub id: Uuid,
    /// What to do.
    pub op: MutationOp,
    /// For updates: the server version the device started from.
    pub base_version: Option<i64>,
    /// A REST write: its caller acts on what it has just read, where a
    /// device acts on what it held offline. So an update must start from
    /// the current version (`If-Match`: a stale base is refused
    /// `version_mismatch`, where a device's is merged), and a referral step
    /// that does not follow is refused `illegal_step` (a device's is kept
    /// and flagged). Not part of the change's digest.
    pub online: bool,
    /// The fields set (creates) or changed (updates).
    pub fields: Map<String, Value>,
}

impl Mutation {
    /// A digest of what this mutation changes: its op, base version and
    /// fields (keys sorted, so the same change always digests the same).
    /// A replay must match it; the same id for another change is refused.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        use std::fmt::Write;
        // Serialised by reference (a tuple is a JSON array): the same text
        // `json!([op, base_version, fields]).to_string()` gave, without
        // copying the fields first. Logged digests must never change.
        let change =
            serde_json::to_vec(&(&self.op, self.base_version, &self.fields)).unwrap_or_default();
        let mut hex = String::with_capacity(32);
        for byte in &Sha256::digest(&change)[..16] {
            let _ = write!(hex, "{byte:02x}");
        }
        hex
    }
}

/// How a mutation ended.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum MutationStatus {
    /// Applied as sent.
    Applied,
    /// Applied, merged with changes made on the server since the base.
    Merged,
    /// Seen before: `original_status` and the rest are the first answer.
    Duplicate,
    /// Some fields conflict: the server kept its values and opened a
    /// conflict (`conflict_id`); `record` is the server's record.
    Conflict,
    /// Refused (`problem` says why); nothing was written.
    Rejected,
}

/// Why a mutation was refused.
#[derive(Object, Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MutationProblem {
    /// Stable snake_case code.
    pub code: RejectionCode,
    /// The field at fault, when one is.
    pub field: Option<String>,
    /// For people.
    pub detail: String,
}

impl From<Rejection> for MutationProblem {
    fn from(r: Rejection) -> Self {
        Self { code: r.code, field: r.field, detail: r.detail }
    }
}

/// The server's record answered with a conflict: a person or a referral
/// (the kinds that are edited), as its `GET` shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ConflictRecord(pub Value);

crate::named_type::named_type!(ConflictRecord, "ConflictRecord", register_conflict_record);

/// Writes the schema of `ConflictRecord`.
fn register_conflict_record(registry: &mut Registry) {
    PersonView::register(registry);
    ReferralView::register(registry);
    registry.schemas.insert(
        "ConflictRecord".to_owned(),
        MetaSchema {
            description: Some(
                "The server's record: a person or a referral, as its `GET` shows it (the \
                 result's `entity` says which).",
            ),
            one_of: vec![PersonView::schema_ref(), ReferralView::schema_ref()],
            ..MetaSchema::ANY
        },
    );
}

impl ParseFromJSON for ConflictRecord {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(record @ Value::Object(_)) => Ok(Self(record)),
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

impl ToJSON for ConflictRecord {
    fn to_json(&self) -> Option<Value> {
        Some(self.0.clone())
    }
}

/// The answer to one mutation.
#[derive(Object, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct MutationResult {
    /// The mutation answered.
    pub mutation_id: Uuid,
    /// How it ended.
    pub status: MutationStatus,
    /// For a duplicate: how the first delivery ended.
    pub original_status: Option<MutationStatus>,
    /// The kind of record.
    pub entity: EntityKind,
    /// The record.
    pub id: Uuid,
    /// The record's server version after the mutation.
    pub version: Option<i64>,
    /// For a conflict: the conflict to resolve.
    pub conflict_id: Option<Uuid>,
    /// For a conflict: the server's record, as `GET` shows it.
    pub record: Option<ConflictRecord>,
    /// For a rejection: why.
    pub problem: Option<MutationProblem>,
}

impl MutationResult {
    /// A result for `mutation` with `status`.
    pub fn new(mutation: &Mutation, status: MutationStatus, version: Option<i64>) -> Self {
        Self {
            mutation_id: mutation.mutation_id,
            status,
            original_status: None,
            entity: mutation.entity,
            id: mutation.id,
            version,
            conflict_id: None,
            record: None,
            problem: None,
        }
    }

    /// A rejection of `mutation`.
    pub fn rejected(mutation: &Mutation, rejection: Rejection) -> Self {
        let mut result = Self::new(mutation, MutationStatus::Rejected, None);
        result.problem = Some(rejection.into());
        result
    }

    /// This result as the log and the replay cache keep it: without the
    /// record (see `push::attach_current_records`).
    pub fn without_record(&self) -> Self {
        Self { record: None, ..self.clone() }
    }

    /// This result as a replay answers it.
    pub fn as_duplicate(mut self) -> Self {
        if self.status != MutationStatus::Duplicate {
            self.original_status = Some(self.status);
            self.status = MutationStatus::Duplicate;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digest logged by every earlier version, computed as they did:
    /// a replay of a mutation pushed before an upgrade must still match.
    #[test]
    fn the_digest_is_the_one_logged_before() {
        use sha2::{Digest, Sha256};
        let fields = serde_json::json!({
            "note": "gave \"foil\" — 2 packs",
            "returns_count": 3,
            "kit_lines": [{ "item": "foil", "quantity": 2, "for_others": 0 }],
            "site_id": null,
        });
        let m = Mutation {
            mutation_id: Uuid::nil(),
            entity: EntityKind::Contact,
            id: Uuid::nil(),
            op: MutationOp::Update,
            base_version: Some(4),
            online: false,
            fields: fields.as_object().cloned().unwrap_or_default(),
        };
        let before = serde_json::json!([m.op, m.base_version, m.fields]).to_string();
        let before: String =
            Sha256::digest(before.as_bytes())[..16].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(m.digest(), before);
        // And pinned: a change to either computation shows here.
        assert_eq!(m.digest(), "4e08c8793eba95bbc1c79b5123893fa4");
    }
}
