//! One change of one item's quantity at one location, derived by the
//! server from a ledger entry or a contact's kit line. On-hand is their
//! sum.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stock_movements")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub location_id: Uuid,
    pub item_code: String,
    pub delta: i64,
    pub occurred_at: ChronoDateTimeUtc,
    /// `entry`, `stocktake`, `issue`, `reversal` or `correction`.
    pub cause: String,
    /// The stock entry or contact it comes from.
    pub source_id: Uuid,
    /// For a correction: the stocktake whose count already held it.
    pub absorbed_by: Option<Uuid>,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
