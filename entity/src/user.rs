//! A staff member who signs in: admin, manager, worker or viewer.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organisation_id: Uuid,
    /// Lower-cased; unique across the whole deployment (it is the login name).
    #[sea_orm(unique)]
    pub email: String,
    pub display_name: String,
    /// One of the `Role` values of the API, stored as its snake_case name.
    pub role: String,
    /// An argon2id PHC string; never the password itself.
    pub password_hash: String,
    pub deactivated_at: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
