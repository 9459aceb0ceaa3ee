//! `substance_names`: every name an active substance answers to (its code
//! and its street names, by their comparison key), unique per organisation.
//! The server checks a new name against the others before writing it; this
//! key makes the database refuse the second of two concurrent writers too,
//! so one street name never codes to two substances.

use sea_orm_migration::{prelude::*, schema::*};
use uuid::Uuid;

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
                    .table(SubstanceNames::Table)
                    .col(uuid(SubstanceNames::OrganisationId))
                    .col(text(SubstanceNames::NameKey))
                    .col(uuid(SubstanceNames::SubstanceId))
                    .primary_key(
                        Index::create()
                            .name("substance_names_pkey")
                            .col(SubstanceNames::OrganisationId)
                            .col(SubstanceNames::NameKey),
                    )
                    .foreign_key(&mut organisation_fk(
                        SubstanceNames::Table,
                        SubstanceNames::OrganisationId,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SubstanceNames::Table, SubstanceNames::SubstanceId)
                            .to(Substances::Table, Substances::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_substance_names_substance",
            SubstanceNames::Table,
            vec![SubstanceNames::SubstanceId],
        )
        .await?;
        fill_from_substances(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(SubstanceNames::Table).to_owned()).await
    }
}

/// Names of the substances that exist already. Where two active substances
/// share a name (which the unkeyed server allowed under concurrent
/// writes), the older keeps it; `outpost admin check` reports the other.
async fn fill_from_substances(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let rows = db
        .query_all(
            &Query::select()
                .columns([
                    Substances::Id,
                    Substances::OrganisationId,
                    Substances::Code,
                    Substances::Aliases,
                ])
                .from(Substances::Table)
                .and_where(Expr::col(Substances::ArchivedAt).is_null())
                .order_by(Substances::CreatedAt, Order::Asc)
                .order_by(Substances::Id, Order::Asc)
                .to_owned(),
        )
        .await?;
    for row in rows {
        let id: Uuid = row.try_get("", "id")?;
        let organisation_id: Uuid = row.try_get("", "organisation_id")?;
        let code: String = row.try_get("", "code")?;
        let aliases: String = row.try_get("", "aliases")?;
        let aliases: Vec<String> = serde_json::from_str(&aliases).unwrap_or_default();
        let mut keys: Vec<String> =
            std::iter::once(&code).chain(aliases.iter()).map(|n| name_key(n)).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            db.execute(
                &Query::insert()
                    .into_table(SubstanceNames::Table)
                    .columns([
                        SubstanceNames::OrganisationId,
                        SubstanceNames::NameKey,
                        SubstanceNames::SubstanceId,
                    ])
                    .values_panic([organisation_id.into(), key.into(), id.into()])
                    .on_conflict(
                        OnConflict::columns([
                            SubstanceNames::OrganisationId,
                            SubstanceNames::NameKey,
                        ])
                        .do_nothing()
                        .to_owned(),
                    )
                    .to_owned(),
            )
            .await?;
        }
    }
    Ok(())
}

/// The comparison key of a name, as the server computes it
/// (`service::reference::substances::name_key`): lower case, single
/// spaces, trimmed. Repeated here because migrations do not depend on the
/// server crate; a test in the server checks the two agree.
pub fn name_key(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

#[derive(DeriveIden)]
enum SubstanceNames {
    Table,
    OrganisationId,
    NameKey,
    SubstanceId,
}

#[derive(DeriveIden)]
enum Substances {
    Table,
    Id,
    OrganisationId,
    Code,
    Aliases,
    ArchivedAt,
    CreatedAt,
}
