//! Benchmark of sync against the server in a process of its own, with the
//! database's own ceilings measured in the same run.
//!
//! What it measures (issue 12), in order:
//!
//! 1. **Push**: 20 devices push back to back, batches of 100 contacts of
//!    about 400 bytes with two or three kit lines. Ceiling: the same rows
//!    (contacts, kit lines, feed entries, mutation log) inserted by a
//!    minimal client with `INSERT ... SELECT FROM UNNEST`, 20 connections,
//!    a transaction per 100 contacts.
//! 2. **Full pull**: a fresh device pulls everything in pages of 1,000 and
//!    parses the JSON. Ceiling: the same pages built as JSON by Postgres
//!    itself and parsed by the same client.
//! 3. **Incremental pull**: a device pushes 100 contacts, then 20 devices
//!    pull them at once; five rounds.
//! 4. **Open-loop latency**: 200 devices over 20 sites, each pushing 20
//!    contacts every 10 s and pulling after it, on a fixed schedule.
//! 5. **Stock** (issue 13): the push again, each contact's kit booked out of
//!    a bag in the stock ledger, against the push without; then a year of
//!    kit at that bag (200,000 movements, by SQL) and on-hand read through
//!    the API, and stocktakes of it pushed (Postgres only).
//! 6. **Memory**: the server's peak RSS through all of the above, then its
//!    RSS a few seconds after a burst of pushes near the body limit.
//!
//! `--preload N` first loads N contacts into the organisation with SQL
//! (copies of a pushed one, with their kit lines, feed entries and log
//! rows), to measure the same at scale; `--analyze` runs `ANALYZE` after it
//! (by default not: the hot paths must plan well without statistics).
//! `--perf DIR` records the push, the full pull and the incremental pulls
//! with `perf` (see
//! `profile.rs`).
//!
//! ```sh
//! OUTPOST_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//! OUTPOST_TEST_REDIS_URL=redis://127.0.0.1:6379 \
//! cargo run --release -p outpost-tests --bin outpost-sync-bench -- [--contacts 10000] [--preload 0] [--open-loop-secs 30]
//! ```
//!
//! Bounded: fixed work, 127.0.0.1 only, the server process is killed at
//! the end. Production password hashing, auth on every request.

mod ceiling;
mod client;
mod latency;
mod memory;
mod options;
mod plans;
mod preload;
mod profile;
mod report;
mod stock;
mod workload;

use outpost_tests::{
    faults::{Launch, ServerProcess},
    fresh_storage,
    outpost_api::config::Config,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // The server runs as this same program in a second process, so its
    // memory is its own and the client's parsing is not counted in it.
    if std::env::args().nth(1).as_deref() == Some("serve") {
        return outpost_tests::outpost_api::cli::run().await;
    }
    let options = options::Options::from_args()?;
    let (mut config, _storage) = fresh_storage().await;
    // Production hashing: logins cost what they cost, memory included.
    config.password_hashing = Config::default().password_hashing;
    let launch = Launch {
        env: vec![
            // 200 devices and their users sign in from one address.
            ("OUTPOST_LOGIN_LIMITS__ADDRESS_ATTEMPTS".into(), "1000000".into()),
            ("OUTPOST_CONNECTIONS__PER_ADDRESS".into(), "0".into()),
        ],
        ..Launch::default()
    };
    let program = std::env::current_exe()?.to_string_lossy().into_owned();
    let server = ServerProcess::start_with(&program, &config, &launch).await;
    let backend = if config.database_url.is_some() { "postgres" } else { "sqlite" };
    let cache = if config.redis_url.is_some() { "redis" } else { "in-process" };
    println!("backend: {backend}, cache: {cache}, server pid {}", server.pid());

    let memory = memory::Sampler::start(server.pid());
    let mut report = report::Report::default();
    let api = client::Api::new(&server.base);
    let setup = workload::Setup::prepare(&api, &options).await?;
    let raw = match &config.database_url {
        Some(url) => Some(ceiling::Raw::connect(url).await?),
        None => None,
    };
    if options.preload > 0 {
        let raw = raw.as_ref().ok_or_else(|| anyhow::anyhow!("--preload needs Postgres"))?;
        let loaded = preload::load(&api, raw, &setup, options.preload, options.analyze).await?;
        println!("preloaded {} contacts in {:.1}s", options.preload, loaded.as_secs_f64());
        report.note(format!("organisation preloaded with {} contacts", options.preload));
    }

    let profiler = profile::Profiler::new(options.perf.clone());
    let recording = profiler.start("push").await?;
    let push = workload::push(&api, &setup, &options, None).await?;
    recording.stop().await?;
    report.push(&push);
    let recording = profiler.start("pull").await?;
    let pull = workload::full_pull(&api, &setup).await?;
    recording.stop().await?;
    report.pull(&pull);
    if let Some(raw) = &raw {
        let ceiling = raw.push_ceiling(&setup, &options, ceiling::Numbering::Free).await?;
        report.push_ceiling(&ceiling);
        let ceiling = raw.push_ceiling(&setup, &options, ceiling::Numbering::Locked).await?;
        report.push_ceiling_numbered(&ceiling);
        let ceiling = raw.pull_ceiling(setup.organisation_id).await?;
        report.pull_ceiling(&ceiling);
        let plans =
            plans::explain(config.database_url.as_deref().unwrap_or_default(), &setup).await?;
        plans.print();
        if plans.any_full_scan() {
            report.note("a hot statement scans a whole table: see the plans above".into());
        }
    }
    let recording = profiler.start("incremental").await?;
    let incremental = workload::incremental(&api, &setup, &pull.cursor).await?;
    recording.stop().await?;
    report.incremental(&incremental);
    let open_loop = latency::open_loop(&api, &setup, &pull.cursor, &options).await?;
    report.open_loop(&open_loop);
    // The same push with each contact's kit booked out of the device's bag,
    // then out of one van all 20 share (every batch on the same figures).
    let ledger_push = workload::push(&api, &setup, &options, Some(&setup.bags)).await?;
    report.ledger_push(&ledger_push, "a bag per device");
    let shared = std::slice::from_ref(&setup.van);
    let ledger_push = workload::push(&api, &setup, &options, Some(shared)).await?;
    report.ledger_push(&ledger_push, "one van for all 20");
    if let Some(raw) = &raw {
        let year = stock::a_year_of_kit(raw, &setup).await?;
        let figures = stock::on_hand(&api, &setup).await?;
        report.on_hand(year, &figures);
    }
    report.peak_memory(memory.peak_mib());
    let settled = memory::burst(&api, &setup, &memory).await?;
    report.after_burst(&settled);
    report.print();
    // The server first: the storage (database, cache namespace) goes
    // when `_storage` is dropped, after it.
    drop(server);
    Ok(())
}
