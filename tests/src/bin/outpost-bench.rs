//! Benchmark of the foundation's hot paths against a spawned server: login
//! (argon2id at production cost) and authenticated `GET /v1/me` (a session
//! resolved from Redis with a sliding expiry, plus the profile queries).
//!
//! Run on Postgres + Redis:
//!
//! ```sh
//! OUTPOST_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//! OUTPOST_TEST_REDIS_URL=redis://127.0.0.1:6379 \
//! cargo run --release -p outpost-tests --bin outpost-bench
//! ```
//!
//! Bounded: `BENCH_SECONDS` (default 10) of load from `BENCH_CLIENTS`
//! (default 32) concurrent clients, on 127.0.0.1 only.

use std::time::{Duration, Instant};

use outpost_api::config::PasswordHashing;
use outpost_tests::spawn_app_with;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn report(name: &str, mut latencies: Vec<Duration>, elapsed: Duration) {
    latencies.sort();
    println!(
        "{name:<10} {:>7} requests in {:>5.1}s = {:>8.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
    );
}

#[tokio::main]
async fn main() {
    let seconds = env_or("BENCH_SECONDS", 10);
    let clients = env_or("BENCH_CLIENTS", 32) as usize;
    // Production password cost, and limits that a benchmark from one
    // address would otherwise trip.
    let app = spawn_app_with(|c| {
        c.password_hashing = PasswordHashing { memory_kib: 19 * 1024, iterations: 2 };
        c.login_limits.address_attempts = u64::MAX / 2;
    })
    .await;
    app.load_demo().await;
    println!(
        "backend: {}, cache: {}",
        if app.config.database_url.is_some() { "postgres" } else { "sqlite" },
        if app.config.redis_url.is_some() { "redis" } else { "in-process" }
    );

    // Logins: a handful, they are deliberately expensive.
    let started = Instant::now();
    let mut logins = Vec::new();
    let mut tokens = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        tokens.push(app.login("worker1@demo.outpost.test").await);
        logins.push(t.elapsed());
    }
    report("login", logins, started.elapsed());

    // Authenticated reads from many clients at once.
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let base = app.base.clone();
    let mut tasks = Vec::new();
    for i in 0..clients {
        let token = tokens[i % tokens.len()].clone();
        let url = format!("{base}/v1/me");
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                let response = client.get(&url).bearer_auth(&token).send().await.expect("request");
                assert!(response.status().is_success(), "status {}", response.status());
                response.bytes().await.expect("body");
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("client task"));
    }
    report("GET /v1/me", all, started.elapsed());
}
