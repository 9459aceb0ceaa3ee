//! Database migrations for Outpost.
//!
//! Migrations are written SQLite-first (SQLite cannot alter columns or add
//! foreign keys to an existing table), so every table is created whole with
//! its keys, and later changes add new tables or nullable columns.

pub use sea_orm_migration::prelude::*;

mod m20261121_000001_create_foundation;
mod m20261121_000002_create_sync_log;
mod m20261121_000003_create_field_records;
mod m20261121_000004_create_reference_data;
pub mod m20261202_000001_create_substance_names;
mod m20261202_000002_index_conflicts_by_record;
mod m20261202_000003_add_mutation_digest;
pub mod m20261202_000004_drop_hot_organisation_keys;
mod m20261203_000001_create_stock;
mod m20261203_000002_add_contact_stock_location;
mod m20261203_000003_create_stock_thresholds;
mod m20261203_000004_add_kit_line_naloxone;
mod m20261203_000005_add_device_stock_location;
mod m20261204_000001_add_referral_lifecycle;
mod m20261204_000002_create_referral_deadlines;
mod m20261204_000003_create_consents;
mod m20261204_000004_create_partner_inbox;
mod m20261204_000005_create_webhooks;
mod schema_helpers;

/// The ordered list of Outpost's migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_create_foundation::Migration),
            Box::new(m20261121_000002_create_sync_log::Migration),
            Box::new(m20261121_000003_create_field_records::Migration),
            Box::new(m20261121_000004_create_reference_data::Migration),
            Box::new(m20261202_000001_create_substance_names::Migration),
            Box::new(m20261202_000002_index_conflicts_by_record::Migration),
            Box::new(m20261202_000003_add_mutation_digest::Migration),
            Box::new(m20261202_000004_drop_hot_organisation_keys::Migration),
            Box::new(m20261203_000001_create_stock::Migration),
            Box::new(m20261203_000002_add_contact_stock_location::Migration),
            Box::new(m20261203_000003_create_stock_thresholds::Migration),
            Box::new(m20261203_000004_add_kit_line_naloxone::Migration),
            Box::new(m20261203_000005_add_device_stock_location::Migration),
            Box::new(m20261204_000001_add_referral_lifecycle::Migration),
            Box::new(m20261204_000002_create_referral_deadlines::Migration),
            Box::new(m20261204_000003_create_consents::Migration),
            Box::new(m20261204_000004_create_partner_inbox::Migration),
            Box::new(m20261204_000005_create_webhooks::Migration),
        ]
    }
}
