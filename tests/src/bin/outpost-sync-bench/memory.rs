//! The server process's memory: its peak (the kernel's high-water mark),
//! and what it still holds after a burst of large requests.

use std::time::Duration;

use serde_json::Value;

use super::{
    client::Api,
    workload::{self, Setup},
};

/// Reads the server's `/proc/<pid>/status`.
pub struct Sampler {
    pid: u32,
}

impl Sampler {
    /// Watches process `pid`.
    pub fn start(pid: u32) -> Self {
        Self { pid }
    }

    fn status_mib(&self, field: &str) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with(field))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
            .map(|kb| kb / 1024.0)
            .unwrap_or(0.0)
    }

    /// The peak resident memory so far.
    pub fn peak_mib(&self) -> f64 {
        self.status_mib("VmHWM:")
    }

    /// The resident memory now.
    pub fn resident_mib(&self) -> f64 {
        self.status_mib("VmRSS:")
    }
}

/// The server's memory around the burst.
pub struct BurstFigures {
    pub requests: usize,
    pub body_mib: f64,
    pub before_mib: f64,
    pub peak_mib: f64,
    /// Three seconds after, and fifteen.
    pub settled_mib: (f64, f64),
}

/// Eight pushes at once of 500 contacts with 4,000-character notes (bodies
/// of about 2.3 MiB, a good part of the 4 MiB limit), then fifteen seconds
/// of quiet: what the process keeps is what a burst leaves behind.
pub async fn burst(api: &Api, setup: &Setup, memory: &Sampler) -> anyhow::Result<BurstFigures> {
    const REQUESTS: usize = 8;
    let before_mib = memory.resident_mib();
    let note = "Long handover note. ".repeat(200);
    let mut tasks = Vec::new();
    let mut body_bytes = 0;
    for r in 0..REQUESTS {
        let site = setup.site_id;
        let batch: Vec<Value> = (0..500)
            .map(|i| {
                let fields = workload::contact_fields(site, i, Some(&note));
                outpost_tests::device::mutation(
                    "contact",
                    uuid::Uuid::now_v7(),
                    "create",
                    None,
                    fields,
                )
            })
            .collect();
        body_bytes = serde_json::json!({ "mutations": &batch }).to_string().len();
        let (api, token) = (api.clone(), setup.pushers[r % setup.pushers.len()].clone());
        tasks.push(tokio::spawn(async move { api.push(&token, batch).await }));
    }
    for task in tasks {
        task.await??;
    }
    let peak_mib = memory.peak_mib();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after_3s = memory.resident_mib();
    tokio::time::sleep(Duration::from_secs(12)).await;
    Ok(BurstFigures {
        requests: REQUESTS,
        body_mib: body_bytes as f64 / (1024.0 * 1024.0),
        before_mib,
        peak_mib,
        settled_mib: (after_3s, memory.resident_mib()),
    })
}
