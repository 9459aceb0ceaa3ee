//! TEMPORARY SHIM, see mod.rs.
use sea_orm::{ConnectionTrait, DbErr};
use uuid::Uuid;

use crate::sync::EntityKind;

/// Shim.
pub async fn records_json<C: ConnectionTrait>(
    _db: &C,
    _org: Uuid,
    _kind: EntityKind,
    _ids: &[Uuid],
) -> Result<Vec<(Uuid, serde_json::Value)>, DbErr> {
    Ok(Vec::new())
}
