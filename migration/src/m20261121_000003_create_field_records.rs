//! The records workers capture in the field: people, contacts with their kit
//! lines, incidents, referrals and their status steps.
//!
//! Every synced record carries its server `version`; the editable ones
//! (people, referrals) also carry `field_versions`, the version at which each
//! field last changed, which the three-way merge needs. Lists that reports
//! do not count row by row (interventions, worker ids, risk flags) are JSON
//! text validated by the server; what reports count (kit lines, types,
//! outcomes, sites, times) has its own typed column or table.

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
        create_persons(manager).await?;
        create_contacts(manager).await?;
        create_incidents(manager).await?;
        create_referrals(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ReferralSteps::Table.into_iden(),
            Referrals::Table.into_iden(),
            Incidents::Table.into_iden(),
            KitLines::Table.into_iden(),
            Contacts::Table.into_iden(),
            RecordRevisions::Table.into_iden(),
            Persons::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

async fn create_persons(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Persons::Table)
                .col(uuid(Persons::Id).primary_key())
                .col(uuid(Persons::OrganisationId))
                .col(big_integer(Persons::Version))
                .col(text(Persons::FieldVersions))
                .col(string_len_null(Persons::Alias, 100))
                .col(string_len_null(Persons::Initials, 8))
                .col(string_len(Persons::NameQuality, 16))
                .col(integer_null(Persons::BirthYear))
                .col(date_null(Persons::BirthDate))
                .col(string_len(Persons::DobQuality, 16))
                .col(string_len_null(Persons::Gender, 24))
                .col(text_null(Persons::Description))
                .col(text(Persons::RiskFlags))
                .col(string_len_null(Persons::NhsNumber, 10))
                .col(string_len_null(Persons::ChainId, 32))
                .col(uuid_null(Persons::CreatedBy))
                .col(timestamp_with_time_zone(Persons::CreatedAt))
                .col(timestamp_with_time_zone(Persons::UpdatedAt))
                .col(timestamp_with_time_zone_null(Persons::DeletedAt))
                .foreign_key(&mut organisation_fk(Persons::Table, Persons::OrganisationId))
                .to_owned(),
        )
        .await?;
    index(manager, "idx_persons_org", Persons::Table, vec![Persons::OrganisationId, Persons::Id])
        .await?;

    // Every version of an editable record (people, referrals), whole: the
    // audit of who changed what, and the base a conflict shows beside both
    // sides.
    manager
        .create_table(
            Table::create()
                .table(RecordRevisions::Table)
                .col(string_len(RecordRevisions::Entity, 32))
                .col(uuid(RecordRevisions::RecordId))
                .col(big_integer(RecordRevisions::Version))
                .col(uuid(RecordRevisions::OrganisationId))
                .col(text(RecordRevisions::Snapshot))
                .col(uuid_null(RecordRevisions::ChangedBy))
                .col(uuid_null(RecordRevisions::DeviceId))
                .col(timestamp_with_time_zone(RecordRevisions::ChangedAt))
                .primary_key(
                    Index::create()
                        .col(RecordRevisions::Entity)
                        .col(RecordRevisions::RecordId)
                        .col(RecordRevisions::Version),
                )
                .foreign_key(&mut organisation_fk(
                    RecordRevisions::Table,
                    RecordRevisions::OrganisationId,
                ))
                .to_owned(),
        )
        .await?;
    Ok(())
}

async fn create_contacts(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Contacts::Table)
                .col(uuid(Contacts::Id).primary_key())
                .col(uuid(Contacts::OrganisationId))
                .col(big_integer(Contacts::Version))
                .col(timestamp_with_time_zone(Contacts::OccurredAt))
                .col(uuid_null(Contacts::SiteId))
                .col(string_len_null(Contacts::LocationArea, 100))
                .col(uuid_null(Contacts::PersonId))
                .col(text(Contacts::WorkerIds))
                .col(string_len(Contacts::ContactType, 24))
                .col(string_len_null(Contacts::LivingSituation, 24))
                .col(text(Contacts::Interventions))
                .col(text(Contacts::Substances))
                .col(text_null(Contacts::Note))
                .col(integer(Contacts::ReturnsCount))
                .col(boolean(Contacts::ReturnsEstimated))
                .col(uuid_null(Contacts::RecordedBy))
                .col(uuid_null(Contacts::DeviceId))
                .col(timestamp_with_time_zone(Contacts::CreatedAt))
                .col(timestamp_with_time_zone(Contacts::UpdatedAt))
                .col(timestamp_with_time_zone_null(Contacts::DeletedAt))
                .foreign_key(&mut organisation_fk(Contacts::Table, Contacts::OrganisationId))
                .foreign_key(
                    ForeignKey::create()
                        .from(Contacts::Table, Contacts::PersonId)
                        .to(Persons::Table, Persons::Id),
                )
                .to_owned(),
        )
        .await?;
    index(
        manager,
        "idx_contacts_org_occurred",
        Contacts::Table,
        vec![Contacts::OrganisationId, Contacts::OccurredAt],
    )
    .await?;
    index(manager, "idx_contacts_person", Contacts::Table, vec![Contacts::PersonId]).await?;

    manager
        .create_table(
            Table::create()
                .table(KitLines::Table)
                .col(uuid(KitLines::Id).primary_key())
                .col(uuid(KitLines::OrganisationId))
                .col(uuid(KitLines::ContactId))
                .col(small_integer(KitLines::Position))
                .col(string_len(KitLines::ItemCode, 48))
                .col(integer(KitLines::Quantity))
                .col(integer(KitLines::ForOthers))
                .foreign_key(
                    ForeignKey::create()
                        .from(KitLines::Table, KitLines::ContactId)
                        .to(Contacts::Table, Contacts::Id),
                )
                .to_owned(),
        )
        .await?;
    index(manager, "idx_kit_lines_contact", KitLines::Table, vec![KitLines::ContactId]).await
}

async fn create_incidents(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Incidents::Table)
                .col(uuid(Incidents::Id).primary_key())
                .col(uuid(Incidents::OrganisationId))
                .col(big_integer(Incidents::Version))
                .col(timestamp_with_time_zone(Incidents::OccurredAt))
                .col(uuid_null(Incidents::SiteId))
                .col(string_len_null(Incidents::LocationArea, 100))
                .col(string_len(Incidents::IncidentType, 32))
                .col(string_len(Incidents::Severity, 16))
                .col(text(Incidents::People))
                .col(text(Incidents::Substances))
                .col(boolean(Incidents::AmbulanceCalled))
                .col(boolean(Incidents::AmbulanceArrived))
                .col(integer(Incidents::NaloxoneDoses))
                .col(boolean(Incidents::RescueBreaths))
                .col(string_len_null(Incidents::Outcome, 32))
                .col(text_null(Incidents::Note))
                .col(uuid_null(Incidents::RecordedBy))
                .col(uuid_null(Incidents::DeviceId))
                .col(timestamp_with_time_zone(Incidents::CreatedAt))
                .col(timestamp_with_time_zone(Incidents::UpdatedAt))
                .col(timestamp_with_time_zone_null(Incidents::DeletedAt))
                .foreign_key(&mut organisation_fk(Incidents::Table, Incidents::OrganisationId))
                .to_owned(),
        )
        .await?;
    index(
        manager,
        "idx_incidents_org_occurred",
        Incidents::Table,
        vec![Incidents::OrganisationId, Incidents::OccurredAt],
    )
    .await
}

async fn create_referrals(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Referrals::Table)
                .col(uuid(Referrals::Id).primary_key())
                .col(uuid(Referrals::OrganisationId))
                .col(big_integer(Referrals::Version))
                .col(text(Referrals::FieldVersions))
                .col(uuid(Referrals::PersonId))
                .col(uuid_null(Referrals::PartnerServiceId))
                .col(string_len(Referrals::ServiceType, 32))
                .col(text(Referrals::Reason))
                .col(string_len(Referrals::Urgency, 16))
                .col(boolean(Referrals::ConsentToShare))
                .col(string_len(Referrals::Status, 24))
                .col(timestamp_with_time_zone(Referrals::StatusAt))
                .col(uuid_null(Referrals::SiteId))
                .col(timestamp_with_time_zone(Referrals::OccurredAt))
                .col(uuid_null(Referrals::RecordedBy))
                .col(uuid_null(Referrals::DeviceId))
                .col(timestamp_with_time_zone(Referrals::CreatedAt))
                .col(timestamp_with_time_zone(Referrals::UpdatedAt))
                .col(timestamp_with_time_zone_null(Referrals::DeletedAt))
                .foreign_key(&mut organisation_fk(Referrals::Table, Referrals::OrganisationId))
                .foreign_key(
                    ForeignKey::create()
                        .from(Referrals::Table, Referrals::PersonId)
                        .to(Persons::Table, Persons::Id),
                )
                .to_owned(),
        )
        .await?;
    index(manager, "idx_referrals_person", Referrals::Table, vec![Referrals::PersonId]).await?;

    manager
        .create_table(
            Table::create()
                .table(ReferralSteps::Table)
                .col(uuid(ReferralSteps::Id).primary_key())
                .col(uuid(ReferralSteps::OrganisationId))
                .col(uuid(ReferralSteps::ReferralId))
                .col(string_len(ReferralSteps::Status, 24))
                .col(timestamp_with_time_zone(ReferralSteps::OccurredAt))
                .col(text_null(ReferralSteps::Note))
                .col(uuid_null(ReferralSteps::RecordedBy))
                .col(uuid_null(ReferralSteps::DeviceId))
                .col(timestamp_with_time_zone(ReferralSteps::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ReferralSteps::Table, ReferralSteps::ReferralId)
                        .to(Referrals::Table, Referrals::Id),
                )
                .to_owned(),
        )
        .await?;
    index(
        manager,
        "idx_referral_steps_referral",
        ReferralSteps::Table,
        vec![ReferralSteps::ReferralId],
    )
    .await
}

#[derive(DeriveIden)]
enum Persons {
    Table,
    Id,
    OrganisationId,
    Version,
    FieldVersions,
    Alias,
    Initials,
    NameQuality,
    BirthYear,
    BirthDate,
    DobQuality,
    Gender,
    Description,
    RiskFlags,
    NhsNumber,
    ChainId,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum RecordRevisions {
    Table,
    Entity,
    RecordId,
    Version,
    OrganisationId,
    Snapshot,
    ChangedBy,
    DeviceId,
    ChangedAt,
}

#[derive(DeriveIden)]
enum Contacts {
    Table,
    Id,
    OrganisationId,
    Version,
    OccurredAt,
    SiteId,
    LocationArea,
    PersonId,
    WorkerIds,
    ContactType,
    LivingSituation,
    Interventions,
    Substances,
    Note,
    ReturnsCount,
    ReturnsEstimated,
    RecordedBy,
    DeviceId,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum KitLines {
    Table,
    Id,
    OrganisationId,
    ContactId,
    Position,
    ItemCode,
    Quantity,
    ForOthers,
}

#[derive(DeriveIden)]
enum Incidents {
    Table,
    Id,
    OrganisationId,
    Version,
    OccurredAt,
    SiteId,
    LocationArea,
    IncidentType,
    Severity,
    People,
    Substances,
    AmbulanceCalled,
    AmbulanceArrived,
    NaloxoneDoses,
    RescueBreaths,
    Outcome,
    Note,
    RecordedBy,
    DeviceId,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum Referrals {
    Table,
    Id,
    OrganisationId,
    Version,
    FieldVersions,
    PersonId,
    PartnerServiceId,
    ServiceType,
    Reason,
    Urgency,
    ConsentToShare,
    Status,
    StatusAt,
    SiteId,
    OccurredAt,
    RecordedBy,
    DeviceId,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum ReferralSteps {
    Table,
    Id,
    OrganisationId,
    ReferralId,
    Status,
    OccurredAt,
    Note,
    RecordedBy,
    DeviceId,
    CreatedAt,
}
