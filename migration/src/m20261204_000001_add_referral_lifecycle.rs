//! The referral lifecycle (issue 14). Each step gains what its move needs
//! (`reason` for a decline, `outcome` for a close, `appointment_at` for a
//! booking), a `flag` the server sets when a step that arrived late makes
//! a later one illegal in `occurred_at` order (kept, shown to managers),
//! and a `version` that moves when that flag does. Each referral gains
//! what its steps derive: when it was sent, the deadline to respond and
//! to expire, when the server found it overdue, and the times to
//! acknowledgement, acceptance and first appointment.

use sea_orm_migration::{prelude::*, schema::*};

use crate::schema_helpers::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        let steps = [
            big_integer(ReferralSteps::Version).default(1).to_owned(),
            text_null(ReferralSteps::Flag),
            text_null(ReferralSteps::Reason),
            string_len_null(ReferralSteps::Outcome, 32),
            timestamp_with_time_zone_null(ReferralSteps::AppointmentAt),
        ];
        for mut column in steps {
            manager
                .alter_table(
                    Table::alter().table(ReferralSteps::Table).add_column(&mut column).to_owned(),
                )
                .await?;
        }
        let referrals = [
            timestamp_with_time_zone_null(Referrals::SentAt),
            timestamp_with_time_zone_null(Referrals::RespondBy),
            timestamp_with_time_zone_null(Referrals::ExpiresAt),
            timestamp_with_time_zone_null(Referrals::OverdueAt),
            timestamp_with_time_zone_null(Referrals::FirstAppointmentAt),
            big_integer_null(Referrals::SecondsToAcknowledgement),
            big_integer_null(Referrals::SecondsToAcceptance),
            big_integer_null(Referrals::SecondsToFirstAppointment),
        ];
        for mut column in referrals {
            manager
                .alter_table(
                    Table::alter().table(Referrals::Table).add_column(&mut column).to_owned(),
                )
                .await?;
        }
        // Referrals sent before this migration: when they were sent. Their
        // deadlines start with their next step (the walk fills them).
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE referrals SET sent_at = (SELECT min(s.occurred_at) FROM referral_steps s \
                 WHERE s.referral_id = referrals.id AND s.status = 'sent')",
            )
            .await?;
        // The managers' list of flagged steps: few, among many.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_referral_steps_flagged ON referral_steps \
                 (organisation_id, occurred_at) WHERE flag IS NOT NULL",
            )
            .await?;
        // The deadline job's two questions, per organisation and status.
        index(
            manager,
            "idx_referrals_respond_by",
            Referrals::Table,
            vec![Referrals::OrganisationId, Referrals::Status, Referrals::RespondBy],
        )
        .await?;
        index(
            manager,
            "idx_referrals_expires_at",
            Referrals::Table,
            vec![Referrals::OrganisationId, Referrals::Status, Referrals::ExpiresAt],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in
            ["idx_referrals_respond_by", "idx_referrals_expires_at", "idx_referral_steps_flagged"]
        {
            manager.drop_index(Index::drop().name(name).to_owned()).await?;
        }
        for column in [
            ReferralSteps::Version,
            ReferralSteps::Flag,
            ReferralSteps::Reason,
            ReferralSteps::Outcome,
            ReferralSteps::AppointmentAt,
        ] {
            manager
                .alter_table(
                    Table::alter().table(ReferralSteps::Table).drop_column(column).to_owned(),
                )
                .await?;
        }
        for column in [
            Referrals::SentAt,
            Referrals::RespondBy,
            Referrals::ExpiresAt,
            Referrals::OverdueAt,
            Referrals::FirstAppointmentAt,
            Referrals::SecondsToAcknowledgement,
            Referrals::SecondsToAcceptance,
            Referrals::SecondsToFirstAppointment,
        ] {
            manager
                .alter_table(Table::alter().table(Referrals::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum ReferralSteps {
    Table,
    Version,
    Flag,
    Reason,
    Outcome,
    AppointmentAt,
}

#[derive(DeriveIden)]
enum Referrals {
    Table,
    OrganisationId,
    Status,
    SentAt,
    RespondBy,
    ExpiresAt,
    OverdueAt,
    FirstAppointmentAt,
    SecondsToAcknowledgement,
    SecondsToAcceptance,
    SecondsToFirstAppointment,
}
