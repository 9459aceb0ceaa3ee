//! Every TCP socket the server opens (to Postgres, to Redis) or accepts
//! (from clients) has `TCP_NODELAY`.
//!
//! Without it, a message written in two parts (a statement over 16 KiB,
//! which TLS sends as two records; an answer's headers and body) waits
//! for the peer's delayed ACK, about 40 ms each time. sqlx 0.9.0 dropped
//! the option on database sockets (its issue 4335); `vendor/sqlx-core`
//! puts it back. The server runs as its own process under `strace`, which
//! records every `connect`, `accept4` and `setsockopt`: the test reads
//! which sockets were opened and which got no-delay.

use std::{collections::HashMap, time::Duration};

use outpost_tests::{
    faults::{Launch, Outcome, Remote, ServerProcess},
    fresh_storage,
};
use reqwest::Method;
use uuid::Uuid;

use super::{
    PROGRAM,
    support::{assert_all_accepted, contact_batch, push_body},
};

/// What a socket in the trace is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Peer {
    Database,
    Redis,
    Client,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_socket_of_the_server_has_no_delay() {
    let (config, _storage) = fresh_storage().await;
    let trace = std::env::temp_dir().join(format!("outpost-strace-{}.txt", Uuid::now_v7()));
    let trace_arg = trace.to_string_lossy().into_owned();
    let strace = ["strace", "-f", "-q", "-e", "trace=connect,accept4,setsockopt", "-o", &trace_arg];
    let launch =
        Launch { wrapper: strace.iter().map(|s| s.to_string()).collect(), ..Launch::default() };
    let mut server = ServerProcess::start_with(PROGRAM, &config, &launch).await;

    // A push of 100 contacts is a statement well over 16 KiB; the pull
    // reads them back.
    let remote = Remote::new(&server.base);
    let token = remote.login("worker1@demo.outpost.test").await;
    let (mutations, _) = contact_batch(100);
    match remote
        .send(Method::POST, "/v1/sync/push", Some(&token), Some(&push_body(&mutations)))
        .await
    {
        Outcome::Answered(answer) => {
            assert_all_accepted(&answer);
        }
        Outcome::Dropped { reason, .. } => panic!("push dropped: {reason}"),
    }
    match remote.send(Method::GET, "/v1/sync/pull?limit=1000", Some(&token), None).await {
        Outcome::Answered(answer) => assert_eq!(answer.status.as_u16(), 200),
        Outcome::Dropped { reason, .. } => panic!("pull dropped: {reason}"),
    }

    // Killing the traced server ends strace, which then has written all.
    stop_traced(&mut server).await;
    let text = std::fs::read_to_string(&trace).expect("strace wrote its trace");
    let _ = std::fs::remove_file(&trace);

    let ports = Ports {
        database: config.database_url.as_deref().map(|url| port_of(url, 5432)),
        redis: config.redis_url.as_deref().map(|url| port_of(url, 6379)),
    };
    let (with_no_delay, without) = read_trace(&text, &ports);
    assert!(without.is_empty(), "sockets without TCP_NODELAY: {without:?}\n{text}");
    let accepts: Vec<&str> = text.lines().filter(|l| l.contains("accept")).collect();
    assert!(
        with_no_delay.get(&Peer::Client).copied().unwrap_or(0) > 0,
        "no accepted socket seen: {accepts:?}"
    );
    if ports.database.is_some() {
        assert!(with_no_delay.get(&Peer::Database).copied().unwrap_or(0) > 0, "no database socket");
    }
    if ports.redis.is_some() {
        assert!(with_no_delay.get(&Peer::Redis).copied().unwrap_or(0) > 0, "no Redis socket");
    }
    println!("fault figures: sockets with no-delay {with_no_delay:?}");
}

/// Kills the traced program (strace's child) and waits for strace to end.
async fn stop_traced(server: &mut ServerProcess) {
    let children = format!("/proc/{pid}/task/{pid}/children", pid = server.pid());
    let tracee = std::fs::read_to_string(&children).expect("strace's children");
    for pid in tracee.split_whitespace() {
        let _ = std::process::Command::new("kill").args(["-9", pid]).status();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !server.has_exited() {
        assert!(tokio::time::Instant::now() < deadline, "strace did not end");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The ports the server's outgoing connections go to.
struct Ports {
    database: Option<u16>,
    redis: Option<u16>,
}

/// The port of a `scheme://user@host:port/...` URL.
fn port_of(url: &str, default: u16) -> u16 {
    let authority = url.split("://").nth(1).unwrap_or_default().split('/').next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    host_port.rsplit_once(':').and_then(|(_, port)| port.parse().ok()).unwrap_or(default)
}

/// Sockets in the trace that got no-delay (counted by peer) and those
/// that were opened and never got it.
fn read_trace(text: &str, ports: &Ports) -> (HashMap<Peer, usize>, Vec<(i64, Peer)>) {
    let mut open: HashMap<i64, Peer> = HashMap::new();
    let mut with_no_delay: HashMap<Peer, usize> = HashMap::new();
    let mut without = Vec::new();
    // With several threads, strace splits a call another thread's output
    // interrupts: `PID accept4(7, <unfinished ...>`, later
    // `PID <... accept4 resumed>{...}, ...) = 12`. Joined here by thread.
    let mut unfinished: HashMap<&str, &str> = HashMap::new();
    let mut joined = Vec::new();
    for line in text.lines() {
        // strace pads the pid to five columns.
        let (pid, call) = line.split_once(' ').unwrap_or(("", line));
        let call = call.trim_start();
        if let Some(start) = call.strip_suffix("<unfinished ...>") {
            unfinished.insert(pid, start);
        } else if let Some((_, rest)) = call.split_once(" resumed>") {
            joined.push(format!("{}{rest}", unfinished.remove(pid).unwrap_or_default()));
        } else {
            joined.push(call.to_owned());
        }
    }
    for call in &joined {
        // `syscall(args) = result`
        let call = call.as_str();
        let (name, args) = call.split_once('(').unwrap_or((call, ""));
        let result = call.rsplit_once(" = ").map_or("", |(_, result)| result);
        let first_arg = || args.split(',').next().and_then(|fd| fd.trim().parse::<i64>().ok());
        let opened = match name {
            "connect" if result == "0" || result.contains("EINPROGRESS") => {
                let port = port_in(args);
                let peer = if port.is_some() && port == ports.database {
                    Some(Peer::Database)
                } else if port.is_some() && port == ports.redis {
                    Some(Peer::Redis)
                } else {
                    None
                };
                peer.and_then(|peer| first_arg().map(|fd| (fd, peer)))
            }
            "accept4" => {
                result.parse::<i64>().ok().filter(|fd| *fd >= 0).map(|fd| (fd, Peer::Client))
            }
            "setsockopt" if args.contains("TCP_NODELAY, [1]") && result == "0" => {
                if let Some(peer) = first_arg().and_then(|fd| open.remove(&fd)) {
                    *with_no_delay.entry(peer).or_default() += 1;
                }
                None
            }
            _ => None,
        };
        if let Some((fd, peer)) = opened {
            // The number came back while the socket it named never got
            // no-delay: that socket was closed without it.
            if let Some(earlier) = open.insert(fd, peer) {
                without.push((fd, earlier));
            }
        }
    }
    without.extend(open);
    (with_no_delay, without)
}

/// The port of a traced `sockaddr` (`sin_port=htons(5432)` or
/// `sin6_port=htons(5432)`).
fn port_in(args: &str) -> Option<u16> {
    let start = args.find("_port=htons(")? + "_port=htons(".len();
    args[start..].split(')').next()?.parse().ok()
}
