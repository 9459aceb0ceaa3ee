//! Tools for fault tests: private PostgreSQL and Redis servers that a test
//! may stop and restart without touching the machine's shared services, the
//! server as a separate process that a test may kill, and a small HTTP
//! client that reports a dropped connection instead of panicking.
//!
//! Everything listens on 127.0.0.1 on a free port and is removed on drop.

mod client;
mod postgres;
mod process;
mod redis_server;

pub use client::{Outcome, Remote};
pub use postgres::PrivatePostgres;
pub use process::{Launch, ServerProcess};
pub use redis_server::PrivateRedis;

use std::{net::TcpListener, time::Duration};

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port on 127.0.0.1")
}

/// Waits until something accepts TCP connections on `port`, or panics
/// naming `what` after `limit`.
pub async fn wait_for_port(port: u16, what: &str, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "{what} did not listen on {port}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Finds a server program on `PATH` or in the usual Debian places, or panics
/// with the package to install: a fault test never passes by skipping.
fn program(name: &str, extra_dirs: &[std::path::PathBuf], package: &str) -> std::path::PathBuf {
    let path_dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    extra_dirs
        .iter()
        .chain(path_dirs.iter())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!("`{name}` not found: the fault tests need it (apt-get install {package})")
        })
}
