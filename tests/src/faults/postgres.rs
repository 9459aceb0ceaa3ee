//! A PostgreSQL cluster of the test's own, in a temporary directory, that the
//! test may stop and start (the machine's shared server is never touched).

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use uuid::Uuid;

/// A private PostgreSQL server on 127.0.0.1 (trust auth, user `postgres`).
pub struct PrivatePostgres {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
}

impl PrivatePostgres {
    /// Creates a cluster (`initdb`) and starts it on a free port.
    pub async fn start() -> Self {
        let bin = bindir();
        let dir = std::env::temp_dir().join(format!("outpost-pg-{}", Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("create the cluster directory");
        if running_as_root() {
            // PostgreSQL refuses to run as root: the cluster belongs to the
            // `postgres` account the package creates.
            run(Command::new("chown").arg("postgres:postgres").arg(&dir), "chown");
        }
        let data = dir.join("data");
        run(
            as_postgres(&bin.join("initdb"))
                .args(["--auth=trust", "--username=postgres", "--no-sync", "--encoding=UTF8"])
                .arg("-D")
                .arg(&data),
            "initdb",
        );
        let server = Self { dir, bin, port: super::free_port() };
        server.start_again().await;
        server
    }

    /// A URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server at once, as a crash would (`-m immediate`): open
    /// connections are cut and the next start replays the WAL.
    pub fn stop(&self) {
        run(self.pg_ctl().args(["stop", "-m", "immediate", "-w"]), "pg_ctl stop");
    }

    /// Starts the stopped server again on the same port and waits for it.
    pub async fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60",
            self.port,
            self.dir.display()
        );
        run(
            self.pg_ctl()
                .arg("-o")
                .arg(options)
                .arg("-l")
                .arg(self.dir.join("server.log"))
                .args(["-w", "-t", "60", "start"]),
            "pg_ctl start",
        );
        super::wait_for_port(self.port, "private postgres", Duration::from_secs(30)).await;
    }

    fn pg_ctl(&self) -> Command {
        let mut command = as_postgres(&self.bin.join("pg_ctl"));
        command.arg("-D").arg(self.dir.join("data"));
        command
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.pg_ctl().args(["stop", "-m", "immediate", "-w"]).output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Where `initdb` and `pg_ctl` live: Debian keeps them off `PATH`.
fn bindir() -> PathBuf {
    let mut dirs = Vec::new();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        dirs.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    }
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = entries.flatten().map(|e| e.path().join("bin")).collect();
        versions.sort();
        dirs.extend(versions.into_iter().rev());
    }
    let initdb = super::program("initdb", &dirs, "postgresql");
    initdb.parent().map(Path::to_path_buf).unwrap_or_default()
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

fn as_postgres(program: &Path) -> Command {
    if running_as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(command: &mut Command, what: &str) {
    let out = command.output().unwrap_or_else(|e| panic!("{what} could not run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
