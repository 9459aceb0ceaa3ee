//! `consents` and `consent_revocations` (issue 14): what a person agreed
//! to (purposes, the partner services it covers, how, when, until when),
//! appended; a revocation is a record of its own, and the consent it ends
//! carries `revoked_at` (its earliest), so what applied at any moment can
//! be shown from the two.

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
                    .table(Consents::Table)
                    .col(uuid(Consents::Id).primary_key())
                    .col(uuid(Consents::OrganisationId))
                    .col(big_integer(Consents::Version))
                    .col(uuid(Consents::PersonId))
                    .col(text(Consents::Purposes))
                    .col(text(Consents::PartnerServiceIds))
                    .col(string_len(Consents::How, 16))
                    .col(timestamp_with_time_zone(Consents::OccurredAt))
                    .col(timestamp_with_time_zone_null(Consents::ExpiresAt))
                    .col(text_null(Consents::Note))
                    .col(timestamp_with_time_zone_null(Consents::RevokedAt))
                    .col(uuid_null(Consents::RecordedBy))
                    .col(uuid_null(Consents::DeviceId))
                    .col(timestamp_with_time_zone(Consents::CreatedAt))
                    .foreign_key(&mut organisation_fk(Consents::Table, Consents::OrganisationId))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_consents_person",
            Consents::Table,
            vec![Consents::OrganisationId, Consents::PersonId],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(ConsentRevocations::Table)
                    .col(uuid(ConsentRevocations::Id).primary_key())
                    .col(uuid(ConsentRevocations::OrganisationId))
                    .col(uuid(ConsentRevocations::ConsentId))
                    .col(uuid(ConsentRevocations::PersonId))
                    .col(string_len(ConsentRevocations::How, 16))
                    .col(timestamp_with_time_zone(ConsentRevocations::OccurredAt))
                    .col(text_null(ConsentRevocations::Note))
                    .col(uuid_null(ConsentRevocations::RecordedBy))
                    .col(uuid_null(ConsentRevocations::DeviceId))
                    .col(timestamp_with_time_zone(ConsentRevocations::CreatedAt))
                    .foreign_key(&mut organisation_fk(
                        ConsentRevocations::Table,
                        ConsentRevocations::OrganisationId,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_consent_revocations_consent",
            ConsentRevocations::Table,
            vec![ConsentRevocations::OrganisationId, ConsentRevocations::ConsentId],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ConsentRevocations::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Consents::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Consents {
    Table,
    Id,
    OrganisationId,
    Version,
    PersonId,
    Purposes,
    PartnerServiceIds,
    How,
    OccurredAt,
    ExpiresAt,
    Note,
    RevokedAt,
    RecordedBy,
    DeviceId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ConsentRevocations {
    Table,
    Id,
    OrganisationId,
    ConsentId,
    PersonId,
    How,
    OccurredAt,
    Note,
    RecordedBy,
    DeviceId,
    CreatedAt,
}
