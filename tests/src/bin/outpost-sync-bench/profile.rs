//! `--perf DIR`: records each closed-loop phase with `perf` (the whole
//! machine, call stacks by frame pointer), so a flame graph shows where a
//! phase's time goes in the server, in Postgres and in the client alike.
//!
//! For readable stacks, build with frame pointers and line tables:
//! `RUSTFLAGS="-C force-frame-pointers=yes" CARGO_PROFILE_RELEASE_DEBUG=line-tables-only`.
//! Then `perf script -i DIR/push.data | inferno-collapse-perf | inferno-flamegraph > push.svg`.

use std::{path::PathBuf, process::Stdio};

use tokio::process::{Child, Command};

/// Where the recordings go, when asked for.
#[derive(Debug, Clone, Default)]
pub struct Profiler {
    dir: Option<PathBuf>,
}

/// A phase being recorded; [`Recording::stop`] ends it.
pub struct Recording {
    child: Option<Child>,
}

impl Profiler {
    /// Records into `dir` (nothing when `None`).
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self { dir }
    }

    /// Starts recording `phase` into `DIR/<phase>.data`.
    pub async fn start(&self, phase: &str) -> anyhow::Result<Recording> {
        let Some(dir) = &self.dir else { return Ok(Recording { child: None }) };
        std::fs::create_dir_all(dir)?;
        let out = dir.join(format!("{phase}.data"));
        let mut child = Command::new("perf")
            // 1,999 Hz: the incremental phase lasts a fifth of a second.
            .args(["record", "-q", "-F", "1999", "-a", "-g", "-o"])
            .arg(&out)
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|err| anyhow::anyhow!("--perf needs `perf` on the PATH: {err}"))?;
        // perf needs a moment to attach before the phase's first request.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        if let Some(status) = child.try_wait()? {
            anyhow::bail!("perf record stopped at once ({status}); see its message above");
        }
        Ok(Recording { child: Some(child) })
    }
}

impl Recording {
    /// Stops the recording and waits for perf to write it out.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else { return Ok(()) };
        if let Some(pid) = child.id() {
            // SIGINT: perf writes its file and exits.
            Command::new("kill").args(["-INT", &pid.to_string()]).status().await?;
        }
        child.wait().await?;
        Ok(())
    }
}
