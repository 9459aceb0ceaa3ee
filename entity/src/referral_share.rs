//! A referral shared with the partner organisation it was sent to: a row
//! of the partner's inbox. `ended_at` is set once consent no longer covers
//! the sharing (revoked, lapsed) or the referral was withdrawn from it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "referral_shares")]
pub struct Model {
    /// The partner organisation (whose inbox this is).
    #[sea_orm(primary_key, auto_increment = false)]
    pub organisation_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub referral_id: Uuid,
    /// The organisation that made the referral.
    pub referrer_organisation_id: Uuid,
    /// The referrer's directory entry it was sent to.
    pub partner_service_id: Uuid,
    pub person_id: Uuid,
    /// Whether consent allows the person's identifiers to be shown.
    pub identifiable: bool,
    /// 1, then one more at each change the partner's devices must hear of.
    pub version: i64,
    pub shared_at: ChronoDateTimeUtc,
    pub ended_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
