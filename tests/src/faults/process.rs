//! The server as a separate process, so that a test can kill it (`SIGKILL`,
//! no graceful shutdown) in the middle of a request.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use outpost_api::config::Config;

/// How to launch the server beyond its configuration.
#[derive(Debug, Default, Clone)]
pub struct Launch {
    /// A command (and its arguments) to run the server under, e.g.
    /// `strace -f -o FILE`; it is given the program and its arguments
    /// after its own.
    pub wrapper: Vec<String>,
    /// More `OUTPOST_*` settings (name, value).
    pub env: Vec<(String, String)>,
}

/// A running `outpost serve` process.
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    log: PathBuf,
}

impl ServerProcess {
    /// Runs `program serve --demo` on `config`'s storage, on a free port,
    /// and waits until it answers `/healthz`. `program` is the test crate's
    /// `outpost-under-test` binary (`env!("CARGO_BIN_EXE_outpost-under-test")`).
    pub async fn start(program: &str, config: &Config) -> Self {
        Self::start_with(program, config, &Launch::default()).await
    }

    /// As [`ServerProcess::start`], launched as `launch` says.
    pub async fn start_with(program: &str, config: &Config, launch: &Launch) -> Self {
        let port = super::free_port();
        let log = std::env::temp_dir().join(format!("outpost-process-{port}.log"));
        let log_file = std::fs::File::create(&log).expect("create the server log");
        let mut command = match launch.wrapper.split_first() {
            Some((first, rest)) => {
                let mut command = Command::new(first);
                command.args(rest).arg(program);
                command
            }
            None => Command::new(program),
        };
        command.args(["serve", "--demo"]);
        // Only what this test sets: nothing leaks in from the environment.
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("OUTPOST_")) {
            command.env_remove(key);
        }
        command
            .env("OUTPOST_LISTEN", format!("127.0.0.1:{port}"))
            .env("OUTPOST_DATA_DIR", &config.data_dir)
            .env("OUTPOST_REDIS_KEY_PREFIX", &config.redis_key_prefix)
            .env(
                "OUTPOST_PASSWORD_HASHING__MEMORY_KIB",
                config.password_hashing.memory_kib.to_string(),
            )
            .env(
                "OUTPOST_PASSWORD_HASHING__ITERATIONS",
                config.password_hashing.iterations.to_string(),
            )
            .env("RUST_LOG", "warn")
            .envs(launch.env.iter().map(|(k, v)| (k, v)));
        if let Some(url) = &config.database_url {
            command.env("OUTPOST_DATABASE_URL", url);
        }
        if let Some(url) = &config.redis_url {
            command.env("OUTPOST_REDIS_URL", url);
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("{program} starts: {e}"));
        let mut process = Self { child, base: format!("http://127.0.0.1:{port}"), log };
        process.wait_until_healthy(port).await;
        process
    }

    async fn wait_until_healthy(&mut self, port: u16) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        let client = reqwest::Client::new();
        loop {
            if let Ok(response) = client.get(format!("{}/healthz", self.base)).send().await
                && response.status().is_success()
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the server on {port} exited ({status}): {}", self.log_tail());
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the server on {port} did not answer: {}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Kills the process with `SIGKILL` and reaps it: nothing is flushed,
    /// no request is finished.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether the process has exited (reaping it if so).
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// The process id, e.g. to read its memory from `/proc/<pid>/status`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The end of the process's log, for failure messages.
    pub fn log_tail(&self) -> String {
        tail(&self.log)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let start = text.len().saturating_sub(4000);
    text[text.ceil_char_boundary(start)..].to_owned()
}
