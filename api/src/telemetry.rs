//! Structured logs with `tracing`.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::LogFormat;

/// Installs the global subscriber (`RUST_LOG` overrides the default level).
/// Safe to call more than once: later calls change nothing.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Json => registry.with(fmt::layer().json().flatten_event(true)).try_init(),
        // Colours only for a person at a terminal, never in a file or pipe.
        LogFormat::Text => registry
            .with(fmt::layer().compact().with_ansi(std::io::stdout().is_terminal()))
            .try_init(),
    };
}
