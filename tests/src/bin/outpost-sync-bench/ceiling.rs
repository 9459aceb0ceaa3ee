//! The database's own ceilings, measured in the same run on the same
//! machine: what a minimal client gets for the same rows without Outpost
//! in the way.
//!
//! - Push: the rows a push writes (contact, kit lines, feed entry, mutation
//!   log entry) inserted with `INSERT ... SELECT FROM UNNEST` into copies
//!   of the tables (`LIKE ... INCLUDING ALL`: same columns and indexes),
//!   from 20 connections, one transaction per 100 contacts, each commit
//!   durable as the server's are. Measured twice: with change numbers
//!   handed out by the client (nothing orders the commits), and numbered
//!   as sync.md's guarantee 4 needs, under the organisation's counter row
//!   lock taken last in each transaction, as the server does: the gap
//!   between the two is what that guarantee costs by itself.
//! - Pull: the feed read in pages of 1,000 with each contact and its kit
//!   lines turned into JSON by Postgres itself, parsed by this client.

use std::{
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use sea_orm::sqlx::{self, PgPool, Row, postgres::PgPoolOptions};
use uuid::Uuid;

use super::{
    options::Options,
    workload::{BATCH, DEVICES, Setup},
};

/// A direct connection pool to the server's database.
pub struct Raw {
    pub pool: PgPool,
}

/// What a ceiling measured.
pub struct CeilingFigures {
    /// Contacts (push) or records (pull).
    pub records: usize,
    /// Rows written, for the push.
    pub rows: usize,
    pub elapsed: Duration,
}

const TABLES: [(&str, &str); 5] = [
    ("bench_contacts", "contacts"),
    ("bench_kit_lines", "kit_lines"),
    ("bench_changes", "sync_changes"),
    ("bench_mutations", "sync_mutations"),
    ("bench_counters", "sync_counters"),
];

/// How the raw client numbers the feed entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbering {
    /// From a counter in the client: commits in any order.
    Free,
    /// Under the organisation's counter row lock, last in the transaction.
    Locked,
}

impl Raw {
    /// Connects to `url` with room for 20 writers, without JIT as the
    /// server's connections are (a fair comparison).
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let options: sqlx::postgres::PgConnectOptions = url.parse()?;
        let pool = PgPoolOptions::new()
            .max_connections(DEVICES as u32 + 2)
            .connect_with(options.options([("jit", "off")]))
            .await?;
        Ok(Self { pool })
    }

    /// Inserts `options.contacts` contacts' rows as the push phase wrote
    /// them, 20 connections at once.
    pub async fn push_ceiling(
        &self,
        setup: &Setup,
        options: &Options,
        numbering: Numbering,
    ) -> anyhow::Result<CeilingFigures> {
        for (copy, table) in TABLES {
            let sql = format!(
                "DROP TABLE IF EXISTS {copy}; CREATE TABLE {copy} (LIKE {table} INCLUDING ALL)"
            );
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&self.pool).await?;
        }
        let seq = Arc::new(AtomicI64::new(0));
        let per_device = options.contacts / DEVICES;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..DEVICES {
            let (pool, seq) = (self.pool.clone(), seq.clone());
            let (org, site, user) = (setup.organisation_id, setup.site_id, setup.user_id);
            tasks.push(tokio::spawn(async move {
                let device = Uuid::now_v7();
                let mut rows = 0;
                for _ in 0..per_device / BATCH {
                    rows += insert_batch(&pool, org, site, user, device, &seq, numbering).await?;
                }
                anyhow::Ok(rows)
            }));
        }
        let mut rows = 0;
        for task in tasks {
            rows += task.await??;
        }
        let elapsed = started.elapsed();
        for (copy, _) in TABLES {
            let sql = format!("DROP TABLE {copy}");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&self.pool).await?;
        }
        Ok(CeilingFigures { records: per_device * DEVICES, rows, elapsed })
    }

    /// Reads the organisation's whole feed in pages of 1,000, each page
    /// built as JSON by Postgres and parsed here.
    pub async fn pull_ceiling(&self, organisation_id: Uuid) -> anyhow::Result<CeilingFigures> {
        let started = Instant::now();
        let (mut after, mut records) = (0i64, 0usize);
        let mut conn = self.pool.acquire().await?;
        loop {
            let row = sqlx::query(PULL_PAGE)
                .bind(organisation_id)
                .bind(after)
                .fetch_one(&mut *conn)
                .await?;
            let page: String = row.try_get("page")?;
            let count: i64 = row.try_get("n")?;
            let parsed: serde_json::Value = serde_json::from_str(&page)?;
            anyhow::ensure!(parsed.as_array().map(Vec::len) == Some(count as usize));
            if count == 0 {
                break;
            }
            records += count as usize;
            after = row.try_get("last")?;
        }
        Ok(CeilingFigures { records, rows: records, elapsed: started.elapsed() })
    }
}

/// The batch's feed entries numbered from `$2` on.
const FREE_CHANGES: &str = "
INSERT INTO bench_changes (organisation_id, seq, entity, record_id, op, version, visibility,
    site_id, owner_user_id, audience_user_id, changed_at)
SELECT $1, $2 - 1 + t.n, 'contact', t.id, 'upsert', 1, 'site', $3, $4, NULL, $5
FROM UNNEST($6::uuid[]) WITH ORDINALITY AS t(id, n)";

/// The batch's `$2` feed entries numbered under the counter's row lock,
/// as the server's `feed::append` does.
const LOCKED_CHANGES: &str = "
WITH counter AS (
    INSERT INTO bench_counters (organisation_id, last_seq, horizon_seq) VALUES ($1, $2, 0)
    ON CONFLICT (organisation_id)
    DO UPDATE SET last_seq = bench_counters.last_seq + EXCLUDED.last_seq
    RETURNING last_seq
)
INSERT INTO bench_changes (organisation_id, seq, entity, record_id, op, version, visibility,
    site_id, owner_user_id, audience_user_id, changed_at)
SELECT $1, counter.last_seq - $2 + t.n, 'contact', t.id, 'upsert', 1, 'site', $3, $4, NULL, $5
FROM counter, UNNEST($6::uuid[]) WITH ORDINALITY AS t(id, n)";

/// A naloxone line's supply, as the server stores it.
const NALOXONE: &str = r#"{"incident_id":null,"recipient":"person_at_risk","repeat_reason":null,"supply":"first","trained":"now"}"#;

/// A page of the feed with each contact (and its kit lines) as JSON.
const PULL_PAGE: &str = "
SELECT coalesce(json_agg(json_build_object(
           'seq', p.seq, 'entity', p.entity, 'id', p.record_id, 'op', p.op,
           'version', p.version, 'record', p.record) ORDER BY p.seq), '[]')::text AS page,
       coalesce(max(p.seq), 0) AS last, count(*) AS n
FROM (
  SELECT ch.seq, ch.entity, ch.record_id, ch.op, ch.version,
         (SELECT to_json(r) FROM (
            SELECT c.*, (SELECT coalesce(json_agg(k ORDER BY k.position), '[]')
                         FROM kit_lines k WHERE k.contact_id = c.id) AS kit_lines
            FROM contacts c WHERE c.id = ch.record_id) r) AS record
  FROM sync_changes ch
  WHERE ch.organisation_id = $1 AND ch.seq > $2
  ORDER BY ch.seq
  LIMIT 1000
) p";

/// One transaction: 100 contacts with their kit lines, feed entries and
/// mutation log entries. Answers the rows written.
async fn insert_batch(
    pool: &PgPool,
    org: Uuid,
    site: Uuid,
    user: Uuid,
    device: Uuid,
    seq: &AtomicI64,
    numbering: Numbering,
) -> anyhow::Result<usize> {
    let now: DateTime<Utc> = Utc::now();
    let ids: Vec<Uuid> = (0..BATCH).map(|_| Uuid::now_v7()).collect();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO bench_contacts (id, organisation_id, version, occurred_at, site_id,
            location_area, person_id, worker_ids, contact_type, living_situation, interventions,
            substances, note, returns_count, returns_estimated, recorded_by, device_id,
            created_at, updated_at, deleted_at)
         SELECT id, org, 1, occurred, site, NULL, NULL, workers, kind, living, interventions,
                substances, note, 0, false, rec, dev, now, now, NULL
         FROM UNNEST($1::uuid[], $2::uuid[], $3::timestamptz[], $4::uuid[], $5::text[],
                     $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::uuid[],
                     $12::uuid[], $13::timestamptz[])
           AS t(id, org, occurred, site, workers, kind, living, interventions, substances,
                note, rec, dev, now)",
    )
    .bind(&ids)
    .bind(vec![org; BATCH])
    .bind(vec![now; BATCH])
    .bind(vec![site; BATCH])
    .bind(vec![format!("[\"{user}\"]"); BATCH])
    .bind(vec!["nsp_visit"; BATCH])
    .bind(vec!["rough_sleeping"; BATCH])
    .bind(vec!["[\"harm_reduction_advice\"]"; BATCH])
    .bind(vec![r#"[{"substance":"heroin","known_by":"self_reported"}]"#; BATCH])
    .bind(vec!["Exchange at the van; advised on injecting sites and wound care."; BATCH])
    .bind(vec![user; BATCH])
    .bind(vec![device; BATCH])
    .bind(vec![now; BATCH])
    .execute(&mut *tx)
    .await?;

    let (mut line_ids, mut contacts, mut positions, mut items, mut quantities, mut others) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // A naloxone line's supply detail, as the server stores it.
    let mut naloxone: Vec<Option<&str>> = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let mut lines = vec![("syringe_1ml_29g", 10, 0), ("swab", 10, 5)];
        if n.is_multiple_of(2) {
            lines.push(("naloxone_nasal", 1, 0));
        }
        for (position, (item, quantity, for_others)) in lines.into_iter().enumerate() {
            line_ids.push(Uuid::now_v7());
            contacts.push(*id);
            positions.push(position as i16);
            items.push(item);
            quantities.push(quantity);
            others.push(for_others);
            naloxone.push((item == "naloxone_nasal").then_some(NALOXONE));
        }
    }
    let lines = line_ids.len();
    sqlx::query(
        "INSERT INTO bench_kit_lines (id, organisation_id, contact_id, position, item_code,
            quantity, for_others, naloxone)
         SELECT id, $2, contact, position, item, quantity, others, naloxone
         FROM UNNEST($1::uuid[], $3::uuid[], $4::int2[], $5::text[], $6::int4[], $7::int4[],
                     $8::text[])
           AS t(id, contact, position, item, quantity, others, naloxone)",
    )
    .bind(&line_ids)
    .bind(org)
    .bind(&contacts)
    .bind(&positions)
    .bind(&items)
    .bind(&quantities)
    .bind(&others)
    .bind(&naloxone)
    .execute(&mut *tx)
    .await?;

    let mutation_ids: Vec<Uuid> = (0..BATCH).map(|_| Uuid::now_v7()).collect();
    let results: Vec<String> = mutation_ids
        .iter()
        .zip(&ids)
        .map(|(m, id)| {
            format!(r#"{{"mutation_id":"{m}","entity":"contact","id":"{id}","status":"applied","version":1}}"#)
        })
        .collect();
    let digests: Vec<String> = ids.iter().map(|id| format!("{:0>64}", id.simple())).collect();
    sqlx::query(
        "INSERT INTO bench_mutations (organisation_id, mutation_id, user_id, device_id,
            api_key_id, entity, record_id, outcome, result, received_at, digest)
         SELECT $1, mid, $2, $3, NULL, 'contact', id, 'applied', result, $4, digest
         FROM UNNEST($5::uuid[], $6::uuid[], $7::text[], $8::text[]) AS t(mid, id, result, digest)",
    )
    .bind(org)
    .bind(user)
    .bind(device)
    .bind(now)
    .bind(&mutation_ids)
    .bind(&ids)
    .bind(&results)
    .bind(&digests)
    .execute(&mut *tx)
    .await?;
    // The feed last: numbered under the counter's row lock, it is the
    // part every transaction of the organisation queues for.
    // $2 is the batch's first number (free) or its count (locked).
    let (sql, second) = match numbering {
        Numbering::Free => {
            let first = seq.fetch_add(BATCH as i64, Ordering::SeqCst) + 1;
            (FREE_CHANGES, first)
        }
        Numbering::Locked => (LOCKED_CHANGES, BATCH as i64),
    };
    sqlx::query(sql)
        .bind(org)
        .bind(second)
        .bind(site)
        .bind(user)
        .bind(now)
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(BATCH * 3 + lines)
}
