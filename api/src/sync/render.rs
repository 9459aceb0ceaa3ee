//! Renders feed entries' records as `GET` shows them, a query per record
//! type per page rather than one per record.

use crate::caller::Actor;
use std::collections::HashMap;

use outpost_entity::{sync_change, sync_conflict};
use poem_openapi::types::ToJSON;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use serde_json::{Value, value::RawValue};
use uuid::Uuid;

use super::{EntityKind, conflicts::ConflictView};
use crate::{
    domain::parse_stored,
    records::kind::{SyncRecord, as_json_text},
};

/// The records of the upserts among `rows`, by kind and id (a device may
/// have reused one id for two kinds of record), as JSON text: a page is
/// written out as it is, never turned back into values.
pub async fn records<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    rows: &[sync_change::Model],
) -> Result<HashMap<(EntityKind, Uuid), Box<RawValue>>, DbErr> {
    let mut ids: HashMap<EntityKind, Vec<Uuid>> = HashMap::new();
    for row in rows.iter().filter(|r| r.op == "upsert") {
        if let Ok(kind) = parse_stored::<EntityKind>(&row.entity) {
            ids.entry(kind).or_default().push(row.record_id);
        }
    }
    let mut out = HashMap::new();
    for (kind, ids) in ids {
        out.extend(
            of_kind_json(db, actor, kind, &ids).await?.into_iter().map(|(id, v)| ((kind, id), v)),
        );
    }
    Ok(out)
}

/// The records of one kind with these ids, in the actor's organisation.
pub async fn of_kind<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    kind: EntityKind,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, Value)>, DbErr> {
    let org = actor.organisation_id;
    crate::with_record!(kind, R => R::render(db, actor, ids).await, else match kind {
        EntityKind::Conflict => Ok(sync_conflict::Entity::find()
            .filter(sync_conflict::Column::OrganisationId.eq(org))
            .filter(sync_conflict::Column::Id.is_in(ids.iter().copied()))
            .all(db)
            .await?
            .into_iter()
            .filter_map(|m| {
                let id = m.id;
                ConflictView::for_actor(m, actor).to_json().map(|v| (id, v))
            })
            .collect()),
        EntityKind::InboxReferral => {
            crate::records::referral::inbox::render_values(db, actor, ids).await
        }
        _ => crate::records::reference::render(db, org, kind, ids).await,
    })
}

/// [`of_kind`] as JSON text, written straight from the views where the
/// kind can ([`SyncRecord::render_json`]).
pub async fn of_kind_json<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    kind: EntityKind,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, Box<RawValue>)>, DbErr> {
    crate::with_record!(kind, R => R::render_json(db, actor, ids).await,
        else Ok(as_json_text(of_kind(db, actor, kind, ids).await?)))
}
