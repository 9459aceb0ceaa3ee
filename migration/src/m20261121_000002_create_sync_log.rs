//! The sync engine's own tables: the per-organisation change counter, the
//! change feed, the mutation log that makes pushes idempotent, and conflicts.

use sea_orm_migration::{prelude::*, schema::*};

use crate::schema_helpers::{index, organisation_fk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One row per organisation. Writers take its row lock (by bumping
        // `last_seq`) at the end of their transaction, so change numbers
        // commit in order and a reader can never skip one (sync.md #4).
        manager
            .create_table(
                Table::create()
                    .table(SyncCounters::Table)
                    .col(uuid(SyncCounters::OrganisationId).primary_key())
                    .col(big_integer(SyncCounters::LastSeq))
                    .col(big_integer(SyncCounters::HorizonSeq))
                    .foreign_key(&mut organisation_fk(
                        SyncCounters::Table,
                        SyncCounters::OrganisationId,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SyncChanges::Table)
                    .col(uuid(SyncChanges::OrganisationId))
                    .col(big_integer(SyncChanges::Seq))
                    .col(string_len(SyncChanges::Entity, 32))
                    .col(uuid(SyncChanges::RecordId))
                    .col(string_len(SyncChanges::Op, 8))
                    .col(big_integer(SyncChanges::Version))
                    .col(string_len(SyncChanges::Visibility, 8))
                    .col(uuid_null(SyncChanges::SiteId))
                    .col(uuid_null(SyncChanges::OwnerUserId))
                    .col(uuid_null(SyncChanges::AudienceUserId))
                    .col(timestamp_with_time_zone(SyncChanges::ChangedAt))
                    .primary_key(
                        Index::create().col(SyncChanges::OrganisationId).col(SyncChanges::Seq),
                    )
                    .foreign_key(&mut organisation_fk(
                        SyncChanges::Table,
                        SyncChanges::OrganisationId,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_sync_changes_record",
            SyncChanges::Table,
            vec![SyncChanges::OrganisationId, SyncChanges::RecordId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(SyncMutations::Table)
                    .col(uuid(SyncMutations::OrganisationId))
                    .col(uuid(SyncMutations::MutationId))
                    .col(uuid_null(SyncMutations::UserId))
                    .col(uuid_null(SyncMutations::DeviceId))
                    .col(uuid_null(SyncMutations::ApiKeyId))
                    .col(string_len(SyncMutations::Entity, 32))
                    .col(uuid(SyncMutations::RecordId))
                    .col(string_len(SyncMutations::Outcome, 16))
                    .col(text(SyncMutations::Result))
                    .col(timestamp_with_time_zone(SyncMutations::ReceivedAt))
                    .primary_key(
                        Index::create()
                            .col(SyncMutations::OrganisationId)
                            .col(SyncMutations::MutationId),
                    )
                    .foreign_key(&mut organisation_fk(
                        SyncMutations::Table,
                        SyncMutations::OrganisationId,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SyncConflicts::Table)
                    .col(uuid(SyncConflicts::Id).primary_key())
                    .col(uuid(SyncConflicts::OrganisationId))
                    .col(string_len(SyncConflicts::Entity, 32))
                    .col(uuid(SyncConflicts::RecordId))
                    .col(text(SyncConflicts::Fields))
                    .col(big_integer(SyncConflicts::BaseVersion))
                    .col(big_integer(SyncConflicts::ServerVersion))
                    .col(uuid_null(SyncConflicts::RaisedBy))
                    .col(uuid_null(SyncConflicts::DeviceId))
                    .col(uuid(SyncConflicts::MutationId))
                    .col(string_len(SyncConflicts::Status, 16))
                    .col(string_len_null(SyncConflicts::Resolution, 16))
                    .col(text_null(SyncConflicts::ResolvedValues))
                    .col(uuid_null(SyncConflicts::ResolvedBy))
                    .col(timestamp_with_time_zone_null(SyncConflicts::ResolvedAt))
                    .col(big_integer(SyncConflicts::Version))
                    .col(timestamp_with_time_zone(SyncConflicts::CreatedAt))
                    .col(timestamp_with_time_zone(SyncConflicts::UpdatedAt))
                    .foreign_key(&mut organisation_fk(
                        SyncConflicts::Table,
                        SyncConflicts::OrganisationId,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_sync_conflicts_status",
            SyncConflicts::Table,
            vec![SyncConflicts::OrganisationId, SyncConflicts::Status],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SyncConflicts::Table.into_iden(),
            SyncMutations::Table.into_iden(),
            SyncChanges::Table.into_iden(),
            SyncCounters::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum SyncCounters {
    Table,
    OrganisationId,
    LastSeq,
    HorizonSeq,
}

#[derive(DeriveIden)]
enum SyncChanges {
    Table,
    OrganisationId,
    Seq,
    Entity,
    RecordId,
    Op,
    Version,
    Visibility,
    SiteId,
    OwnerUserId,
    AudienceUserId,
    ChangedAt,
}

#[derive(DeriveIden)]
enum SyncMutations {
    Table,
    OrganisationId,
    MutationId,
    UserId,
    DeviceId,
    ApiKeyId,
    Entity,
    RecordId,
    Outcome,
    Result,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum SyncConflicts {
    Table,
    Id,
    OrganisationId,
    Entity,
    RecordId,
    Fields,
    BaseVersion,
    ServerVersion,
    RaisedBy,
    DeviceId,
    MutationId,
    Status,
    Resolution,
    ResolvedValues,
    ResolvedBy,
    ResolvedAt,
    Version,
    CreatedAt,
    UpdatedAt,
}
