//! Reference data the field records validate against, editable by admins and
//! synced to every device: the kit catalogue, substances with their street
//! names, and the partner services referrals go to.
//!
//! Each row carries a `version` bumped on every change (the change feed's
//! version) and is archived, never deleted: old records keep resolving.
//! Lists that are read whole and never counted row by row (pack components,
//! aliases) are JSON text validated by the server.

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
                    .table(KitItems::Table)
                    .col(uuid(KitItems::Id).primary_key())
                    .col(uuid(KitItems::OrganisationId))
                    .col(string_len(KitItems::Code, 48))
                    .col(string_len(KitItems::Name, 200))
                    .col(string_len(KitItems::Category, 32))
                    .col(string_len(KitItems::Unit, 48))
                    .col(text(KitItems::Components))
                    .col(big_integer(KitItems::Version))
                    .col(timestamp_with_time_zone_null(KitItems::ArchivedAt))
                    .col(timestamp_with_time_zone(KitItems::CreatedAt))
                    .col(timestamp_with_time_zone(KitItems::UpdatedAt))
                    .foreign_key(&mut organisation_fk(KitItems::Table, KitItems::OrganisationId))
                    .to_owned(),
            )
            .await?;
        unique_code(
            manager,
            "uq_kit_items_code",
            KitItems::Table,
            KitItems::OrganisationId,
            KitItems::Code,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Substances::Table)
                    .col(uuid(Substances::Id).primary_key())
                    .col(uuid(Substances::OrganisationId))
                    .col(string_len(Substances::Code, 48))
                    .col(string_len(Substances::Name, 200))
                    .col(string_len(Substances::Category, 32))
                    .col(text(Substances::Aliases))
                    .col(big_integer(Substances::Version))
                    .col(timestamp_with_time_zone_null(Substances::ArchivedAt))
                    .col(timestamp_with_time_zone(Substances::CreatedAt))
                    .col(timestamp_with_time_zone(Substances::UpdatedAt))
                    .foreign_key(&mut organisation_fk(
                        Substances::Table,
                        Substances::OrganisationId,
                    ))
                    .to_owned(),
            )
            .await?;
        unique_code(
            manager,
            "uq_substances_code",
            Substances::Table,
            Substances::OrganisationId,
            Substances::Code,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(PartnerServices::Table)
                    .col(uuid(PartnerServices::Id).primary_key())
                    .col(uuid(PartnerServices::OrganisationId))
                    .col(string_len(PartnerServices::Name, 200))
                    .col(string_len(PartnerServices::ServiceType, 32))
                    .col(text_null(PartnerServices::ContactRoute))
                    .col(text_null(PartnerServices::OpeningHours))
                    .col(string_len_null(PartnerServices::Area, 200))
                    .col(big_integer(PartnerServices::Version))
                    .col(timestamp_with_time_zone_null(PartnerServices::ArchivedAt))
                    .col(timestamp_with_time_zone(PartnerServices::CreatedAt))
                    .col(timestamp_with_time_zone(PartnerServices::UpdatedAt))
                    .foreign_key(&mut organisation_fk(
                        PartnerServices::Table,
                        PartnerServices::OrganisationId,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_partner_services_org",
            PartnerServices::Table,
            vec![PartnerServices::OrganisationId, PartnerServices::Name],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            PartnerServices::Table.into_iden(),
            Substances::Table.into_iden(),
            KitItems::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

/// A unique index on `(organisation_id, code)`: codes are what field records
/// store, so one organisation never has two rows with the same code.
async fn unique_code<T, C>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    organisation_id: C,
    code: C,
) -> Result<(), DbErr>
where
    T: IntoTableRef,
    C: IntoIndexColumn,
{
    manager
        .create_index(
            Index::create()
                .name(name)
                .table(table)
                .col(organisation_id)
                .col(code)
                .unique()
                .to_owned(),
        )
        .await
}

#[derive(DeriveIden)]
enum KitItems {
    Table,
    Id,
    OrganisationId,
    Code,
    Name,
    Category,
    Unit,
    Components,
    Version,
    ArchivedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Substances {
    Table,
    Id,
    OrganisationId,
    Code,
    Name,
    Category,
    Aliases,
    Version,
    ArchivedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PartnerServices {
    Table,
    Id,
    OrganisationId,
    Name,
    ServiceType,
    ContactRoute,
    OpeningHours,
    Area,
    Version,
    ArchivedAt,
    CreatedAt,
    UpdatedAt,
}
