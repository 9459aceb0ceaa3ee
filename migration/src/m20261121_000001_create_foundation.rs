//! The foundation: organisations, sites, users, devices, sessions, API keys
//! and the audit trail.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    // SQLite runs DDL transactionally too: a half-applied foundation would
    // leave a database no later start-up could repair.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Organisations::Table)
                    .col(uuid(Organisations::Id).primary_key())
                    .col(string_len(Organisations::Name, 200))
                    .col(string_len_uniq(Organisations::Slug, 100))
                    .col(timestamp_with_time_zone(Organisations::CreatedAt))
                    .col(timestamp_with_time_zone(Organisations::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sites::Table)
                    .col(uuid(Sites::Id).primary_key())
                    .col(uuid(Sites::OrganisationId))
                    .col(string_len(Sites::Name, 200))
                    .col(string_len(Sites::Kind, 32))
                    .col(string_len_null(Sites::Area, 200))
                    .col(timestamp_with_time_zone_null(Sites::ArchivedAt))
                    .col(timestamp_with_time_zone(Sites::CreatedAt))
                    .col(timestamp_with_time_zone(Sites::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Sites::Table, Sites::OrganisationId)
                            .to(Organisations::Table, Organisations::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_sites_organisation", Sites::Table, Sites::OrganisationId).await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(uuid(Users::Id).primary_key())
                    .col(uuid(Users::OrganisationId))
                    .col(string_len_uniq(Users::Email, 254))
                    .col(string_len(Users::DisplayName, 200))
                    .col(string_len(Users::Role, 16))
                    .col(string_len(Users::PasswordHash, 200))
                    .col(timestamp_with_time_zone_null(Users::DeactivatedAt))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Users::Table, Users::OrganisationId)
                            .to(Organisations::Table, Organisations::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_users_organisation", Users::Table, Users::OrganisationId).await?;

        manager
            .create_table(
                Table::create()
                    .table(UserSites::Table)
                    .col(uuid(UserSites::UserId))
                    .col(uuid(UserSites::SiteId))
                    .primary_key(Index::create().col(UserSites::UserId).col(UserSites::SiteId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(UserSites::Table, UserSites::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(UserSites::Table, UserSites::SiteId)
                            .to(Sites::Table, Sites::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_user_sites_site", UserSites::Table, UserSites::SiteId).await?;

        manager
            .create_table(
                Table::create()
                    .table(Devices::Table)
                    .col(uuid(Devices::Id).primary_key())
                    .col(uuid(Devices::OrganisationId))
                    .col(uuid(Devices::UserId))
                    .col(string_len(Devices::Name, 200))
                    .col(string_len_null(Devices::Platform, 64))
                    .col(timestamp_with_time_zone_null(Devices::RevokedAt))
                    .col(timestamp_with_time_zone(Devices::LastSeenAt))
                    .col(timestamp_with_time_zone(Devices::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Devices::Table, Devices::OrganisationId)
                            .to(Organisations::Table, Organisations::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Devices::Table, Devices::UserId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_devices_organisation", Devices::Table, Devices::OrganisationId).await?;
        index(manager, "idx_devices_user", Devices::Table, Devices::UserId).await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(uuid(Sessions::Id).primary_key())
                    .col(string_len_uniq(Sessions::TokenHash, 64))
                    .col(uuid(Sessions::OrganisationId))
                    .col(uuid(Sessions::UserId))
                    .col(uuid_null(Sessions::DeviceId))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::LastSeenAt))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Sessions::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Sessions::Table, Sessions::UserId)
                            .to(Users::Table, Users::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Sessions::Table, Sessions::DeviceId)
                            .to(Devices::Table, Devices::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_sessions_user", Sessions::Table, Sessions::UserId).await?;
        index(manager, "idx_sessions_device", Sessions::Table, Sessions::DeviceId).await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(uuid(ApiKeys::Id).primary_key())
                    .col(uuid(ApiKeys::OrganisationId))
                    .col(string_len(ApiKeys::Name, 200))
                    .col(string_len(ApiKeys::Prefix, 32))
                    .col(string_len_uniq(ApiKeys::KeyHash, 64))
                    .col(string_len(ApiKeys::Scopes, 500))
                    .col(uuid_null(ApiKeys::CreatedBy))
                    .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiKeys::Table, ApiKeys::OrganisationId)
                            .to(Organisations::Table, Organisations::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_api_keys_organisation", ApiKeys::Table, ApiKeys::OrganisationId)
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(uuid(AuditEvents::Id).primary_key())
                    .col(uuid(AuditEvents::OrganisationId))
                    .col(uuid_null(AuditEvents::ActorUserId))
                    .col(uuid_null(AuditEvents::ActorApiKeyId))
                    .col(string_len(AuditEvents::Action, 64))
                    .col(string_len(AuditEvents::TargetType, 32))
                    .col(uuid_null(AuditEvents::TargetId))
                    .col(text_null(AuditEvents::Detail))
                    .col(string_len_null(AuditEvents::RequestId, 64))
                    .col(timestamp_with_time_zone(AuditEvents::OccurredAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(AuditEvents::Table, AuditEvents::OrganisationId)
                            .to(Organisations::Table, Organisations::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_events_organisation_time")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::OrganisationId)
                    .col(AuditEvents::OccurredAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Children before parents, so foreign keys never block the drop.
        for table in [
            AuditEvents::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            Sessions::Table.into_iden(),
            Devices::Table.into_iden(),
            UserSites::Table.into_iden(),
            Users::Table.into_iden(),
            Sites::Table.into_iden(),
            Organisations::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

async fn index<T, C>(manager: &SchemaManager<'_>, name: &str, table: T, col: C) -> Result<(), DbErr>
where
    T: IntoIden,
    C: IntoIden,
{
    manager.create_index(Index::create().name(name).table(table).col(col).to_owned()).await
}

#[derive(DeriveIden)]
enum Organisations {
    Table,
    Id,
    Name,
    Slug,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Sites {
    Table,
    Id,
    OrganisationId,
    Name,
    Kind,
    Area,
    ArchivedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    OrganisationId,
    Email,
    DisplayName,
    Role,
    PasswordHash,
    DeactivatedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum UserSites {
    Table,
    UserId,
    SiteId,
}

#[derive(DeriveIden)]
enum Devices {
    Table,
    Id,
    OrganisationId,
    UserId,
    Name,
    Platform,
    RevokedAt,
    LastSeenAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    TokenHash,
    OrganisationId,
    UserId,
    DeviceId,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    OrganisationId,
    Name,
    Prefix,
    KeyHash,
    Scopes,
    CreatedBy,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    OrganisationId,
    ActorUserId,
    ActorApiKeyId,
    Action,
    TargetType,
    TargetId,
    Detail,
    RequestId,
    OccurredAt,
}
