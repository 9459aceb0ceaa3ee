//! Latency under an open-loop load, as a real shift looks: 200 devices at
//! 20 sites, each pushing 20 contacts every 10 s on a fixed schedule (a
//! slow answer does not slow the others down) and pulling after each push
//! until it has caught up. Every push and every pull page is timed.

use std::time::Duration;

use tokio::time::Instant;

use super::{
    client::Api,
    options::Options,
    workload::{self, Setup},
};

/// Contacts per push, and seconds between a device's pushes.
const BATCH: usize = 20;
const EVERY: Duration = Duration::from_secs(10);

/// What the open-loop load measured.
pub struct OpenLoopFigures {
    pub devices: usize,
    pub seconds: u64,
    /// Push latencies, sorted.
    pub pushes: Vec<Duration>,
    /// Pull page latencies, sorted.
    pub pulls: Vec<Duration>,
    /// Changes pulled per page, on average.
    pub changes_per_pull: f64,
    /// Rounds that started later than scheduled (the device was still busy
    /// with its previous round).
    pub late: usize,
}

/// Runs the load for `options.open_loop_secs`; every device starts from
/// `head` (it has synced before the shift).
pub async fn open_loop(
    api: &Api,
    setup: &Setup,
    head: &str,
    options: &Options,
) -> anyhow::Result<OpenLoopFigures> {
    let devices = setup.open_loop.len();
    let start = Instant::now() + Duration::from_millis(200);
    let end = start + Duration::from_secs(options.open_loop_secs);
    let mut tasks = Vec::new();
    for (i, (site, token)) in setup.open_loop.iter().cloned().enumerate() {
        let api = api.clone();
        let mut cursor = head.to_owned();
        // Spread evenly over the period, as devices on a shift are.
        let mut next = start + EVERY * i as u32 / devices as u32;
        tasks.push(tokio::spawn(async move {
            let (mut pushes, mut pulls, mut changes, mut late) = (Vec::new(), Vec::new(), 0, 0);
            let mut round = 0;
            while next < end {
                let now = Instant::now();
                if now > next + Duration::from_millis(5) {
                    late += 1;
                } else {
                    tokio::time::sleep_until(next).await;
                }
                let batch =
                    (0..BATCH).map(|k| workload::contact(site, round * BATCH + k)).collect();
                pushes.push(api.push(&token, batch).await?);
                loop {
                    let (page, next_cursor, has_more, took) =
                        api.pull_page(&token, Some(&cursor)).await?;
                    pulls.push(took);
                    changes += page.len();
                    cursor = next_cursor;
                    if !has_more {
                        break;
                    }
                }
                round += 1;
                next += EVERY;
            }
            anyhow::Ok((pushes, pulls, changes, late))
        }));
    }
    let mut figures = OpenLoopFigures {
        devices,
        seconds: options.open_loop_secs,
        pushes: Vec::new(),
        pulls: Vec::new(),
        changes_per_pull: 0.0,
        late: 0,
    };
    let mut changes = 0;
    for task in tasks {
        let (pushes, pulls, pulled, late) = task.await??;
        figures.pushes.extend(pushes);
        figures.pulls.extend(pulls);
        changes += pulled;
        figures.late += late;
    }
    figures.pushes.sort();
    figures.pulls.sort();
    figures.changes_per_pull = changes as f64 / figures.pulls.len().max(1) as f64;
    Ok(figures)
}
