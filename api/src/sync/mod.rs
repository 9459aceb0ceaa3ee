//! The sync engine: devices push batches of mutations recorded offline and
//! pull the changes in their scope. See `docs/sync.md` for the
//! guarantees; each module names the one it upholds.

pub mod apply;
pub mod conflicts;
pub mod cursor;
pub mod editable;
pub mod feed;
pub mod merge;
pub mod mutation;
pub mod pull;
pub mod push;
pub mod render;
pub mod retention;
pub mod scope;
pub mod writer;

use poem_openapi::Enum;

/// Why a push or a pull failed as a whole (refusals of single mutations
/// are answers, not errors).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
    /// The batch kept losing races with other writers: safe to send again.
    #[error("busy")]
    Busy,
    /// Stored data the engine cannot read (never expected).
    #[error("{0}")]
    Internal(String),
}

/// Result of a push or a pull.
pub type SyncResult<T> = Result<T, SyncError>;

/// The kinds of record the change feed carries.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// A person.
    Person,
    /// A contact with its kit lines.
    Contact,
    /// An incident.
    Incident,
    /// A referral.
    Referral,
    /// A step of a referral.
    ReferralStep,
    /// A sync conflict awaiting (or past) resolution.
    Conflict,
    /// A site (reference data).
    Site,
    /// A kit catalogue item (reference data).
    KitItem,
    /// A substance with its street names (reference data).
    Substance,
    /// A partner service (reference data).
    PartnerService,
    /// A stock location: a site's store, a van, a bag.
    StockLocation,
    /// An entry of the stock ledger.
    StockEntry,
    /// A low-stock threshold of a location and item, with whether on-hand
    /// is under it.
    StockThreshold,
    /// A person's consent.
    Consent,
    /// The revocation of a person's consent.
    ConsentRevocation,
    /// A referral another organisation sent to this one, as its inbox
    /// shows it (what the person's consent allows).
    InboxReferral,
}

impl EntityKind {
    /// Every kind.
    pub const ALL: [EntityKind; 16] = [
        EntityKind::Person,
        EntityKind::Contact,
        EntityKind::Incident,
        EntityKind::Referral,
        EntityKind::ReferralStep,
        EntityKind::Conflict,
        EntityKind::Site,
        EntityKind::KitItem,
        EntityKind::Substance,
        EntityKind::PartnerService,
        EntityKind::StockLocation,
        EntityKind::StockEntry,
        EntityKind::StockThreshold,
        EntityKind::Consent,
        EntityKind::ConsentRevocation,
        EntityKind::InboxReferral,
    ];

    /// The stored (and wire) name.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Person => "person",
            EntityKind::Contact => "contact",
            EntityKind::Incident => "incident",
            EntityKind::Referral => "referral",
            EntityKind::ReferralStep => "referral_step",
            EntityKind::Conflict => "conflict",
            EntityKind::Site => "site",
            EntityKind::KitItem => "kit_item",
            EntityKind::Substance => "substance",
            EntityKind::PartnerService => "partner_service",
            EntityKind::StockLocation => "stock_location",
            EntityKind::StockEntry => "stock_entry",
            EntityKind::StockThreshold => "stock_threshold",
            EntityKind::Consent => "consent",
            EntityKind::ConsentRevocation => "consent_revocation",
            EntityKind::InboxReferral => "inbox_referral",
        }
    }
}
