//! One table at the end: each figure beside its ceiling and its target.

use std::time::Duration;

use super::{
    ceiling::CeilingFigures,
    latency::OpenLoopFigures,
    memory::BurstFigures,
    stock::OnHandFigures,
    workload::{PullFigures, PushFigures},
};

/// The value at `p` (0 to 1) of sorted latencies, in milliseconds.
pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3
}

/// Rows of the table: what, Outpost's figure, the ceiling, the share of
/// it, the target.
#[derive(Default)]
pub struct Report {
    rows: Vec<[String; 5]>,
    notes: Vec<String>,
    push_rate: Option<f64>,
    pull_rate: Option<f64>,
}

fn rate(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Report {
    fn row(
        &mut self,
        what: impl Into<String>,
        figure: String,
        ceiling: &str,
        share: &str,
        target: &str,
    ) {
        self.rows.push([what.into(), figure, ceiling.into(), share.into(), target.into()]);
    }

    /// A line printed under the table.
    pub fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    pub fn push(&mut self, push: &PushFigures) {
        let contacts_per_s = rate(push.contacts, push.elapsed);
        self.push_rate = Some(contacts_per_s);
        self.row(
            format!(
                "push: {} contacts ({} B, {} kit lines), 20 devices x batches of 100",
                push.contacts, push.bytes_per_contact, push.kit_lines
            ),
            format!("{} contacts/s", thousands(contacts_per_s)),
            "",
            "",
            ">= 15,000/s",
        );
        self.row(
            "push: batch latency p50 / p99",
            format!(
                "{:.1} / {:.1} ms",
                percentile(&push.batches, 0.5),
                percentile(&push.batches, 0.99)
            ),
            "",
            "",
            "",
        );
    }

    /// The push with each contact's kit booked in the stock ledger,
    /// against the push without.
    pub fn ledger_push(&mut self, push: &PushFigures, from: &str) {
        let contacts_per_s = rate(push.contacts, push.elapsed);
        let share = self.push_rate.map(|r| format!("{:.0}%", 100.0 * contacts_per_s / r));
        self.row(
            format!(
                "push with the stock ledger: the same {} contacts, kit booked out of {from} \
                 (p50 / p99 batch {:.1} / {:.1} ms)",
                push.contacts,
                percentile(&push.batches, 0.5),
                percentile(&push.batches, 0.99)
            ),
            format!("{} contacts/s", thousands(contacts_per_s)),
            "the push without it",
            &share.unwrap_or_default(),
            ">= 85%",
        );
    }

    /// On-hand read at a bag with a year of kit, and stocktakes of it.
    pub fn on_hand(&mut self, year: i64, figures: &OnHandFigures) {
        self.row(
            format!(
                "stock: on-hand of a bag with {} movements (a year), {} reads, p50 / p99",
                thousands(year as f64),
                figures.reads.len()
            ),
            format!(
                "{:.1} / {:.1} ms",
                percentile(&figures.reads, 0.5),
                percentile(&figures.reads, 0.99)
            ),
            "",
            "",
            "p99 < 20 ms",
        );
        self.row(
            format!("stock: a stocktake of it pushed, {} in turn, p50 / p99", figures.counts.len()),
            format!(
                "{:.1} / {:.1} ms",
                percentile(&figures.counts, 0.5),
                percentile(&figures.counts, 0.99)
            ),
            "",
            "",
            "",
        );
    }

    pub fn push_ceiling(&mut self, ceiling: &CeilingFigures) {
        self.push_ceiling_row(
            "push ceiling: same rows by UNNEST, 20 connections, 100 per commit",
            ceiling,
            ">= 60%",
        );
    }

    /// The same, with the feed numbered under the counter's row lock.
    pub fn push_ceiling_numbered(&mut self, ceiling: &CeilingFigures) {
        self.push_ceiling_row(
            "push ceiling, feed numbered under the counter's row lock as sync.md 4 needs",
            ceiling,
            "",
        );
    }

    fn push_ceiling_row(&mut self, what: &str, ceiling: &CeilingFigures, target: &str) {
        let contacts_per_s = rate(ceiling.records, ceiling.elapsed);
        let share = self.push_rate.map(|r| format!("{:.0}%", 100.0 * r / contacts_per_s));
        self.row(
            what,
            format!("{} rows/s", thousands(rate(ceiling.rows, ceiling.elapsed))),
            &format!("{} contacts/s", thousands(contacts_per_s)),
            &share.unwrap_or_default(),
            target,
        );
    }

    pub fn pull(&mut self, pull: &PullFigures) {
        let per_s = rate(pull.records, pull.elapsed);
        self.pull_rate = Some(per_s);
        self.row(
            format!("full pull: {} records, {} pages of 1,000, parsed", pull.records, pull.pages),
            format!("{} records/s", thousands(per_s)),
            "",
            "",
            ">= 60,000/s",
        );
    }

    pub fn pull_ceiling(&mut self, ceiling: &CeilingFigures) {
        let per_s = rate(ceiling.records, ceiling.elapsed);
        let share = self.pull_rate.map(|r| format!("{:.0}%", 100.0 * r / per_s));
        self.row(
            "pull ceiling: same pages as JSON by Postgres, parsed",
            format!("{} records", ceiling.records),
            &format!("{} records/s", thousands(per_s)),
            &share.unwrap_or_default(),
            "",
        );
    }

    pub fn incremental(&mut self, latencies: &[Duration]) {
        self.row(
            "incremental pull: 20 devices x 100 new changes at once, 5 rounds, p50 / p99",
            format!("{:.1} / {:.1} ms", percentile(latencies, 0.5), percentile(latencies, 0.99)),
            "",
            "",
            "p99 < 20 ms",
        );
    }

    pub fn open_loop(&mut self, load: &OpenLoopFigures) {
        self.row(
            format!(
                "open loop: {} devices, 20 contacts every 10 s, {} s: push p50 / p99 ({} pushes)",
                load.devices,
                load.seconds,
                load.pushes.len()
            ),
            format!(
                "{:.1} / {:.1} ms",
                percentile(&load.pushes, 0.5),
                percentile(&load.pushes, 0.99)
            ),
            "",
            "",
            "p99 < 50 ms",
        );
        self.row(
            format!(
                "open loop: pull p50 / p99 ({} pages, {:.0} changes each, {} rounds late)",
                load.pulls.len(),
                load.changes_per_pull,
                load.late
            ),
            format!(
                "{:.1} / {:.1} ms",
                percentile(&load.pulls, 0.5),
                percentile(&load.pulls, 0.99)
            ),
            "",
            "",
            "p99 < 20 ms",
        );
    }

    pub fn peak_memory(&mut self, peak_mib: f64) {
        self.row(
            "server peak RSS through the phases above",
            format!("{peak_mib:.0} MiB"),
            "",
            "",
            "< 100 MiB",
        );
    }

    pub fn after_burst(&mut self, burst: &BurstFigures) {
        self.row(
            format!(
                "server RSS: before / peak / 3 s and 15 s after {} pushes of {:.1} MiB at once",
                burst.requests, burst.body_mib
            ),
            format!(
                "{:.0} / {:.0} / {:.0} / {:.0} MiB",
                burst.before_mib, burst.peak_mib, burst.settled_mib.0, burst.settled_mib.1
            ),
            "",
            "",
            "back near before",
        );
    }

    /// Prints the table (Markdown, so it goes into a note as it is).
    pub fn print(&self) {
        println!();
        println!("| measure | Outpost | ceiling | share | target |");
        println!("|---|---|---|---|---|");
        for [what, figure, ceiling, share, target] in &self.rows {
            println!("| {what} | {figure} | {ceiling} | {share} | {target} |");
        }
        for note in &self.notes {
            println!("\n{note}");
        }
    }
}
