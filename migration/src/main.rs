//! The sea-orm-migration CLI for Outpost (`DATABASE_URL` selects the database).
//! Operators normally use `outpost migrate` instead, which reads Outpost's own
//! configuration.

use sea_orm_migration::prelude::*;

#[tokio::main]
async fn main() {
    cli::run_cli(outpost_migration::Migrator).await;
}
