//! Domain logic, independent of HTTP. Handlers check permissions, call a
//! service, and map its `ServiceError` onto the API's problem responses.

pub mod api_keys;
pub mod audit;
pub mod audit_query;
pub mod conflicts;
pub mod consents;
pub mod devices;
pub mod inbox;
pub mod login;
pub mod organisations;
pub mod partner_links;
pub mod records;
pub mod reference;
pub mod referral_oversight;
pub mod sites;
pub mod stock;
pub mod users;
pub mod validate;
pub mod webhooks;

use crate::error::ApiError;

/// Why a service refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The record does not exist in the caller's organisation.
    #[error("no such {0}")]
    NotFound(&'static str),
    /// The caller may not do this to this record.
    #[error("{detail}")]
    Forbidden {
        /// Stable problem code.
        code: &'static str,
        /// For people.
        detail: String,
    },
    /// The change conflicts with current state.
    #[error("{detail}")]
    Conflict {
        /// Stable problem code.
        code: &'static str,
        /// For people.
        detail: String,
    },
    /// The change conflicts with current state because of one field: 409
    /// naming it.
    #[error("{field}: {detail}")]
    ConflictOn {
        /// Stable problem code.
        code: &'static str,
        /// The field at fault.
        field: &'static str,
        /// For people.
        detail: String,
    },
    /// A unique value (an email, a code) is taken: 409 naming the field.
    #[error("{}", .0.detail)]
    Taken(crate::db::UniqueKey),
    /// A value is invalid.
    #[error("{field}: {detail}")]
    Invalid {
        /// The field at fault.
        field: String,
        /// What is wrong with it.
        detail: String,
    },
    /// An edit from a version that is no longer current (the current one).
    #[error("the record is at version {0}")]
    VersionMismatch(i64),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
    /// Busy: every password-hashing slot is taken (a burst of logins), or a
    /// push kept losing races. Retry soon.
    #[error("busy")]
    Busy,
    /// Something else failed (hashing, serialisation).
    #[error("{0}")]
    Internal(String),
}

impl From<crate::secrets::HashingError> for ServiceError {
    fn from(err: crate::secrets::HashingError) -> Self {
        match err {
            crate::secrets::HashingError::Busy => Self::Busy,
            crate::secrets::HashingError::Failed(msg) => Self::Internal(msg),
        }
    }
}

impl From<crate::sync::SyncError> for ServiceError {
    fn from(err: crate::sync::SyncError) -> Self {
        match err {
            crate::sync::SyncError::Db(db) => Self::Db(db),
            crate::sync::SyncError::Busy => Self::Busy,
            crate::sync::SyncError::Internal(msg) => Self::Internal(msg),
        }
    }
}

impl From<crate::sync::SyncError> for ApiError {
    fn from(err: crate::sync::SyncError) -> Self {
        ServiceError::from(err).into()
    }
}

impl ServiceError {
    /// A validation failure on `field`.
    pub fn invalid(field: &str, detail: impl Into<String>) -> Self {
        Self::Invalid { field: field.to_owned(), detail: detail.into() }
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::NotFound(what) => ApiError::not_found(what),
            ServiceError::Forbidden { code, detail } => ApiError::forbidden(code, detail),
            ServiceError::Conflict { code, detail } => ApiError::conflict(code, detail),
            ServiceError::Taken(key) => ApiError::taken(key),
            ServiceError::ConflictOn { code, field, detail } => {
                ApiError::Conflict(poem_openapi::payload::Json(
                    crate::error::Problem::new(poem::http::StatusCode::CONFLICT, code, detail)
                        .with_field(field),
                ))
            }
            ServiceError::Invalid { field, detail } => ApiError::invalid(&field, detail),
            ServiceError::VersionMismatch(current) => ApiError::precondition_failed(current),
            ServiceError::Db(db) => db.into(),
            ServiceError::Busy => ApiError::busy(),
            ServiceError::Internal(msg) => ApiError::internal(&msg),
        }
    }
}

/// Result of a service call.
pub type ServiceResult<T> = Result<T, ServiceError>;
