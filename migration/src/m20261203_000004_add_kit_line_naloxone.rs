//! `kit_lines.naloxone`: a naloxone supply's detail (first or repeat, why
//! a repeat, who received it, training, the overdose it replaced a kit
//! used on), as JSON text the server writes; null on other lines.

use sea_orm_migration::{prelude::*, schema::*};

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
                    .table(KitLines::Table)
                    .add_column(text_null(KitLines::Naloxone))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(KitLines::Table).drop_column(KitLines::Naloxone).to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum KitLines {
    Table,
    Naloxone,
}
