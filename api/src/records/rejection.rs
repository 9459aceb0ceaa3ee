//! Why a mutation was refused: a code from a closed list, each with the
//! HTTP status a REST write answers it with, the field at fault, and a
//! sentence for people. The engine returns one error type
//! ([`ApplyError`]), so `?` carries a refusal or a database error alike.

use poem::http::StatusCode;
use poem_openapi::Enum;
use sea_orm::DbErr;

/// The stable codes a mutation can be refused with.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum RejectionCode {
    /// A value is invalid (`field` names it).
    ValidationFailed,
    /// A field the record type does not have, or a server field.
    UnknownField,
    /// A reference to a site, person, staff member, referral or partner
    /// service that does not exist in your scope.
    UnknownReference,
    /// A kit line names an item the kit catalogue does not hold.
    UnknownKitItem,
    /// A substance that is neither a code nor a known street name.
    UnknownSubstance,
    /// The record does not exist in your scope.
    UnknownRecord,
    /// The record was deleted; the deletion stands.
    RecordDeleted,
    /// Your role may not do this to this record.
    Forbidden,
    /// Your role may not read or write this field.
    FieldForbidden,
    /// The record is append-only: delete it and record it again.
    AppendOnly,
    /// The record type is changed through its REST endpoints, not by sync.
    NotSyncable,
    /// An update without the version it started from.
    BaseVersionRequired,
    /// A base version the server never issued for this record.
    InvalidBaseVersion,
    /// The id is in use by a record you cannot see: generate a new one.
    IdTaken,
    /// The mutation id was already used for another change.
    MutationIdReused,
    /// A REST write's `If-Match` names a version that is no longer current
    /// (devices send `base_version` instead, and are merged).
    VersionMismatch,
    /// A referral step that may not follow the referral's status (`closed`
    /// then `sent`); the detail names both.
    IllegalStep,
    /// A referral sent to a partner service without the person's consent to
    /// sharing with it at that moment.
    ConsentRequired,
}

impl RejectionCode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ValidationFailed => "validation_failed",
            Self::UnknownField => "unknown_field",
            Self::UnknownReference => "unknown_reference",
            Self::UnknownKitItem => "unknown_kit_item",
            Self::UnknownSubstance => "unknown_substance",
            Self::UnknownRecord => "unknown_record",
            Self::RecordDeleted => "record_deleted",
            Self::Forbidden => "forbidden",
            Self::FieldForbidden => "field_forbidden",
            Self::AppendOnly => "append_only",
            Self::NotSyncable => "not_syncable",
            Self::BaseVersionRequired => "base_version_required",
            Self::InvalidBaseVersion => "invalid_base_version",
            Self::IdTaken => "id_taken",
            Self::MutationIdReused => "mutation_id_reused",
            Self::VersionMismatch => "version_mismatch",
            Self::IllegalStep => "illegal_step",
            Self::ConsentRequired => "consent_required",
        }
    }

    /// The status a REST write answers this refusal with.
    pub fn status(self) -> StatusCode {
        match self {
            Self::Forbidden | Self::FieldForbidden => StatusCode::FORBIDDEN,
            Self::IdTaken | Self::MutationIdReused | Self::IllegalStep | Self::ConsentRequired => {
                StatusCode::CONFLICT
            }
            Self::UnknownRecord => StatusCode::NOT_FOUND,
            Self::RecordDeleted => StatusCode::GONE,
            Self::VersionMismatch => StatusCode::PRECONDITION_FAILED,
            Self::ValidationFailed
            | Self::UnknownField
            | Self::UnknownReference
            | Self::UnknownKitItem
            | Self::UnknownSubstance
            | Self::AppendOnly
            | Self::NotSyncable
            | Self::BaseVersionRequired
            | Self::InvalidBaseVersion => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

/// Why a mutation was refused: a stable code, the field at fault, and a
/// sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rejection {
    /// The stable code.
    pub code: RejectionCode,
    /// The field at fault, when one is.
    pub field: Option<String>,
    /// For people.
    pub detail: String,
}

impl Rejection {
    /// A refusal with `code`.
    pub fn new(code: RejectionCode, field: Option<&str>, detail: impl Into<String>) -> Self {
        Self { code, field: field.map(str::to_owned), detail: detail.into() }
    }

    /// A value that fails validation.
    pub fn invalid(field: &str, detail: impl Into<String>) -> Self {
        Self::new(RejectionCode::ValidationFailed, Some(field), detail)
    }
}

/// Why applying a mutation did not produce a result: a refusal (the batch
/// goes on with the next mutation) or a database error (the batch's
/// transaction is abandoned, and the batch runs again or fails whole).
#[derive(Debug)]
pub enum ApplyError {
    /// The mutation was refused; nothing of it was written.
    Rejected(Rejection),
    /// The database failed.
    Db(DbErr),
}

impl From<Rejection> for ApplyError {
    fn from(rejection: Rejection) -> Self {
        Self::Rejected(rejection)
    }
}

impl From<DbErr> for ApplyError {
    fn from(err: DbErr) -> Self {
        Self::Db(err)
    }
}

#[cfg(test)]
mod tests {
    use super::RejectionCode;

    #[test]
    fn wire_names_match_the_enum() {
        for code in [
            RejectionCode::ValidationFailed,
            RejectionCode::UnknownReference,
            RejectionCode::MutationIdReused,
            RejectionCode::BaseVersionRequired,
        ] {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, code.as_str(), "{code:?}");
        }
    }
}
