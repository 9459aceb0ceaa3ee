//! sea-orm entities for Outpost, one module per table.
//!
//! These modules hold table shapes only; behaviour lives in `outpost-api`'s
//! services, so the entities can be regenerated without losing logic.

pub mod api_key;
pub mod audit_event;
pub mod consent;
pub mod consent_revocation;
pub mod contact;
pub mod device;
pub mod incident;
pub mod kit_item;
pub mod kit_line;
pub mod organisation;
pub mod partner_link_code;
pub mod partner_service;
pub mod person;
pub mod record_revision;
pub mod referral;
pub mod referral_deadline;
pub mod referral_share;
pub mod referral_step;
pub mod session;
pub mod site;
pub mod stock_entry;
pub mod stock_level;
pub mod stock_location;
pub mod stock_movement;
pub mod stock_threshold;
pub mod substance;
pub mod substance_name;
pub mod sync_change;
pub mod sync_conflict;
pub mod sync_counter;
pub mod sync_mutation;
pub mod user;
pub mod user_site;
pub mod webhook_attempt;
pub mod webhook_delivery;
pub mod webhook_endpoint;
