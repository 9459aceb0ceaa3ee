//! The stock ledger at a year's size (issue 13): a bag that handed out a
//! year of kit (about 200,000 kit lines' movements, written by SQL like a
//! preload), then on-hand read through the API, and stocktakes of it
//! pushed (each sums the item's ledger up to its moment).

use std::time::{Duration, Instant};

use sea_orm::sqlx;
use serde_json::json;
use uuid::Uuid;

use super::{ceiling::Raw, client::Api, workload::Setup};

/// Kit lines' movements in a year at one busy bag.
pub const YEAR_OF_LINES: i64 = 200_000;
/// On-hand reads timed.
const READS: usize = 200;
/// Stocktakes timed.
const COUNTS: usize = 10;

/// What the phase measured.
pub struct OnHandFigures {
    /// On-hand reads (all items of the bag), sorted.
    pub reads: Vec<Duration>,
    /// Stocktake pushes, sorted.
    pub counts: Vec<Duration>,
}

/// Books a year of issues out of the bench bag (three items, over the
/// year before the push phase's contacts) and moves on-hand with them, as
/// the server would have.
pub async fn a_year_of_kit(raw: &Raw, setup: &Setup) -> anyhow::Result<i64> {
    let mut tx = raw.pool.begin().await?;
    sqlx::query(
        "INSERT INTO stock_movements (id, organisation_id, location_id, item_code, delta, \
         occurred_at, cause, source_id, absorbed_by, created_at) \
         SELECT gen_random_uuid(), $1, $2, (ARRAY['syringe_1ml_29g', 'swab', 'naloxone_nasal'])[1 + n % 3], \
         -1, timestamptz '2025-11-20' + n * interval '157 seconds', 'issue', gen_random_uuid(), NULL, now() \
         FROM generate_series(1, $3) AS n",
    )
    .bind(setup.organisation_id)
    .bind(setup.bags[0])
    .bind(YEAR_OF_LINES)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO stock_levels (organisation_id, location_id, item_code, on_hand, updated_at) \
         SELECT $1, $2, item_code, SUM(delta), now() FROM stock_movements \
         WHERE organisation_id = $1 AND location_id = $2 GROUP BY item_code \
         ON CONFLICT (organisation_id, location_id, item_code) \
         DO UPDATE SET on_hand = excluded.on_hand, updated_at = excluded.updated_at",
    )
    .bind(setup.organisation_id)
    .bind(setup.bags[0])
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(YEAR_OF_LINES)
}

/// Reads the bag's on-hand `READS` times, then pushes `COUNTS` stocktakes
/// of it one after another.
pub async fn on_hand(api: &Api, setup: &Setup) -> anyhow::Result<OnHandFigures> {
    let path = format!("/v1/stock/levels?location_id={}", setup.bags[0]);
    let mut reads = Vec::with_capacity(READS);
    for _ in 0..READS {
        let started = Instant::now();
        let page = api.get(&path, &setup.pushers[0]).await?;
        reads.push(started.elapsed());
        anyhow::ensure!(page["items"].as_array().is_some_and(|i| i.len() >= 3), "{page}");
    }
    let mut counts = Vec::with_capacity(COUNTS);
    for n in 0..COUNTS {
        let fields = json!({
            "kind": "stocktake",
            "occurred_at": format!("2026-11-21T0{n}:00:00Z"),
            "location_id": setup.bags[0],
            "item_code": "swab",
            "quantity": 500,
        });
        let mutation =
            outpost_tests::device::mutation("stock_entry", Uuid::now_v7(), "create", None, fields);
        counts.push(api.push(&setup.manager, vec![mutation]).await?);
    }
    reads.sort();
    counts.sort();
    Ok(OnHandFigures { reads, counts })
}
