//! An organisation that already holds many contacts: copies of a contact
//! pushed through the API (same stored values), each with its kit lines,
//! its feed entry and its mutation log entry, written by SQL in chunks.
//! Ids are time-ordered like the devices' v7 ids, older than anything
//! pushed after.

use std::time::{Duration, Instant};

use sea_orm::sqlx::{self, Row};
use uuid::Uuid;

use super::{
    ceiling::Raw,
    client::Api,
    workload::{self, Setup},
};

const CHUNK: i64 = 50_000;

/// Loads `count` contacts; with `analyze`, runs `ANALYZE` after.
pub async fn load(
    api: &Api,
    raw: &Raw,
    setup: &Setup,
    count: usize,
    analyze: bool,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let template = Uuid::now_v7();
    let mut fields = workload::contact(setup.site_id, 0);
    fields["id"] = serde_json::json!(template);
    api.push(&setup.pushers[0], vec![fields]).await?;

    let mut tx = raw.pool.begin().await?;
    // The counter row's lock keeps pushes out while the feed grows.
    let base: i64 =
        sqlx::query("SELECT last_seq FROM sync_counters WHERE organisation_id = $1 FOR UPDATE")
            .bind(setup.organisation_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("last_seq")?;
    let total = count as i64;
    let mut from = 1;
    while from <= total {
        let to = (from + CHUNK - 1).min(total);
        for sql in STATEMENTS {
            sqlx::query(sql)
                .bind(template)
                .bind(from)
                .bind(to)
                .bind(total)
                .bind(base)
                .execute(&mut *tx)
                .await?;
        }
        from = to + 1;
    }
    sqlx::query("UPDATE sync_counters SET last_seq = last_seq + $2 WHERE organisation_id = $1")
        .bind(setup.organisation_id)
        .bind(total)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    if analyze {
        sqlx::raw_sql("ANALYZE").execute(&raw.pool).await?;
    }
    Ok(started.elapsed())
}

/// A time-ordered id for copy `n` of `total` (`$2` = n, `salt` tells the
/// kinds apart): 48 bits of milliseconds, the version 7 nibble, the
/// variant, and an md5's digits.
macro_rules! id_of {
    ($salt:literal) => {
        concat!(
            "(lpad(to_hex((extract(epoch from now()) * 1000)::bigint - ($4 - n) - 1000), 12, '0')",
            " || '7' || substr(md5('",
            $salt,
            "' || n::text), 1, 3) || '8'",
            " || substr(md5('",
            $salt,
            "' || n::text), 4, 15))::uuid"
        )
    };
}

/// The copies of the template's rows for n in `$2..=$3` (`$1` the
/// template, `$4` the total, `$5` the feed's last number before).
const STATEMENTS: [&str; 4] =
    [
        concat!(
        "INSERT INTO contacts (id, organisation_id, version, occurred_at, site_id, location_area,
            person_id, worker_ids, contact_type, living_situation, interventions, substances,
            note, returns_count, returns_estimated, recorded_by, device_id, created_at,
            updated_at, deleted_at)
         SELECT ", id_of!("c"), ", c.organisation_id, c.version, c.occurred_at, c.site_id,
            c.location_area, c.person_id, c.worker_ids, c.contact_type, c.living_situation,
            c.interventions, c.substances, c.note, c.returns_count, c.returns_estimated,
            c.recorded_by, c.device_id, c.created_at, c.updated_at, c.deleted_at
         FROM generate_series($2::int8, $3::int8) n, contacts c
         WHERE c.id = $1 AND $4::int8 > 0 AND $5::int8 >= 0"
    ),
        concat!(
            "INSERT INTO kit_lines (id, organisation_id, contact_id, position, item_code, quantity,
            for_others)
         SELECT (lpad(to_hex((extract(epoch from now()) * 1000)::bigint - ($4 - n) - 1000), 12, '0')
                 || '7' || substr(md5('k' || n::text || '.' || k.position::text), 1, 3) || '8'
                 || substr(md5('k' || n::text || '.' || k.position::text), 4, 15))::uuid,
            k.organisation_id, ",
            id_of!("c"),
            ", k.position, k.item_code, k.quantity, k.for_others
         FROM generate_series($2::int8, $3::int8) n, kit_lines k
         WHERE k.contact_id = $1 AND $5::int8 >= 0"
        ),
        concat!(
            "INSERT INTO sync_changes (organisation_id, seq, entity, record_id, op, version,
            visibility, site_id, owner_user_id, audience_user_id, changed_at)
         SELECT ch.organisation_id, $5 + n, ch.entity, ",
            id_of!("c"),
            ", ch.op, ch.version,
            ch.visibility, ch.site_id, ch.owner_user_id, ch.audience_user_id, ch.changed_at
         FROM generate_series($2::int8, $3::int8) n, sync_changes ch
         WHERE ch.record_id = $1 AND ch.entity = 'contact'"
        ),
        concat!(
            "INSERT INTO sync_mutations (organisation_id, mutation_id, user_id, device_id,
            api_key_id, entity, record_id, outcome, result, received_at, digest)
         SELECT m.organisation_id, ",
            id_of!("m"),
            ", m.user_id, m.device_id, m.api_key_id,
            m.entity, ",
            id_of!("c"),
            ", m.outcome, m.result, m.received_at, m.digest
         FROM generate_series($2::int8, $3::int8) n, sync_mutations m
         WHERE m.record_id = $1 AND $5::int8 >= 0"
        ),
    ];
