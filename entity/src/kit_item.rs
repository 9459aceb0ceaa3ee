//! An item of the organisation's kit catalogue: what workers hand out, by
//! code. A pre-made pack lists the components it expands into.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "kit_items")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organisation_id: Uuid,
    /// Unique per organisation; kit lines store it.
    pub code: String,
    pub name: String,
    /// One of the `KitCategory` values of the API, as its snake_case name.
    pub category: String,
    /// How it is counted, e.g. `each` or `pack of 10`.
    pub unit: String,
    /// JSON array of `{code, quantity}`; `[]` for an ordinary item.
    pub components: String,
    pub version: i64,
    pub archived_at: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
