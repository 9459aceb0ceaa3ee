//! Login memory is bounded. Each password check at the production cost
//! (argon2id, 19 MiB, 2 passes) holds 19 MiB while it runs; sixty wrong
//! passwords at once, unbounded, hold over a gigabyte. The server runs as a
//! process of its own so its peak resident memory (`VmHWM`) is its alone.

use std::{collections::BTreeMap, net::IpAddr, time::Duration};

use futures_util::future::join_all;
use outpost_tests::{
    faults::ServerProcess,
    fresh_storage,
    outpost_api::config::{Config, PasswordHashing},
};
use serde_json::json;

use super::support::{ADMIN, MANAGER, WORKER1, WORKER2};

/// The `outpost` command, built in this crate so it can run as a process.
const PROGRAM: &str = env!("CARGO_BIN_EXE_outpost-under-test");
const AT_ONCE: usize = 60;
/// 60 × 19 MiB unbounded is about 1.1 GiB.
const PEAK_LIMIT_MIB: u64 = 400;

/// `VmHWM` and `VmRSS` of `pid`, in MiB.
fn memory_mib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let field = |name: &str| {
        let line = status.lines().find(|l| l.starts_with(name)).expect(name);
        let kib: u64 = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect(name);
        kib / 1024
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// A client that connects from `127.0.0.<n>`: each loopback address is its
/// own client address to the login rate limit (60 a minute), so the test
/// stays within it without changing the server's configuration.
fn client_from(n: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, n]))
        .timeout(Duration::from_secs(90))
        .build()
        .expect("http client")
}

/// 120 wrong passwords, sixty at a time, from four loopback addresses:
/// every answer is 401 (or 503 with `Retry-After` when the server sheds
/// load), and the server's peak resident memory stays far below what sixty
/// concurrent checks would take.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_wrong_passwords_at_once_stay_within_bounded_memory() {
    let (mut config, _storage) = fresh_storage().await;
    config.password_hashing = Config::default().password_hashing;
    let PasswordHashing { memory_kib, iterations } = config.password_hashing;
    assert_eq!((memory_kib, iterations), (19456, 2), "the production cost");
    let server = ServerProcess::start(PROGRAM, &config).await;
    let pid = server.pid();
    let (start_peak, _) = memory_mib(pid);

    let mut counted: BTreeMap<u16, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for wave in 0..2u8 {
        let clients = [client_from(2 + 2 * wave), client_from(3 + 2 * wave)];
        let logins = (0..AT_ONCE).map(|n| {
            // Four tries per demo account per wave (the account limit is
            // ten failures), the rest on addresses with no account, which
            // cost the same check.
            let email = match n {
                0..16 => [ADMIN, MANAGER, WORKER1, WORKER2][n % 4].to_owned(),
                _ => format!("nobody-{wave}-{n}@demo.outpost.test"),
            };
            let client = clients[n % 2].clone();
            let url = format!("{}/v1/auth/login", server.base);
            async move {
                let body = json!({ "email": email, "password": "not-the-password" });
                client.post(url).json(&body).send().await
            }
        });
        for sent in join_all(logins).await {
            let response = match sent {
                Ok(response) => response,
                Err(err) => {
                    failures.push(format!("no answer: {err}"));
                    continue;
                }
            };
            let status = response.status().as_u16();
            let retry_after = response.headers().contains_key("retry-after");
            let content_type = response.headers().get("content-type").cloned();
            let text = response.text().await.unwrap_or_default();
            *counted.entry(status).or_default() += 1;
            let fine = status == 401 || (status == 503 && retry_after);
            let problem = content_type.is_some_and(|c| c == "application/problem+json");
            if !fine || !problem {
                failures.push(format!("{status} (retry-after: {retry_after}): {text}"));
            }
        }
    }
    let (peak, resident) = memory_mib(pid);
    eprintln!(
        "abuse figures: login memory: {} wrong-password logins ({AT_ONCE} at once, twice) at \
         argon2id {memory_kib} KiB x {iterations}: answers {counted:?}; server VmHWM {peak} MiB \
         (at start {start_peak} MiB), VmRSS after {resident} MiB",
        2 * AT_ONCE
    );
    assert!(failures.is_empty(), "answers other than 401 or 503 + Retry-After: {failures:#?}");
    assert!(
        peak < PEAK_LIMIT_MIB,
        "peak resident memory {peak} MiB: password checks are not bounded (limit \
         {PEAK_LIMIT_MIB} MiB); log: {}",
        server.log_tail()
    );
}
