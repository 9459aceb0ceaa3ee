//! An index on `sync_conflicts (organisation_id, entity, record_id)`:
//! deleting a person or referral closes its conflicts, and finds them by
//! record rather than by scanning the organisation's conflicts.

use sea_orm_migration::prelude::*;

use crate::schema_helpers::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        index(
            manager,
            "idx_sync_conflicts_record",
            SyncConflicts::Table,
            vec![SyncConflicts::OrganisationId, SyncConflicts::Entity, SyncConflicts::RecordId],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_sync_conflicts_record")
                    .table(SyncConflicts::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum SyncConflicts {
    Table,
    OrganisationId,
    Entity,
    RecordId,
}
