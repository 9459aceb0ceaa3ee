//! The partner inbox (issue 14). A partner service of one organisation's
//! directory can be linked to another organisation on Outpost
//! (`partner_services.linked_organisation_id`), with a one-time code the
//! partner's admin gave (`partner_link_codes`, kept as a hash). A referral
//! sent to a linked service under consent is shared with the partner
//! (`referral_shares`, the partner's rows: its inbox, with `ended_at` once
//! consent no longer covers it). Steps the partner records carry who did
//! (`referral_steps.partner_organisation_id`, `partner_user_id`).

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
            .alter_table(
                Table::alter()
                    .table(PartnerServices::Table)
                    .add_column(uuid_null(PartnerServices::LinkedOrganisationId))
                    .to_owned(),
            )
            .await?;
        for mut column in [
            uuid_null(ReferralSteps::PartnerOrganisationId),
            uuid_null(ReferralSteps::PartnerUserId),
        ] {
            manager
                .alter_table(
                    Table::alter().table(ReferralSteps::Table).add_column(&mut column).to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(PartnerLinkCodes::Table)
                    .col(uuid(PartnerLinkCodes::Id).primary_key())
                    .col(uuid(PartnerLinkCodes::OrganisationId))
                    .col(string_len(PartnerLinkCodes::CodeHash, 64).unique_key())
                    .col(timestamp_with_time_zone(PartnerLinkCodes::ExpiresAt))
                    .col(timestamp_with_time_zone_null(PartnerLinkCodes::UsedAt))
                    .col(uuid_null(PartnerLinkCodes::CreatedBy))
                    .col(timestamp_with_time_zone(PartnerLinkCodes::CreatedAt))
                    .foreign_key(&mut organisation_fk(
                        PartnerLinkCodes::Table,
                        PartnerLinkCodes::OrganisationId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReferralShares::Table)
                    .col(uuid(ReferralShares::OrganisationId))
                    .col(uuid(ReferralShares::ReferralId))
                    .col(uuid(ReferralShares::ReferrerOrganisationId))
                    .col(uuid(ReferralShares::PartnerServiceId))
                    .col(uuid(ReferralShares::PersonId))
                    .col(boolean(ReferralShares::Identifiable))
                    .col(big_integer(ReferralShares::Version))
                    .col(timestamp_with_time_zone(ReferralShares::SharedAt))
                    .col(timestamp_with_time_zone_null(ReferralShares::EndedAt))
                    .primary_key(
                        Index::create()
                            .col(ReferralShares::OrganisationId)
                            .col(ReferralShares::ReferralId),
                    )
                    .foreign_key(&mut organisation_fk(
                        ReferralShares::Table,
                        ReferralShares::OrganisationId,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_referral_shares_referral",
            ReferralShares::Table,
            vec![ReferralShares::ReferrerOrganisationId, ReferralShares::ReferralId],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ReferralShares::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(PartnerLinkCodes::Table).to_owned()).await?;
        for column in [ReferralSteps::PartnerOrganisationId, ReferralSteps::PartnerUserId] {
            manager
                .alter_table(
                    Table::alter().table(ReferralSteps::Table).drop_column(column).to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(PartnerServices::Table)
                    .drop_column(PartnerServices::LinkedOrganisationId)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum PartnerServices {
    Table,
    LinkedOrganisationId,
}

#[derive(DeriveIden)]
enum ReferralSteps {
    Table,
    PartnerOrganisationId,
    PartnerUserId,
}

#[derive(DeriveIden)]
enum PartnerLinkCodes {
    Table,
    Id,
    OrganisationId,
    CodeHash,
    ExpiresAt,
    UsedAt,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ReferralShares {
    Table,
    OrganisationId,
    ReferralId,
    ReferrerOrganisationId,
    PartnerServiceId,
    PersonId,
    Identifiable,
    Version,
    SharedAt,
    EndedAt,
}
