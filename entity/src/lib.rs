//! sea-orm entities for Outpost, one module per table.
//!
//! These modules hold table shapes only; behaviour lives in `outpost-api`'s
//! services, so the entities can be regenerated without losing logic.

pub mod api_key;
pub mod audit_event;
pub mod device;
pub mod organisation;
pub mod session;
pub mod site;
pub mod user;
pub mod user_site;
