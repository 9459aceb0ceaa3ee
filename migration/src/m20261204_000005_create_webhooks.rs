//! Webhooks (issue 14): an organisation's endpoints (`webhook_endpoints`:
//! URL and events; the signing secret is derived from the server's key
//! and never stored), the deliveries queued in the same transaction as
//! the referral change they announce (`webhook_deliveries`, claimed by one
//! instance at a time), and every attempt (`webhook_attempts`).

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
                    .table(WebhookEndpoints::Table)
                    .col(uuid(WebhookEndpoints::Id).primary_key())
                    .col(uuid(WebhookEndpoints::OrganisationId))
                    .col(text(WebhookEndpoints::Url))
                    .col(text(WebhookEndpoints::Events))
                    .col(timestamp_with_time_zone(WebhookEndpoints::CreatedAt))
                    .col(timestamp_with_time_zone_null(WebhookEndpoints::DisabledAt))
                    .foreign_key(&mut organisation_fk(
                        WebhookEndpoints::Table,
                        WebhookEndpoints::OrganisationId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(uuid(WebhookDeliveries::Id).primary_key())
                    .col(uuid(WebhookDeliveries::OrganisationId))
                    .col(uuid(WebhookDeliveries::EndpointId))
                    .col(string_len(WebhookDeliveries::Event, 48))
                    .col(text(WebhookDeliveries::Payload))
                    .col(string_len(WebhookDeliveries::Status, 16))
                    .col(integer(WebhookDeliveries::Attempts))
                    .col(timestamp_with_time_zone(WebhookDeliveries::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(WebhookDeliveries::LockedUntil))
                    .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                    .col(timestamp_with_time_zone_null(WebhookDeliveries::DeliveredAt))
                    .foreign_key(&mut organisation_fk(
                        WebhookDeliveries::Table,
                        WebhookDeliveries::OrganisationId,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_webhook_deliveries_due",
            WebhookDeliveries::Table,
            vec![WebhookDeliveries::Status, WebhookDeliveries::NextAttemptAt],
        )
        .await?;
        index(
            manager,
            "idx_webhook_deliveries_endpoint",
            WebhookDeliveries::Table,
            vec![WebhookDeliveries::OrganisationId, WebhookDeliveries::EndpointId],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookAttempts::Table)
                    .col(uuid(WebhookAttempts::Id).primary_key())
                    .col(uuid(WebhookAttempts::OrganisationId))
                    .col(uuid(WebhookAttempts::DeliveryId))
                    .col(timestamp_with_time_zone(WebhookAttempts::AttemptedAt))
                    .col(integer_null(WebhookAttempts::StatusCode))
                    .col(big_integer(WebhookAttempts::LatencyMs))
                    .col(text_null(WebhookAttempts::Error))
                    .foreign_key(&mut organisation_fk(
                        WebhookAttempts::Table,
                        WebhookAttempts::OrganisationId,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_webhook_attempts_delivery",
            WebhookAttempts::Table,
            vec![WebhookAttempts::OrganisationId, WebhookAttempts::DeliveryId],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(WebhookAttempts::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(WebhookEndpoints::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Id,
    OrganisationId,
    Url,
    Events,
    CreatedAt,
    DisabledAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    OrganisationId,
    EndpointId,
    Event,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    LockedUntil,
    CreatedAt,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum WebhookAttempts {
    Table,
    Id,
    OrganisationId,
    DeliveryId,
    AttemptedAt,
    StatusCode,
    LatencyMs,
    Error,
}
