//! Booking movements: on-hand kept equal to the sum of the ledger, and
//! late movements absorbed by the stocktakes that counted them.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use outpost_entity::{stock_level, stock_movement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, ExprTrait, OnConflict},
};
use uuid::Uuid;

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
type Key = (Uuid, String);

/// Books `movements` for the organisation in four statements whatever
/// their number: locks the on-hand rows they touch (in key order, so two
/// writers never deadlock on them), reads the stocktakes of those keys
/// from the earliest movement on, adds a correction for each movement a
/// stocktake recorded at or after it already counted, inserts them all and
/// moves on-hand by their sums.
pub async fn book<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    now: DateTime<Utc>,
    movements: Vec<Movement>,
) -> Result<(), DbErr> {
    let Some(earliest) = movements.iter().map(|m| m.occurred_at).min() else {
        return Ok(());
    };
    let keys: BTreeSet<Key> =
        movements.iter().map(|m| (m.location_id, m.item_code.clone())).collect();
    upsert_levels(db, organisation_id, now, keys.iter().map(|k| (k, 0)), false).await?;
    let counts = stocktakes(db, organisation_id, &keys, earliest).await?;
    let mut rows = Vec::with_capacity(movements.len());
    let mut sums: BTreeMap<Key, i64> = BTreeMap::new();
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
    let changed = sums.iter().filter(|(_, sum)| **sum != 0).map(|(k, sum)| (k, *sum));
    upsert_levels(db, organisation_id, now, changed, true).await
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
        .filter(stock_movement::Column::Cause.eq(Cause::Stocktake.as_str()))
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

/// One statement over many keys: creates each missing on-hand row, and
/// either only takes the row's lock (`add` false) or adds to it.
async fn upsert_levels<'k, C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    now: DateTime<Utc>,
    keys: impl Iterator<Item = (&'k Key, i64)>,
    add: bool,
) -> Result<(), DbErr> {
    let rows: Vec<stock_level::ActiveModel> = keys
        .map(|((location_id, item_code), delta)| stock_level::ActiveModel {
            organisation_id: Set(organisation_id),
            location_id: Set(*location_id),
            item_code: Set(item_code.clone()),
            on_hand: Set(delta),
            updated_at: Set(now),
        })
        .collect();
    let mut on_conflict = OnConflict::columns([
        stock_level::Column::OrganisationId,
        stock_level::Column::LocationId,
        stock_level::Column::ItemCode,
    ]);
    on_conflict.update_column(stock_level::Column::UpdatedAt);
    if add {
        on_conflict.value(
            stock_level::Column::OnHand,
            Expr::cust("stock_levels.on_hand + excluded.on_hand"),
        );
    }
    // SQLite binds at most 32,766 parameters a statement.
    for chunk in rows.chunks(1000) {
        stock_level::Entity::insert_many(chunk.to_vec())
            .on_conflict(on_conflict.clone())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// What the ledger held of `item_code` at `location_id` at `at` (every
/// movement up to and including that moment). Call after [`lock`] so no
/// other writer books movements for the key meanwhile.
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

/// Creates the on-hand row of a key if missing, and holds its row lock to
/// the end of the transaction (SQLite has one writer already).
pub async fn lock<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    location_id: Uuid,
    item_code: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let row = stock_level::ActiveModel {
        organisation_id: Set(organisation_id),
        location_id: Set(location_id),
        item_code: Set(item_code.to_owned()),
        on_hand: Set(0),
        updated_at: Set(now),
    };
    // The update on conflict takes the row's lock when it exists.
    stock_level::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                stock_level::Column::OrganisationId,
                stock_level::Column::LocationId,
                stock_level::Column::ItemCode,
            ])
            .update_column(stock_level::Column::UpdatedAt)
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
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
