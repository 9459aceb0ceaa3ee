//! `referral_deadlines`: per organisation and urgency, how long a partner
//! has to respond to a sent referral before it is overdue, and how long
//! an unanswered one stays open before the server expires it. An
//! urgency without a row takes the defaults in the API's code.

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
                    .table(ReferralDeadlines::Table)
                    .col(uuid(ReferralDeadlines::OrganisationId))
                    .col(string_len(ReferralDeadlines::Urgency, 16))
                    .col(big_integer(ReferralDeadlines::RespondWithinMinutes))
                    .col(big_integer(ReferralDeadlines::ExpireAfterMinutes))
                    .col(big_integer(ReferralDeadlines::Version))
                    .col(timestamp_with_time_zone(ReferralDeadlines::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(ReferralDeadlines::OrganisationId)
                            .col(ReferralDeadlines::Urgency),
                    )
                    .foreign_key(&mut organisation_fk(
                        ReferralDeadlines::Table,
                        ReferralDeadlines::OrganisationId,
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ReferralDeadlines::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum ReferralDeadlines {
    Table,
    OrganisationId,
    Urgency,
    RespondWithinMinutes,
    ExpireAfterMinutes,
    Version,
    UpdatedAt,
}
