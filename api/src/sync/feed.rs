//! The change feed: one numbered entry per record change, which pulls read in
//! order.
//!
//! Numbers come from the organisation's row in `sync_counters`, bumped by the
//! writing transaction as its last statement before commit. The row lock
//! that bump takes is held until commit, so a later number can never commit
//! before an earlier one: a reader that has seen number N has seen every
//! change numbered below N (sync.md, guarantee 4). Taking the lock last keeps
//! the serialised part of a push to one insert and the commit.
//!
//! The feed keeps the latest change of each record only: when a record
//! changes again its old entry is removed, so a device that catches up after
//! a day reads each record once, at its newest version.

use std::collections::{BTreeMap, HashMap};

use chrono::Utc;
use outpost_entity::{sync_change, sync_counter};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, Set, Statement,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};
use uuid::Uuid;

use super::EntityKind;

/// What happened to a record, as a device must apply it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOp {
    /// Insert or replace the record.
    Upsert,
    /// The record was deleted (a tombstone).
    Delete,
    /// The record left this user's scope: drop the local copy.
    Evict,
}

impl ChangeOp {
    /// The stored (and wire) name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeOp::Upsert => "upsert",
            ChangeOp::Delete => "delete",
            ChangeOp::Evict => "evict",
        }
    }
}

/// Who may receive a feed entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Everyone in the organisation who may read records.
    Org,
    /// Staff of the entry's site, the user who recorded it, managers and
    /// admins. An entry without a site is visible like `Org`.
    Site,
    /// The owning user, managers and admins.
    Owner,
}

impl Visibility {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Org => "org",
            Visibility::Site => "site",
            Visibility::Owner => "owner",
        }
    }
}

/// One change to write to the feed.
#[derive(Debug, Clone)]
pub struct FeedEntry {
    /// The kind of record.
    pub entity: EntityKind,
    /// The record.
    pub record_id: Uuid,
    /// What happened.
    pub op: ChangeOp,
    /// The record's version after the change.
    pub version: i64,
    /// Who may receive it.
    pub visibility: Visibility,
    /// The record's site, for `Visibility::Site`.
    pub site_id: Option<Uuid>,
    /// The user who recorded or raised it.
    pub owner_user_id: Option<Uuid>,
    /// When set, only this user receives the entry.
    pub audience_user_id: Option<Uuid>,
}

impl FeedEntry {
    /// An upsert every reader of the organisation receives (reference data,
    /// people).
    pub fn upsert(entity: EntityKind, record_id: Uuid, version: i64) -> Self {
        Self {
            entity,
            record_id,
            op: ChangeOp::Upsert,
            version,
            visibility: Visibility::Org,
            site_id: None,
            owner_user_id: None,
            audience_user_id: None,
        }
    }

    /// The same change as a delete (tombstone).
    pub fn deleted(mut self) -> Self {
        self.op = ChangeOp::Delete;
        self
    }

    /// Restricts the entry to the staff of `site_id` and the recorder.
    pub fn at_site(mut self, site_id: Option<Uuid>, owner_user_id: Option<Uuid>) -> Self {
        self.visibility = Visibility::Site;
        self.site_id = site_id;
        self.owner_user_id = owner_user_id;
        self
    }

    /// Restricts the entry to `owner` (and managers and admins).
    pub fn owned_by(mut self, owner: Option<Uuid>) -> Self {
        self.visibility = Visibility::Owner;
        self.owner_user_id = owner;
        self
    }

    /// Sends the entry to one user only.
    pub fn for_user(mut self, user_id: Uuid) -> Self {
        self.audience_user_id = Some(user_id);
        self
    }
}

/// Appends `entries` to the organisation's feed. Call it last in the writing
/// transaction, just before commit: it takes the organisation's counter lock.
pub async fn append<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    entries: Vec<FeedEntry>,
) -> Result<(), DbErr> {
    if entries.is_empty() {
        return Ok(());
    }
    let entries = latest_per_record(entries);
    // Older org-wide entries of the same records go: the feed keeps each
    // record's latest change. Per-user entries (evictions) stay, and a
    // version-1 entry is a record's first change, with nothing to replace:
    // skipping those keeps a batch of creates free of a pointless DELETE.
    // Keyed by kind as well as id: a device may (wrongly) reuse one id for
    // two kinds of record, and one record's change must never remove
    // another's entry.
    let mut replaced: BTreeMap<&'static str, Vec<Uuid>> = BTreeMap::new();
    for e in entries.iter().filter(|e| e.audience_user_id.is_none() && e.version > 1) {
        replaced.entry(e.entity.as_str()).or_default().push(e.record_id);
    }
    for (entity, ids) in replaced {
        for chunk in ids.chunks(500) {
            sync_change::Entity::delete_many()
                .filter(sync_change::Column::OrganisationId.eq(organisation_id))
                .filter(sync_change::Column::Entity.eq(entity))
                .filter(sync_change::Column::RecordId.is_in(chunk.iter().copied()))
                .filter(sync_change::Column::AudienceUserId.is_null())
                .exec(db)
                .await?;
        }
    }

    let now = Utc::now();
    if db.get_database_backend() == DbBackend::Postgres {
        return number_and_insert(db, organisation_id, &entries, now).await;
    }
    let last = reserve(db, organisation_id, entries.len() as i64).await?;
    let first = last - entries.len() as i64 + 1;
    let rows: Vec<sync_change::ActiveModel> = entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| sync_change::ActiveModel {
            organisation_id: Set(organisation_id),
            seq: Set(first + i as i64),
            entity: Set(e.entity.as_str().to_owned()),
            record_id: Set(e.record_id),
            op: Set(e.op.as_str().to_owned()),
            version: Set(e.version),
            visibility: Set(e.visibility.as_str().to_owned()),
            site_id: Set(e.site_id),
            owner_user_id: Set(e.owner_user_id),
            audience_user_id: Set(e.audience_user_id),
            changed_at: Set(now),
        })
        .collect();
    crate::records::bulk::insert(db, rows).await
}

/// Postgres: reserves the numbers and inserts the entries in one
/// statement. The counter's row lock is held from here to commit, and
/// every push of the organisation queues for it (the benchmark's wait
/// samples found most backends there): one round trip fewer inside it
/// than a reserve and then an insert.
async fn number_and_insert<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    entries: &[FeedEntry],
    now: chrono::DateTime<Utc>,
) -> Result<(), DbErr> {
    let columns: Vec<Vec<sea_orm::Value>> = vec![
        entries.iter().map(|e| e.entity.as_str().into()).collect(),
        entries.iter().map(|e| e.record_id.into()).collect(),
        entries.iter().map(|e| e.op.as_str().into()).collect(),
        entries.iter().map(|e| e.version.into()).collect(),
        entries.iter().map(|e| e.visibility.as_str().into()).collect(),
        entries.iter().map(|e| e.site_id.into()).collect(),
        entries.iter().map(|e| e.owner_user_id.into()).collect(),
        entries.iter().map(|e| e.audience_user_id.into()).collect(),
    ];
    // $1 to $3 are the organisation, the count and the time.
    let unnest = crate::records::bulk::Unnest::of(columns, 4)
        .ok_or_else(|| DbErr::Custom("feed entries without their arrays".into()))?;
    let sql = format!(
        "WITH counter AS (
             INSERT INTO sync_counters (organisation_id, last_seq, horizon_seq)
             VALUES ($1, $2, 0)
             ON CONFLICT (organisation_id)
             DO UPDATE SET last_seq = sync_counters.last_seq + EXCLUDED.last_seq
             RETURNING last_seq
         )
         INSERT INTO sync_changes (organisation_id, seq, entity, record_id, op, version,
                                   visibility, site_id, owner_user_id, audience_user_id,
                                   changed_at)
         SELECT $1, counter.last_seq - $2 + e.n, {}, $3
         FROM counter, {} WITH ORDINALITY AS e({}, n)",
        unnest.select, unnest.call, unnest.names
    );
    let mut values: Vec<sea_orm::Value> =
        vec![organisation_id.into(), (entries.len() as i64).into(), now.into()];
    values.extend(unnest.values);
    db.execute_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await?;
    Ok(())
}

/// Keeps only the last org-wide entry of each record (kind and id) in a
/// batch: a record created and changed, or created and deleted, in one push
/// is one change in the feed, so a device receives it once. Per-user entries
/// all stay.
fn latest_per_record(entries: Vec<FeedEntry>) -> Vec<FeedEntry> {
    let mut last: HashMap<(&'static str, Uuid), usize> = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        if e.audience_user_id.is_none() {
            last.insert((e.entity.as_str(), e.record_id), i);
        }
    }
    entries
        .into_iter()
        .enumerate()
        .filter(|(i, e)| {
            e.audience_user_id.is_some() || last.get(&(e.entity.as_str(), e.record_id)) == Some(i)
        })
        .map(|(_, e)| e)
        .collect()
}

/// Reserves `count` change numbers for the organisation and returns the last
/// one. The upsert takes the counter row's lock until the transaction ends.
async fn reserve<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    count: i64,
) -> Result<i64, DbErr> {
    use sync_counter::Column;
    let statement = Query::insert()
        .into_table(sync_counter::Entity)
        .columns([Column::OrganisationId, Column::LastSeq, Column::HorizonSeq])
        .values_panic([organisation_id.into(), count.into(), 0i64.into()])
        .on_conflict(
            OnConflict::column(Column::OrganisationId)
                .value(
                    Column::LastSeq,
                    Expr::col((sync_counter::Entity, Column::LastSeq)).add(count),
                )
                .to_owned(),
        )
        .returning_col(Column::LastSeq)
        .to_owned();
    let row = db
        .query_one(&statement)
        .await?
        .ok_or_else(|| DbErr::Custom("the change counter returned no row".into()))?;
    row.try_get("", "last_seq")
}

/// The organisation's counter: the last change number and the horizon below
/// which cursors can no longer be served.
pub async fn counter<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
) -> Result<(i64, i64), DbErr> {
    Ok(sync_counter::Entity::find_by_id(organisation_id)
        .one(db)
        .await?
        .map(|c| (c.last_seq, c.horizon_seq))
        .unwrap_or((0, 0)))
}
