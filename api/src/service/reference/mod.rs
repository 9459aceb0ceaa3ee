//! TEMPORARY SHIM: replaced by the reference-data branch (kit catalogue,
//! substances, partner services) when it is merged.
pub mod catalogue;
pub mod records;
