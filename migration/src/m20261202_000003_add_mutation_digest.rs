//! `sync_mutations.digest`: a digest of what a mutation changes (its op,
//! base version and fields), so a mutation id sent again for a different
//! change of the same record is refused rather than answered as a replay.
//! Nullable: rows logged before it compare by record only, as they did.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SyncMutations::Table)
                    .add_column(string_len_null(SyncMutations::Digest, 64))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SyncMutations::Table)
                    .drop_column(SyncMutations::Digest)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum SyncMutations {
    Table,
    Digest,
}
