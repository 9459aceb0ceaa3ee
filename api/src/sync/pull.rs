//! `GET /v1/sync/pull`: the changes in the caller's scope after a cursor
//! (sync.md, guarantees 4, 6, 7 and 8).
//!
//! Order is the organisation's change number, never a device's clock. The
//! counter is read before the feed: every number up to the value read has
//! committed (writers bump it last, under its row lock), so a page that
//! ends there has skipped nothing, and the next pull starts after it.

use outpost_entity::sync_change;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select};
use uuid::Uuid;

use super::{EntityKind, SyncError, SyncResult, cursor::Cursor, feed, render};
use crate::{
    caller::Actor,
    domain::{parse_stored, stored_name},
    state::AppState,
};

/// One change as a device applies it.
#[derive(Debug, Clone)]
pub struct PulledChange {
    /// The change number.
    pub seq: i64,
    /// The kind of record.
    pub entity: EntityKind,
    /// The record.
    pub id: Uuid,
    /// `upsert`, `delete` or `evict`.
    pub op: String,
    /// The record's version.
    pub version: i64,
    /// The record as JSON text, for upserts.
    pub record: Option<Box<serde_json::value::RawValue>>,
}

/// A page of changes.
#[derive(Debug)]
pub struct PullPage {
    /// The changes, in order.
    pub changes: Vec<PulledChange>,
    /// Where the next pull starts.
    pub cursor: String,
    /// Whether more changes are waiting now.
    pub has_more: bool,
}

/// Why a cursor cannot be served.
#[derive(Debug)]
pub enum CursorRefusal {
    /// Not a cursor of this server and organisation.
    Invalid,
    /// Older than the tombstone horizon, or served under another role.
    Gone(&'static str, String),
}

/// The role part of a cursor.
fn role_name(actor: &Actor) -> String {
    actor.role.map(|r| stored_name(&r)).unwrap_or_else(|| "integrator".into())
}

/// Reads a page of changes after `cursor` (from the start when `None`).
pub async fn pull(
    state: &AppState,
    actor: &Actor,
    cursor: Option<&str>,
    limit: u64,
) -> SyncResult<Result<PullPage, CursorRefusal>> {
    let org = actor.organisation_id;
    let (last_seq, horizon) = feed::counter(&state.reads, org).await?;
    let after = match cursor {
        None => 0,
        Some(text) => {
            let Some(c) = Cursor::decode(text) else { return Ok(Err(CursorRefusal::Invalid)) };
            if c.organisation_id != org || c.seq > last_seq {
                return Ok(Err(CursorRefusal::Invalid));
            }
            if c.seq < horizon {
                return Ok(Err(CursorRefusal::Gone(
                    "cursor_expired",
                    "this cursor is older than the deletion horizon: discard local data and pull from the start".into(),
                )));
            }
            if c.role != role_name(actor) {
                return Ok(Err(CursorRefusal::Gone(
                    "scope_changed",
                    "your role changed since this cursor: discard local data and pull from the start".into(),
                )));
            }
            c.seq
        }
    };

    let (rows, read_to) = read_page(state, actor, after, last_seq, limit).await?;
    let full = rows.len() as u64 > limit;
    let rows: Vec<sync_change::Model> = rows.into_iter().take(limit as usize).collect();
    // Every number up to `read_to` was read, and every visible entry up to
    // it is in the page unless the page is full.
    let next = if full { rows.last().map(|r| r.seq).unwrap_or(after) } else { read_to };
    let has_more = full || read_to < last_seq;

    let mut records = render::records(&state.reads, actor, &rows).await?;
    // Whether each row is the last upsert of its record in the page (an
    // organisation-wide upsert and one addressed to this user can meet):
    // the last takes the rendered record, any earlier one a copy. Cloning
    // every record showed at the top of the benchmark's profile (BTreeMap
    // clones, 6% of samples).
    let mut seen = std::collections::HashSet::new();
    let mut takes_record: Vec<bool> = rows
        .iter()
        .rev()
        .map(|r| r.op == "upsert" && seen.insert((r.entity.as_str(), r.record_id)))
        .collect();
    takes_record.reverse();
    let changes = rows
        .into_iter()
        .zip(takes_record)
        .map(|(row, last)| {
            let entity = parse_stored(&row.entity).map_err(SyncError::Internal)?;
            let key = (entity, row.record_id);
            let record = if last {
                records.remove(&key)
            } else if row.op == "upsert" {
                records.get(&key).cloned()
            } else {
                None
            };
            // A record gone from its table since (never expected) goes down
            // as a delete rather than an upsert without a body.
            let op = if row.op == "upsert" && record.is_none() { "delete".into() } else { row.op };
            Ok(PulledChange {
                seq: row.seq,
                entity,
                id: row.record_id,
                op,
                version: row.version,
                record,
            })
        })
        .collect::<SyncResult<Vec<_>>>()?;
    let cursor = Cursor { organisation_id: org, seq: next, role: role_name(actor) }.encode();
    Ok(Ok(PullPage { changes, cursor, has_more }))
}

/// Numbers a page reads at a time, in pages' worth.
const WINDOW_PAGES: i64 = 2;
/// Windows one request reads at most (a user who sees few of the
/// organisation's entries gets a short page and `has_more`).
const MAX_WINDOWS: usize = 8;

/// The entries of a page (up to `limit + 1`) and the number up to which
/// the feed was read.
///
/// Read in windows of numbers, never the whole range to `last_seq` at
/// once: given `seq > after AND seq <= last_seq ORDER BY seq LIMIT n`,
/// Postgres without statistics reads every entry in the range and sorts
/// them for the first n (measured: 166 ms a page, 500,000 entries read
/// for 1,001, in a feed of a million). A window bounds what any plan
/// reads to its width.
async fn read_page(
    state: &AppState,
    actor: &Actor,
    after: i64,
    last_seq: i64,
    limit: u64,
) -> Result<(Vec<sync_change::Model>, i64), sea_orm::DbErr> {
    let width = WINDOW_PAGES.saturating_mul(limit as i64 + 1);
    let mut rows = Vec::new();
    let mut from = after;
    for _ in 0..MAX_WINDOWS {
        let to = last_seq.min(from.saturating_add(width));
        // What the page still takes (the query reads one more, to tell
        // whether it is full).
        let room = limit - rows.len() as u64;
        rows.extend(feed_page(actor, from, to, room).all(&state.reads).await?);
        from = to;
        if rows.len() as u64 > limit || to >= last_seq {
            break;
        }
    }
    Ok((rows, from))
}

/// The query of a page: the entries in `actor`'s scope numbered after
/// `after` up to `last_seq`, one more than `limit` (to tell whether more
/// are waiting). A range of the feed's primary key.
pub fn feed_page(
    actor: &Actor,
    after: i64,
    last_seq: i64,
    limit: u64,
) -> Select<sync_change::Entity> {
    sync_change::Entity::find()
        .filter(sync_change::Column::OrganisationId.eq(actor.organisation_id))
        .filter(sync_change::Column::Seq.gt(after))
        .filter(sync_change::Column::Seq.lte(last_seq))
        .filter(scope(actor))
        .order_by_asc(sync_change::Column::Seq)
        .limit(limit + 1)
}

/// The feed entries `actor` may receive.
fn scope(actor: &Actor) -> Condition {
    use sync_change::Column as C;
    let addressed = Condition::any().add(C::AudienceUserId.is_null());
    let Some(me) = actor.user_id else {
        return addressed;
    };
    let addressed = addressed.add(C::AudienceUserId.eq(me));
    if actor.sees_everything() {
        return addressed;
    }
    let visible = Condition::any()
        .add(C::Visibility.eq("org"))
        .add(C::AudienceUserId.eq(me))
        .add(C::OwnerUserId.eq(me))
        .add(
            Condition::all().add(C::Visibility.eq("site")).add(
                Condition::any()
                    .add(C::SiteId.is_null())
                    .add(C::SiteId.is_in(actor.site_ids.iter().copied())),
            ),
        );
    Condition::all().add(addressed).add(visible)
}
