//! The benchmark's command line.

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Contacts pushed by the 20 devices (default 10,000).
    pub contacts: usize,
    /// Contacts loaded into the organisation with SQL before anything is
    /// measured (default none).
    pub preload: usize,
    /// `ANALYZE` after the preload.
    pub analyze: bool,
    /// How long the open-loop load runs, in seconds (default 30).
    pub open_loop_secs: u64,
    /// Where `perf` recordings of the push, the full pull and the
    /// incremental pulls go (none by default).
    pub perf: Option<std::path::PathBuf>,
}

impl Options {
    /// Reads `--contacts N`, `--preload N`, `--analyze`,
    /// `--open-loop-secs S` and `--perf DIR`.
    pub fn from_args() -> anyhow::Result<Self> {
        let mut options = Options {
            contacts: 10_000,
            preload: 0,
            analyze: false,
            open_loop_secs: 30,
            perf: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut number = |name: &str| -> anyhow::Result<u64> {
                args.next()
                    .and_then(|v| v.replace('_', "").parse().ok())
                    .ok_or_else(|| anyhow::anyhow!("{name} takes a number"))
            };
            match arg.as_str() {
                "--contacts" => options.contacts = number("--contacts")? as usize,
                "--preload" => options.preload = number("--preload")? as usize,
                "--open-loop-secs" => options.open_loop_secs = number("--open-loop-secs")?,
                "--analyze" => options.analyze = true,
                "--perf" => {
                    let dir =
                        args.next().ok_or_else(|| anyhow::anyhow!("--perf takes a directory"))?;
                    options.perf = Some(dir.into());
                }
                other => anyhow::bail!(
                    "unknown argument {other}; use --contacts N, --preload N, --analyze, --open-loop-secs S, --perf DIR"
                ),
            }
        }
        anyhow::ensure!(
            options.contacts >= 2_000 && options.contacts.is_multiple_of(2_000),
            "--contacts must be a multiple of 2,000 (20 devices, batches of 100)"
        );
        Ok(options)
    }
}
