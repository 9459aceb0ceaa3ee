//! An entry of the stock ledger (a receipt, a transfer, a stocktake, a
//! write-off), appended and never edited: a correction is a new entry.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stock_entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organisation_id: Uuid,
    /// Always 1.
    pub version: i64,
    /// `receipt`, `transfer`, `stocktake` or `write_off`.
    pub kind: String,
    pub occurred_at: ChronoDateTimeUtc,
    /// The location it counts at (a transfer's source).
    pub location_id: Uuid,
    /// A transfer's destination.
    pub to_location_id: Option<Uuid>,
    /// The site of `location_id`, which places the entry.
    pub site_id: Uuid,
    pub item_code: String,
    /// Received, moved or written off; for a stocktake, what was counted.
    pub quantity: i32,
    /// A stocktake's counted quantity less the ledger's when it arrived.
    pub difference: Option<i64>,
    pub reason: Option<String>,
    pub supplier: Option<String>,
    pub batch: Option<String>,
    pub expires_on: Option<Date>,
    pub note: Option<String>,
    pub recorded_by: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
