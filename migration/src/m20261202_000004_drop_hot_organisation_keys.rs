//! Postgres: no foreign key to `organisations` on the tables sync writes
//! a row to for every record (the records, their revisions and conflicts,
//! the feed and the mutation log).
//!
//! Each inserted row's key check locks the organisation's one row `FOR KEY
//! SHARE`; with 20 devices of an organisation pushing at once, every
//! transaction adds itself to that row's lockers (a new multixact each
//! time), and the sync benchmark measured those checks at 30% of
//! Postgres's time in a push, and the push 15% faster without them. The
//! organisation of these rows is always the signed-in caller's, and
//! organisations are never deleted; `outpost admin check` counts any row
//! whose organisation does not exist (`tenancy.<table>.organisation`).
//! Reference data, users and sites keep theirs (written rarely, by
//! admins). SQLite checks keys by index lookup under its one writer, with
//! nothing to contend for, and cannot drop a constraint in place: it
//! keeps them.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables.
pub const TABLES: [&str; 8] = [
    "persons",
    "contacts",
    "incidents",
    "referrals",
    "record_revisions",
    "sync_conflicts",
    "sync_changes",
    "sync_mutations",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
            return Ok(());
        }
        // By the catalogue, not by name: whatever the keys are called.
        let tables = TABLES.map(|t| format!("'{t}'")).join(", ");
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "DO $$ DECLARE k record; BEGIN
                   FOR k IN SELECT conrelid::regclass AS t, conname FROM pg_constraint
                            WHERE contype = 'f' AND confrelid = 'organisations'::regclass
                              AND conrelid = ANY (ARRAY[{tables}]::regclass[])
                   LOOP
                     EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', k.t, k.conname);
                   END LOOP;
                 END $$"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
            return Ok(());
        }
        for table in TABLES {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "ALTER TABLE {table} ADD CONSTRAINT {table}_organisation_id_fkey \
                     FOREIGN KEY (organisation_id) REFERENCES organisations (id)"
                ))
                .await?;
        }
        Ok(())
    }
}
