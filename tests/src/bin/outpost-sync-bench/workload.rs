//! The devices, their records, and the closed-loop phases: the push by 20
//! devices, a fresh device's full pull, and incremental pulls.

use std::time::{Duration, Instant};

use outpost_tests::{PASSWORD, device::mutation};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{client::Api, options::Options};

/// Devices pushing in the push phase, and pulling at once in the
/// incremental phase.
pub const DEVICES: usize = 20;
/// Contacts per push in the push phase.
pub const BATCH: usize = 100;
/// Sites of the open-loop load, and devices at each.
pub const OPEN_LOOP_SITES: usize = 20;
pub const DEVICES_PER_SITE: usize = 10;
/// The password of the users the benchmark creates.
const BENCH_PASSWORD: &str = "bench-password-outpost-2026";
const WORKER: &str = "worker1@demo.outpost.test";

/// Who pushes and pulls, and where.
pub struct Setup {
    /// The demo organisation.
    pub organisation_id: Uuid,
    /// The site of the push phase (worker1's first).
    pub site_id: Uuid,
    /// worker1, who records the push phase's contacts.
    pub user_id: Uuid,
    /// 20 devices of worker1.
    pub pushers: Vec<String>,
    /// A fresh device of worker1, for the full pull.
    pub fresh: String,
    /// 20 more devices of worker1, for the incremental pulls.
    pub pullers: Vec<String>,
    /// The open-loop devices: (their site, token), 10 per site.
    pub open_loop: Vec<(Uuid, String)>,
    /// A bag per pushing device at the push phase's site, which the ledger
    /// push's contacts name as where their kit came from.
    pub bags: Vec<Uuid>,
    /// A van at the same site, which every device's contacts name in the
    /// shared-location ledger push.
    pub van: Uuid,
    /// A manager, for stocktakes.
    pub manager: String,
}

impl Setup {
    /// Signs the devices in, and creates the open-loop sites with a worker
    /// each.
    pub async fn prepare(api: &Api, _options: &Options) -> anyhow::Result<Self> {
        let started = Instant::now();
        let worker = api.login(WORKER, PASSWORD).await?;
        let me = api.get("/v1/me", &worker).await?;
        let uuid = |v: &Value| -> anyhow::Result<Uuid> {
            v.as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| anyhow::anyhow!("not a uuid: {v}"))
        };
        let organisation_id = uuid(&me["organisation"]["id"])?;
        let site_id = uuid(&me["sites"][0]["id"])?;
        let user_id = uuid(&me["user"]["id"])?;
        let mut pushers = Vec::new();
        let mut pullers = Vec::new();
        for _ in 0..DEVICES {
            pushers.push(api.login(WORKER, PASSWORD).await?);
            pullers.push(api.login(WORKER, PASSWORD).await?);
        }
        let fresh = api.login(WORKER, PASSWORD).await?;
        let admin = api.login("admin@demo.outpost.test", PASSWORD).await?;
        let mut bags = Vec::new();
        for (kind, name) in std::iter::repeat_n("bag", DEVICES + 1).enumerate().map(|(i, kind)| {
            if i == DEVICES {
                ("van", "Bench van".to_owned())
            } else {
                (kind, format!("Bench bag {i}"))
            }
        }) {
            let body = json!({ "site_id": site_id, "kind": kind, "name": name });
            bags.push(uuid(&api.post("/v1/stock/locations", &admin, &body).await?["id"])?);
        }
        let van = bags.pop().ok_or_else(|| anyhow::anyhow!("no van"))?;
        let manager = api.login("manager@demo.outpost.test", PASSWORD).await?;
        let mut open_loop = Vec::new();
        for s in 0..OPEN_LOOP_SITES {
            let site = api
                .post(
                    "/v1/sites",
                    &admin,
                    &json!({ "name": format!("Bench team {s}"), "kind": "outreach_team" }),
                )
                .await?;
            let site = uuid(&site["id"])?;
            let email = format!("bench-worker-{s}@demo.outpost.test");
            api.post(
                "/v1/users",
                &admin,
                &json!({
                    "email": email,
                    "display_name": format!("Bench worker {s}"),
                    "role": "worker",
                    "password": BENCH_PASSWORD,
                    "site_ids": [site],
                }),
            )
            .await?;
            for _ in 0..DEVICES_PER_SITE {
                open_loop.push((site, api.login(&email, BENCH_PASSWORD).await?));
            }
        }
        println!(
            "setup: {} devices signed in, {OPEN_LOOP_SITES} sites and users created in {:.1}s",
            2 * DEVICES + 2 + open_loop.len(),
            started.elapsed().as_secs_f64()
        );
        Ok(Self {
            organisation_id,
            site_id,
            user_id,
            pushers,
            fresh,
            pullers,
            open_loop,
            bags,
            van,
            manager,
        })
    }
}

/// A street contact of about 400 bytes with two or three kit lines, as a
/// create mutation.
pub fn contact(site: Uuid, n: usize) -> Value {
    mutation("contact", Uuid::now_v7(), "create", None, contact_fields(site, n, None))
}

/// [`contact`], its kit from `bag` (booked in the stock ledger).
pub fn contact_from(site: Uuid, n: usize, bag: Uuid) -> Value {
    let mut fields = contact_fields(site, n, None);
    fields["stock_location_id"] = json!(bag);
    mutation("contact", Uuid::now_v7(), "create", None, fields)
}

/// A contact's fields; `note` replaces the usual one.
pub fn contact_fields(site: Uuid, n: usize, note: Option<&str>) -> Value {
    let mut lines = vec![
        json!({ "item": "syringe_1ml_29g", "quantity": 10 }),
        json!({ "item": "swab", "quantity": 10, "for_others": 5 }),
    ];
    if n.is_multiple_of(2) {
        lines.push(json!({
            "item": "naloxone_nasal",
            "quantity": 1,
            "naloxone": { "supply": "first", "recipient": "person_at_risk", "trained": "now" },
        }));
    }
    json!({
        "occurred_at": "2026-11-20T23:15:00Z",
        "site_id": site,
        "contact_type": "nsp_visit",
        "living_situation": "rough_sleeping",
        "interventions": ["harm_reduction_advice"],
        "substances": [{ "substance": "heroin", "known_by": "self_reported" }],
        "note": note.unwrap_or("Exchange at the van; advised on injecting sites and wound care."),
        "kit_lines": lines,
    })
}

/// Kit lines in `n` contacts as [`contact`] makes them.
pub fn kit_lines_in(n: usize) -> usize {
    2 * n + n.div_ceil(2)
}

/// What the push phase measured.
pub struct PushFigures {
    pub contacts: usize,
    pub kit_lines: usize,
    pub bytes_per_contact: usize,
    pub elapsed: Duration,
    /// Each batch's latency, sorted.
    pub batches: Vec<Duration>,
}

/// 20 devices push `options.contacts` contacts between them, back to back,
/// in batches of 100; with `locations`, device `d`'s contacts take their
/// kit from `locations[d % len]` (a bag each, or one van for all).
pub async fn push(
    api: &Api,
    setup: &Setup,
    options: &Options,
    locations: Option<&[Uuid]>,
) -> anyhow::Result<PushFigures> {
    let per_device = options.contacts / DEVICES;
    let mut bodies: Vec<Vec<Vec<Value>>> = Vec::new();
    let mut bytes = 0;
    for d in 0..DEVICES {
        let location = locations.map(|l| l[d % l.len()]);
        let batches: Vec<Vec<Value>> = (0..per_device / BATCH)
            .map(|b| {
                (0..BATCH)
                    .map(|i| match location {
                        Some(location) => contact_from(setup.site_id, b * BATCH + i, location),
                        None => contact(setup.site_id, b * BATCH + i),
                    })
                    .collect()
            })
            .collect();
        bytes += batches.iter().flatten().map(|m| m.to_string().len()).sum::<usize>();
        bodies.push(batches);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (token, batches) in setup.pushers.iter().cloned().zip(bodies) {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for batch in batches {
                latencies.push(api.push(&token, batch).await?);
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut batches = Vec::new();
    for task in tasks {
        batches.extend(task.await??);
    }
    let elapsed = started.elapsed();
    batches.sort();
    let contacts = per_device * DEVICES;
    Ok(PushFigures {
        contacts,
        kit_lines: DEVICES * (per_device / BATCH) * kit_lines_in(BATCH),
        bytes_per_contact: bytes / contacts,
        elapsed,
        batches,
    })
}

/// What the full pull measured.
pub struct PullFigures {
    pub records: usize,
    pub pages: usize,
    pub elapsed: Duration,
    /// Where the device stands after it: the head of the feed.
    pub cursor: String,
}

/// A fresh device pulls the whole feed in pages of 1,000, parsing each.
pub async fn full_pull(api: &Api, setup: &Setup) -> anyhow::Result<PullFigures> {
    let started = Instant::now();
    let (mut cursor, mut records, mut pages) = (None::<String>, 0, 0);
    loop {
        let (changes, next, has_more, _) = api.pull_page(&setup.fresh, cursor.as_deref()).await?;
        records += changes.len();
        pages += 1;
        cursor = Some(next);
        if !has_more {
            break;
        }
    }
    let cursor = cursor.unwrap_or_default();
    Ok(PullFigures { records, pages, elapsed: started.elapsed(), cursor })
}

/// Latencies of 20 devices pulling 100 new changes at once, five rounds.
pub async fn incremental(api: &Api, setup: &Setup, head: &str) -> anyhow::Result<Vec<Duration>> {
    let mut cursors: Vec<String> = vec![head.to_owned(); setup.pullers.len()];
    let mut latencies = Vec::new();
    for round in 0..5 {
        let batch = (0..BATCH).map(|i| contact(setup.site_id, round * BATCH + i)).collect();
        api.push(&setup.pushers[round], batch).await?;
        let mut tasks = Vec::new();
        for (token, cursor) in setup.pullers.iter().cloned().zip(cursors.clone()) {
            let api = api.clone();
            tasks.push(tokio::spawn(async move {
                let (changes, next, _, took) = api.pull_page(&token, Some(&cursor)).await?;
                anyhow::ensure!(changes.len() == BATCH, "pulled {} of {BATCH} new", changes.len());
                anyhow::Ok((next, took))
            }));
        }
        for (i, task) in tasks.into_iter().enumerate() {
            let (next, took) = task.await??;
            cursors[i] = next;
            latencies.push(took);
        }
    }
    latencies.sort();
    Ok(latencies)
}
