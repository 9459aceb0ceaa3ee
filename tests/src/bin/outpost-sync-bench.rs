//! Benchmark of sync against a spawned server: 20 devices push 500 contacts
//! each (about 400 bytes, two or three kit lines) in batches of 100, a fresh
//! device pulls everything, then incremental pulls follow small pushes.
//!
//! Run on Postgres + Redis:
//!
//! ```sh
//! OUTPOST_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//! OUTPOST_TEST_REDIS_URL=redis://127.0.0.1:6379 \
//! cargo run --release -p outpost-tests --bin outpost-sync-bench
//! ```
//!
//! The server runs in this process (client and server share its memory and
//! the machine's cores), so the peak memory printed is an upper bound for
//! the server. Bounded: fixed work, 127.0.0.1 only.

use std::time::{Duration, Instant};

use outpost_tests::{device::mutation, spawn_app};
use serde_json::{Value, json};
use uuid::Uuid;

const DEVICES: usize = 20;
const CONTACTS_PER_DEVICE: usize = 500;
const BATCH: usize = 100;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3
}

fn peak_memory_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn contact(site: &str, n: usize) -> Value {
    let mut lines = vec![
        json!({ "item": "syringe_1ml_29g", "quantity": 10 }),
        json!({ "item": "swab", "quantity": 10, "for_others": 5 }),
    ];
    if n.is_multiple_of(2) {
        lines.push(json!({ "item": "naloxone_nasal", "quantity": 1 }));
    }
    json!({
        "occurred_at": "2026-11-20T23:15:00Z",
        "site_id": site,
        "contact_type": "nsp_visit",
        "living_situation": "rough_sleeping",
        "interventions": ["harm_reduction_advice"],
        "substances": [{ "substance": "heroin", "known_by": "self_reported" }],
        "note": "Exchange at the van; advised on injecting sites and wound care.",
        "kit_lines": lines,
    })
}

async fn post(client: &reqwest::Client, url: &str, token: &str, body: &Value) -> Value {
    let response = client.post(url).bearer_auth(token).json(body).send().await.expect("push");
    assert!(response.status().is_success(), "push answered {}", response.status());
    response.json().await.expect("json")
}

async fn get(client: &reqwest::Client, url: &str, token: &str) -> Value {
    let response = client.get(url).bearer_auth(token).send().await.expect("pull");
    assert!(response.status().is_success(), "pull answered {}", response.status());
    response.json().await.expect("json")
}

#[tokio::main]
async fn main() {
    let app = spawn_app().await;
    app.load_demo().await;
    println!(
        "backend: {}, cache: {}",
        if app.config.database_url.is_some() { "postgres" } else { "sqlite" },
        if app.config.redis_url.is_some() { "redis" } else { "in-process" }
    );
    let manager = app.login("manager@demo.outpost.test").await;
    let site =
        app.get("/v1/sites", &manager).await.ok()["items"][0]["id"].as_str().unwrap().to_owned();
    let mut tokens = Vec::new();
    for _ in 0..DEVICES {
        tokens.push(app.login_on_device("worker1@demo.outpost.test", Uuid::now_v7()).await);
    }

    // Push: every device at once, batches of 100.
    let push_url = format!("{}/v1/sync/push", app.base);
    let started = Instant::now();
    let mut tasks = Vec::new();
    let mut bytes = 0usize;
    for token in tokens.clone() {
        let batches: Vec<Value> = (0..CONTACTS_PER_DEVICE / BATCH)
            .map(|b| {
                let mutations: Vec<Value> = (0..BATCH)
                    .map(|i| {
                        mutation(
                            "contact",
                            Uuid::now_v7(),
                            "create",
                            None,
                            contact(&site, b * BATCH + i),
                        )
                    })
                    .collect();
                json!({ "mutations": mutations })
            })
            .collect();
        bytes += batches.iter().map(|b| b.to_string().len()).sum::<usize>();
        let url = push_url.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut latencies = Vec::new();
            for batch in batches {
                let t = Instant::now();
                let answer = post(&client, &url, &token, &batch).await;
                latencies.push(t.elapsed());
                let applied = answer["results"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|r| r["status"] == "applied")
                    .count();
                assert_eq!(applied, BATCH, "every mutation applied");
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("device"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let records = DEVICES * CONTACTS_PER_DEVICE;
    println!(
        "push       {records} contacts ({} B each on average) in {:.2}s = {:.0} records/s   batch p50 {:.1} ms   p99 {:.1} ms",
        bytes / records,
        elapsed.as_secs_f64(),
        records as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
    );

    // Full pull by a fresh device.
    let client = reqwest::Client::new();
    let fresh = app.login_on_device("manager@demo.outpost.test", Uuid::now_v7()).await;
    let started = Instant::now();
    let mut cursor: Option<String> = None;
    let mut pulled = 0usize;
    loop {
        let url = match &cursor {
            Some(c) => format!("{}/v1/sync/pull?limit=1000&cursor={c}", app.base),
            None => format!("{}/v1/sync/pull?limit=1000", app.base),
        };
        let page = get(&client, &url, &fresh).await;
        pulled +=
            page["changes"].as_array().unwrap().iter().filter(|c| c["entity"] == "contact").count();
        cursor = page["cursor"].as_str().map(str::to_owned);
        if !page["has_more"].as_bool().unwrap() {
            break;
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(pulled, records, "the full pull returns every contact");
    println!(
        "full pull  {pulled} contacts in {:.2}s = {:.0} records/s (pages of 1000)",
        elapsed.as_secs_f64(),
        pulled as f64 / elapsed.as_secs_f64()
    );

    // Incremental pulls: a device pushes 10 contacts, the fresh device pulls.
    let mut incremental = Vec::new();
    for round in 0..50 {
        let mutations: Vec<Value> = (0..10)
            .map(|i| {
                mutation("contact", Uuid::now_v7(), "create", None, contact(&site, round * 10 + i))
            })
            .collect();
        post(&client, &push_url, &tokens[round % DEVICES], &json!({ "mutations": mutations }))
            .await;
        let url =
            format!("{}/v1/sync/pull?limit=1000&cursor={}", app.base, cursor.clone().unwrap());
        let t = Instant::now();
        let page = get(&client, &url, &fresh).await;
        incremental.push(t.elapsed());
        assert_eq!(page["changes"].as_array().unwrap().len(), 10, "exactly the new contacts");
        cursor = page["cursor"].as_str().map(str::to_owned);
    }
    incremental.sort();
    println!(
        "incremental pull of 10 changes x50: p50 {:.2} ms   p99 {:.2} ms",
        percentile(&incremental, 0.5),
        percentile(&incremental, 0.99)
    );
    println!("peak memory of this process (server + client): {:.0} MiB", peak_memory_mib());
}
