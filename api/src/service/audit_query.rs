//! Reading the audit trail, newest first, a page at a time.

use outpost_entity::audit_event;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::ServiceResult;
use crate::{caller::Caller, state::AppState};

/// Largest page.
pub const MAX_PAGE: u64 = 500;

/// A page of events and where the next one starts.
pub struct AuditPage {
    /// Newest first.
    pub items: Vec<audit_event::Model>,
    /// Pass as `before` for the next page; `None` on the last page.
    pub next_before: Option<Uuid>,
}

/// Events of the caller's organisation older than `before` (ids are UUID
/// v7, so id order is time order and the id is a stable keyset cursor).
pub async fn page(
    state: &AppState,
    caller: &Caller,
    before: Option<Uuid>,
    limit: u64,
) -> ServiceResult<AuditPage> {
    let limit = limit.clamp(1, MAX_PAGE);
    let mut query = audit_event::Entity::find()
        .filter(audit_event::Column::OrganisationId.eq(caller.organisation_id()))
        .order_by_desc(audit_event::Column::Id)
        .limit(limit + 1);
    if let Some(before) = before {
        query = query.filter(audit_event::Column::Id.lt(before));
    }
    let mut items = query.all(&state.db).await?;
    let next_before = if items.len() as u64 > limit {
        items.truncate(limit as usize);
        items.last().map(|e| e.id)
    } else {
        None
    };
    Ok(AuditPage { items, next_before })
}
