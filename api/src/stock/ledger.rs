//! Booking movements: on-hand kept equal to the sum of the ledger, and
//! late movements absorbed by the stocktakes that counted them.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use outpost_entity::{stock_level, stock_movement, stock_threshold};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement,
    sea_query::{Expr, ExprTrait, OnConflict},
};
use uuid::Uuid;

use crate::sync::{EntityKind, feed::FeedEntry, push::lock_key};

/// Why a movement was booked (its stored name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A receipt, transfer leg or write-off.
    Entry,
    /// A stocktake's difference from the ledger.
    Stocktake,
    /// Kit handed out on a contact.
    Issue,
    /// A deleted contact's kit put back.
    Reversal,
    /// The opposite of a movement a later stocktake had already counted.
    Correction,
}

impl Cause {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Entry => "entry",
            Cause::Stocktake => "stocktake",
            Cause::Issue => "issue",
            Cause::Reversal => "reversal",
            Cause::Correction => "correction",
        }
    }
}

/// A movement to book.
#[derive(Debug, Clone)]
pub struct Movement {
    /// Where.
    pub location_id: Uuid,
    /// Which item (never a pack: packs are expanded before).
    pub item_code: String,
    /// How many more (negative: fewer).
    pub delta: i64,
    /// When it happened (device time).
    pub occurred_at: DateTime<Utc>,
    /// Why.
    pub cause: Cause,
    /// The stock entry or contact it comes from.
    pub source_id: Uuid,
}

/// `(location, item)`: the key of an on-hand figure.
pub type Key = (Uuid, String);

/// Books `movements` for the organisation in three statements whatever
/// their number, and answers how much each key's on-hand moves (added by
/// [`add_to_levels`] last in the transaction). First the keys' stock
/// claims, shared: writers of the same keys run side by side, but not
/// beside a stocktake of one ([`claim`]). Then the stocktakes of those
/// keys from the earliest movement on: a movement a stocktake counted
/// (made at or after it, recorded before it arrived) gets a correction of
/// the opposite sign, absorbed by that stocktake. Then the inserts.
pub async fn book<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    now: DateTime<Utc>,
    movements: Vec<Movement>,
) -> Result<BTreeMap<Key, i64>, DbErr> {
    let mut sums: BTreeMap<Key, i64> = BTreeMap::new();
    let Some(earliest) = movements.iter().map(|m| m.occurred_at).min() else {
        return Ok(sums);
    };
    let keys: BTreeSet<Key> =
        movements.iter().map(|m| (m.location_id, m.item_code.clone())).collect();
    claim(db, organisation_id, &keys, false).await?;
    let counts = stocktakes(db, organisation_id, &keys, earliest).await?;
    let mut rows = Vec::with_capacity(movements.len());
    for m in movements {
        let key = (m.location_id, m.item_code.clone());
        // The earliest count of the key at or after the movement, other
        // than the movement's own.
        let absorbed = match m.cause {
            Cause::Correction => None,
            _ => counts.get(&key).and_then(|c| {
                c.iter().find(|(source, at)| *at >= m.occurred_at && *source != m.source_id)
            }),
        };
        if let Some(&(stocktake_id, counted_at)) = absorbed {
            let correction = Movement {
                delta: -m.delta,
                occurred_at: counted_at,
                cause: Cause::Correction,
                ..m.clone()
            };
            rows.push(row(organisation_id, now, &correction, Some(stocktake_id)));
        } else {
            *sums.entry(key).or_default() += m.delta;
        }
        rows.push(row(organisation_id, now, &m, None));
    }
    crate::records::bulk::insert(db, rows).await?;
    sums.retain(|_, sum| *sum != 0);
    Ok(sums)
}

/// Takes the organisation's stock claims on `keys` until the transaction
/// ends: shared for writers of movements, which only add, exclusive for a
/// stocktake, which reads what the ledger held and must see every movement
/// committed before it and be seen by every one after. Advisory locks, in
/// key order, one statement; Postgres only (SQLite has one writer).
pub async fn claim<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    keys: &BTreeSet<Key>,
    exclusive: bool,
) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres || keys.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = keys
        .iter()
        .map(|(location, item)| {
            lock_key(&[b"stock", organisation_id.as_bytes(), location.as_bytes(), item.as_bytes()])
        })
        .collect();
    let function = if exclusive { "pg_advisory_xact_lock" } else { "pg_advisory_xact_lock_shared" };
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!(
            "SELECT {function}(k) FROM unnest($1::bigint[]) WITH ORDINALITY AS u(k, n) ORDER BY n"
        ),
        [ids.into()],
    ))
    .await?;
    Ok(())
}

/// Moves on-hand by `sums`, creating missing rows: one statement, last in
/// the transaction before the feed, so the rows' locks are held for as
/// little as the commit.
pub async fn add_to_levels<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    now: DateTime<Utc>,
    sums: BTreeMap<Key, i64>,
) -> Result<(), DbErr> {
    let rows: Vec<stock_level::ActiveModel> = sums
        .into_iter()
        .map(|((location_id, item_code), delta)| stock_level::ActiveModel {
            organisation_id: Set(organisation_id),
            location_id: Set(location_id),
            item_code: Set(item_code),
            on_hand: Set(delta),
            updated_at: Set(now),
        })
        .collect();
    let on_conflict = OnConflict::columns([
        stock_level::Column::OrganisationId,
        stock_level::Column::LocationId,
        stock_level::Column::ItemCode,
    ])
    .value(stock_level::Column::OnHand, Expr::cust("stock_levels.on_hand + excluded.on_hand"))
    .update_column(stock_level::Column::UpdatedAt)
    .to_owned();
    // SQLite binds at most 32,766 parameters a statement.
    for chunk in rows.chunks(1000) {
        stock_level::Entity::insert_many(chunk.to_vec())
            .on_conflict(on_conflict.clone())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// On-hand of each of `keys` that the ledger ever moved.
pub async fn on_hand_of<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    keys: impl IntoIterator<Item = Key>,
) -> Result<BTreeMap<Key, i64>, DbErr> {
    let keys: BTreeSet<Key> = keys.into_iter().collect();
    if keys.is_empty() {
        return Ok(BTreeMap::new());
    }
    let locations: BTreeSet<Uuid> = keys.iter().map(|(l, _)| *l).collect();
    let items: BTreeSet<&str> = keys.iter().map(|(_, i)| i.as_str()).collect();
    let rows: Vec<(Uuid, String, i64)> = stock_level::Entity::find()
        .select_only()
        .columns([
            stock_level::Column::LocationId,
            stock_level::Column::ItemCode,
            stock_level::Column::OnHand,
        ])
        .filter(stock_level::Column::OrganisationId.eq(organisation_id))
        .filter(stock_level::Column::LocationId.is_in(locations))
        .filter(stock_level::Column::ItemCode.is_in(items))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(l, i, n)| ((l, i), n))
        .filter(|(key, _)| keys.contains(key))
        .collect())
}

/// After on-hand moved for `keys`: the thresholds of those keys whose
/// on-hand crossed their minimum (either way) record it, a version up,
/// and answer the feed entries that tell their site's devices.
pub async fn thresholds_crossed<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    now: DateTime<Utc>,
    keys: BTreeSet<Key>,
) -> Result<Vec<FeedEntry>, DbErr> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let locations: BTreeSet<Uuid> = keys.iter().map(|(l, _)| *l).collect();
    // Locked in key order: a manager's edit of one waits, and is waited on.
    let thresholds: Vec<stock_threshold::Model> = stock_threshold::Entity::find()
        .filter(stock_threshold::Column::OrganisationId.eq(organisation_id))
        .filter(stock_threshold::Column::LocationId.is_in(locations))
        .order_by_asc(stock_threshold::Column::LocationId)
        .order_by_asc(stock_threshold::Column::ItemCode)
        .lock_exclusive()
        .all(db)
        .await?
        .into_iter()
        .filter(|t| keys.contains(&(t.location_id, t.item_code.clone())))
        .collect();
    if thresholds.is_empty() {
        return Ok(Vec::new());
    }
    let levels = on_hand_of(
        db,
        organisation_id,
        thresholds.iter().map(|t| (t.location_id, t.item_code.clone())),
    )
    .await?;
    let mut entries = Vec::new();
    for t in thresholds {
        let on_hand = levels.get(&(t.location_id, t.item_code.clone())).copied().unwrap_or(0);
        let below = on_hand < t.minimum;
        if below == t.below {
            continue;
        }
        let (id, site, version) = (t.id, t.site_id, t.version + 1);
        let mut active: stock_threshold::ActiveModel = t.into();
        active.below = Set(below);
        active.version = Set(version);
        active.updated_at = Set(now);
        active.update(db).await?;
        entries.push(
            FeedEntry::upsert(EntityKind::StockThreshold, id, version).at_site(Some(site), None),
        );
    }
    Ok(entries)
}

/// The stocktakes of `keys` counted at or after `from`, per key by time:
/// (entry, counted at).
async fn stocktakes<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    keys: &BTreeSet<Key>,
    from: DateTime<Utc>,
) -> Result<BTreeMap<Key, Vec<(Uuid, DateTime<Utc>)>>, DbErr> {
    let locations: BTreeSet<Uuid> = keys.iter().map(|(l, _)| *l).collect();
    let items: BTreeSet<&str> = keys.iter().map(|(_, i)| i.as_str()).collect();
    let rows: Vec<(Uuid, String, Uuid, DateTime<Utc>)> = stock_movement::Entity::find()
        .select_only()
        .columns([
            stock_movement::Column::LocationId,
            stock_movement::Column::ItemCode,
            stock_movement::Column::SourceId,
            stock_movement::Column::OccurredAt,
        ])
        .filter(stock_movement::Column::OrganisationId.eq(organisation_id))
        // A literal, not a parameter, so the planner matches the partial
        // index of counts (`idx_stock_movements_counts`) in every plan.
        .filter(Expr::cust("cause = 'stocktake'"))
        .filter(stock_movement::Column::OccurredAt.gte(from))
        .filter(stock_movement::Column::LocationId.is_in(locations))
        .filter(stock_movement::Column::ItemCode.is_in(items))
        .order_by_asc(stock_movement::Column::OccurredAt)
        .order_by_asc(stock_movement::Column::SourceId)
        .into_tuple()
        .all(db)
        .await?;
    let mut out: BTreeMap<Key, Vec<(Uuid, DateTime<Utc>)>> = BTreeMap::new();
    for (location, item, source, at) in rows {
        let key = (location, item);
        if keys.contains(&key) {
            out.entry(key).or_default().push((source, at));
        }
    }
    Ok(out)
}

/// What the ledger held of `item_code` at `location_id` at `at` (every
/// movement up to and including that moment). Call after an exclusive
/// [`claim`] so no other writer books movements for the key meanwhile.
pub async fn held_at<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    location_id: Uuid,
    item_code: &str,
    at: DateTime<Utc>,
) -> Result<i64, DbErr> {
    let sum: Option<i64> = stock_movement::Entity::find()
        .select_only()
        .expr(Expr::col(stock_movement::Column::Delta).sum().cast_as("bigint"))
        .filter(stock_movement::Column::OrganisationId.eq(organisation_id))
        .filter(stock_movement::Column::LocationId.eq(location_id))
        .filter(stock_movement::Column::ItemCode.eq(item_code))
        .filter(stock_movement::Column::OccurredAt.lte(at))
        .into_tuple::<Option<i64>>()
        .one(db)
        .await?
        .flatten();
    Ok(sum.unwrap_or(0))
}

fn row(
    organisation_id: Uuid,
    now: DateTime<Utc>,
    m: &Movement,
    absorbed_by: Option<Uuid>,
) -> stock_movement::ActiveModel {
    stock_movement::ActiveModel {
        id: Set(Uuid::now_v7()),
        organisation_id: Set(organisation_id),
        location_id: Set(m.location_id),
        item_code: Set(m.item_code.clone()),
        delta: Set(m.delta),
        occurred_at: Set(m.occurred_at),
        cause: Set(m.cause.as_str().to_owned()),
        source_id: Set(m.source_id),
        absorbed_by: Set(absorbed_by),
        created_at: Set(now),
    }
}
