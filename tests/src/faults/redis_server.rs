//! A Redis server of the test's own, that the test may stop and start (the
//! machine's shared Redis is never touched).

use std::{
    process::{Child, Command, Stdio},
    sync::Mutex,
    time::Duration,
};

/// A private, memory-only Redis on 127.0.0.1.
pub struct PrivateRedis {
    port: u16,
    child: Mutex<Option<Child>>,
}

impl PrivateRedis {
    /// Starts a Redis on a free port.
    pub async fn start() -> Self {
        let redis = Self { port: super::free_port(), child: Mutex::new(None) };
        redis.start_again().await;
        redis
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (its data goes with it, as on a restart of a Redis
    /// that keeps nothing on disk).
    pub fn stop(&self) {
        if let Some(mut child) = self.child.lock().expect("redis child").take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the server (`SIGSTOP`): connections stay open, nothing
    /// answers, and the data is still there when it resumes, as in a
    /// network partition.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Thaws a paused server (`SIGCONT`).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let guard = self.child.lock().expect("redis child");
        let child = guard.as_ref().expect("redis is running");
        let status = Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} failed");
    }

    /// Starts the server again on the same port and waits for it.
    pub async fn start_again(&self) {
        let program = super::program("redis-server", &[], "redis-server");
        let child = Command::new(program)
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--port", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        *self.child.lock().expect("redis child") = Some(child);
        super::wait_for_port(self.port, "private redis", Duration::from_secs(10)).await;
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
