//! `stock_thresholds`: the least a location should hold of an item before
//! the next round. `below` records whether on-hand was under it when the
//! ledger last moved: a change of it puts the threshold on the feed of
//! the location's site, so its staff's devices learn what ran low.

use sea_orm_migration::{prelude::*, schema::*};

use crate::schema_helpers::organisation_fk;

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
                    .table(StockThresholds::Table)
                    .col(uuid(StockThresholds::Id).primary_key())
                    .col(uuid(StockThresholds::OrganisationId))
                    .col(uuid(StockThresholds::LocationId))
                    .col(uuid(StockThresholds::SiteId))
                    .col(string_len(StockThresholds::ItemCode, 48))
                    .col(big_integer(StockThresholds::Minimum))
                    .col(boolean(StockThresholds::Below))
                    .col(big_integer(StockThresholds::Version))
                    .col(timestamp_with_time_zone(StockThresholds::CreatedAt))
                    .col(timestamp_with_time_zone(StockThresholds::UpdatedAt))
                    .foreign_key(&mut organisation_fk(
                        StockThresholds::Table,
                        StockThresholds::OrganisationId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_stock_thresholds_item")
                    .table(StockThresholds::Table)
                    .col(StockThresholds::OrganisationId)
                    .col(StockThresholds::LocationId)
                    .col(StockThresholds::ItemCode)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(StockThresholds::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum StockThresholds {
    Table,
    Id,
    OrganisationId,
    LocationId,
    SiteId,
    ItemCode,
    Minimum,
    Below,
    Version,
    CreatedAt,
    UpdatedAt,
}
