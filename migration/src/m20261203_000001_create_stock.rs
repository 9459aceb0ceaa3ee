//! Stock: where kit is kept (`stock_locations`: a site's store, a van, an
//! outreach bag), the append-only ledger devices and managers record
//! (`stock_entries`: receipts, transfers, stocktakes, write-offs), the
//! movements the server derives from it and from contacts' kit lines
//! (`stock_movements`, one row per location and item affected), and the
//! on-hand figure per location and item (`stock_levels`), kept equal to the
//! sum of the movements in the transaction that writes them.
//!
//! The ledger tables carry no foreign keys: like the other tables sync
//! writes per record (m20261202_000004), every reference is checked by the
//! server in the batch and counted by `outpost admin check`.

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
        manager
            .create_table(
                Table::create()
                    .table(StockLocations::Table)
                    .col(uuid(StockLocations::Id).primary_key())
                    .col(uuid(StockLocations::OrganisationId))
                    .col(uuid(StockLocations::SiteId))
                    .col(string_len(StockLocations::Kind, 16))
                    .col(string_len(StockLocations::Name, 200))
                    .col(big_integer(StockLocations::Version))
                    .col(timestamp_with_time_zone_null(StockLocations::ArchivedAt))
                    .col(timestamp_with_time_zone(StockLocations::CreatedAt))
                    .col(timestamp_with_time_zone(StockLocations::UpdatedAt))
                    .foreign_key(&mut organisation_fk(
                        StockLocations::Table,
                        StockLocations::OrganisationId,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_stock_locations_site",
            StockLocations::Table,
            vec![StockLocations::OrganisationId, StockLocations::SiteId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(StockEntries::Table)
                    .col(uuid(StockEntries::Id).primary_key())
                    .col(uuid(StockEntries::OrganisationId))
                    .col(big_integer(StockEntries::Version))
                    .col(string_len(StockEntries::Kind, 16))
                    .col(timestamp_with_time_zone(StockEntries::OccurredAt))
                    .col(uuid(StockEntries::LocationId))
                    .col(uuid_null(StockEntries::ToLocationId))
                    .col(uuid(StockEntries::SiteId))
                    .col(string_len(StockEntries::ItemCode, 48))
                    .col(integer(StockEntries::Quantity))
                    .col(big_integer_null(StockEntries::Difference))
                    .col(string_len_null(StockEntries::Reason, 32))
                    .col(string_len_null(StockEntries::Supplier, 200))
                    .col(string_len_null(StockEntries::Batch, 64))
                    .col(date_null(StockEntries::ExpiresOn))
                    .col(text_null(StockEntries::Note))
                    .col(uuid_null(StockEntries::RecordedBy))
                    .col(uuid_null(StockEntries::DeviceId))
                    .col(timestamp_with_time_zone(StockEntries::CreatedAt))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_stock_entries_location",
            StockEntries::Table,
            vec![StockEntries::OrganisationId, StockEntries::LocationId, StockEntries::OccurredAt],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(StockMovements::Table)
                    .col(uuid(StockMovements::Id).primary_key())
                    .col(uuid(StockMovements::OrganisationId))
                    .col(uuid(StockMovements::LocationId))
                    .col(string_len(StockMovements::ItemCode, 48))
                    .col(big_integer(StockMovements::Delta))
                    .col(timestamp_with_time_zone(StockMovements::OccurredAt))
                    .col(string_len(StockMovements::Cause, 16))
                    .col(uuid(StockMovements::SourceId))
                    .col(uuid_null(StockMovements::AbsorbedBy))
                    .col(timestamp_with_time_zone(StockMovements::CreatedAt))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_stock_movements_item",
            StockMovements::Table,
            vec![
                StockMovements::OrganisationId,
                StockMovements::LocationId,
                StockMovements::ItemCode,
                StockMovements::OccurredAt,
            ],
        )
        .await?;
        // The stocktakes of a location and item from a moment on, read by
        // every batch that books movements: only the counts, so the read
        // does not grow with the kit handed out at that moment.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_stock_movements_counts ON stock_movements \
                 (organisation_id, location_id, item_code, occurred_at) WHERE cause = 'stocktake'",
            )
            .await?;
        index(
            manager,
            "idx_stock_movements_source",
            StockMovements::Table,
            vec![StockMovements::OrganisationId, StockMovements::SourceId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(StockLevels::Table)
                    .col(uuid(StockLevels::OrganisationId))
                    .col(uuid(StockLevels::LocationId))
                    .col(string_len(StockLevels::ItemCode, 48))
                    .col(big_integer(StockLevels::OnHand))
                    .col(timestamp_with_time_zone(StockLevels::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .name("stock_levels_pkey")
                            .col(StockLevels::OrganisationId)
                            .col(StockLevels::LocationId)
                            .col(StockLevels::ItemCode),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            StockLevels::Table.into_iden(),
            StockMovements::Table.into_iden(),
            StockEntries::Table.into_iden(),
            StockLocations::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum StockLocations {
    Table,
    Id,
    OrganisationId,
    SiteId,
    Kind,
    Name,
    Version,
    ArchivedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum StockEntries {
    Table,
    Id,
    OrganisationId,
    Version,
    Kind,
    OccurredAt,
    LocationId,
    ToLocationId,
    SiteId,
    ItemCode,
    Quantity,
    Difference,
    Reason,
    Supplier,
    Batch,
    ExpiresOn,
    Note,
    RecordedBy,
    DeviceId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum StockMovements {
    Table,
    Id,
    OrganisationId,
    LocationId,
    ItemCode,
    Delta,
    OccurredAt,
    Cause,
    SourceId,
    AbsorbedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum StockLevels {
    Table,
    OrganisationId,
    LocationId,
    ItemCode,
    OnHand,
    UpdatedAt,
}
