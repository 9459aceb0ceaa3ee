//! The field records: their vocabularies, field specs, validation, rows and
//! views. The sync engine (`crate::sync`) stores and merges them; the REST
//! handlers show them.

pub mod access;
pub mod bulk;
pub mod checks;
pub mod consent;
pub mod contact;
pub mod context;
pub mod declare;
pub mod fields;
pub mod incident;
pub mod kind;
pub mod lookup;
pub mod person;
pub mod reference;
pub mod referral;
pub mod rejection;
pub mod row;
pub mod stock_entry;
pub mod view;
pub mod vocab;

#[cfg(test)]
mod tests;
