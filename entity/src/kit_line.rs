//! One line of kit handed out during a contact.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "kit_lines")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub contact_id: Uuid,
    pub position: i16,
    pub item_code: String,
    pub quantity: i32,
    /// How many of `quantity` were taken for other people (secondary distribution).
    pub for_others: i32,
    /// A naloxone supply's detail, JSON (`NaloxoneSupply`); null on other
    /// lines.
    pub naloxone: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
