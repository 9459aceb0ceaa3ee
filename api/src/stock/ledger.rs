//! Booking movements: on-hand kept equal to the sum of the ledger, and
//! late movements absorbed by the stocktakes that counted them.

use std::collections::BTreeMap;

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

/// Books `movements` for the organisation: locks each on-hand row they
/// touch (in key order, so two writers never deadlock on them), adds a
/// correction for each one a stocktake recorded later than it already
/// counted, inserts them and moves on-hand by their sum.
pub async fn book<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    now: DateTime<Utc>,
    movements: Vec<Movement>,
) -> Result<(), DbErr> {
    if movements.is_empty() {
        return Ok(());
    }
    let mut keys: Vec<Key> =
        movements.iter().map(|m| (m.location_id, m.item_code.clone())).collect();
    keys.sort();
    keys.dedup();
    for (location_id, item_code) in &keys {
        lock(db, organisation_id, *location_id, item_code, now).await?;
    }
    let mut rows = Vec::with_capacity(movements.len());
    let mut sums: BTreeMap<Key, i64> = BTreeMap::new();
    for m in movements {
        let absorbed = if m.cause == Cause::Correction {
            None
        } else {
            counted_by(db, organisation_id, &m).await?
        };
        *sums.entry((m.location_id, m.item_code.clone())).or_default() += m.delta;
        if let Some((stocktake_id, counted_at)) = absorbed {
            *sums.entry((m.location_id, m.item_code.clone())).or_default() -= m.delta;
            rows.push(row(
                organisation_id,
                now,
                &Movement {
                    delta: -m.delta,
                    occurred_at: counted_at,
                    cause: Cause::Correction,
                    ..m.clone()
                },
                Some(stocktake_id),
            ));
        }
        rows.push(row(organisation_id, now, &m, None));
    }
    // Insert in chunks: SQLite binds at most 32,766 parameters a statement.
    for chunk in rows.chunks(500) {
        stock_movement::Entity::insert_many(chunk.to_vec()).exec_without_returning(db).await?;
    }
    for ((location_id, item_code), sum) in sums {
        if sum == 0 {
            continue;
        }
        stock_level::Entity::update_many()
            .col_expr(stock_level::Column::OnHand, Expr::col(stock_level::Column::OnHand).add(sum))
            .col_expr(stock_level::Column::UpdatedAt, Expr::value(now))
            .filter(stock_level::Column::OrganisationId.eq(organisation_id))
            .filter(stock_level::Column::LocationId.eq(location_id))
            .filter(stock_level::Column::ItemCode.eq(item_code))
            .exec(db)
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

/// The earliest stocktake of the movement's key counted at or after it
/// (its entry and time), if one is booked: its count held the movement.
async fn counted_by<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    m: &Movement,
) -> Result<Option<(Uuid, DateTime<Utc>)>, DbErr> {
    stock_movement::Entity::find()
        .select_only()
        .column(stock_movement::Column::SourceId)
        .column(stock_movement::Column::OccurredAt)
        .filter(stock_movement::Column::OrganisationId.eq(organisation_id))
        .filter(stock_movement::Column::LocationId.eq(m.location_id))
        .filter(stock_movement::Column::ItemCode.eq(m.item_code.as_str()))
        .filter(stock_movement::Column::Cause.eq(Cause::Stocktake.as_str()))
        .filter(stock_movement::Column::OccurredAt.gte(m.occurred_at))
        .filter(stock_movement::Column::SourceId.ne(m.source_id))
        .order_by_asc(stock_movement::Column::OccurredAt)
        .limit(1)
        .into_tuple::<(Uuid, DateTime<Utc>)>()
        .one(db)
        .await
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
