//! Small helpers the migrations share, so each table definition reads as
//! its columns and keys only.

use sea_orm_migration::prelude::*;

/// `organisations`, for foreign keys from tables in later migrations.
#[derive(DeriveIden)]
pub enum Organisations {
    /// The table.
    Table,
    /// Its key.
    Id,
}

/// A foreign key from `table.col` to `organisations.id`.
pub fn organisation_fk<T: IntoTableRef, C: IntoIden>(
    table: T,
    col: C,
) -> ForeignKeyCreateStatement {
    ForeignKey::create().from(table, col).to(Organisations::Table, Organisations::Id).to_owned()
}

/// Creates a (non-unique) index `name` on `table (cols...)`.
pub async fn index<T, C>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    cols: Vec<C>,
) -> Result<(), DbErr>
where
    T: IntoTableRef,
    C: IntoIndexColumn,
{
    let mut statement = Index::create().name(name).table(table).to_owned();
    for col in cols {
        statement.col(col);
    }
    manager.create_index(statement).await
}
