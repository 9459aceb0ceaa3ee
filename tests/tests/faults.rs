//! Faults, with nothing lost: the server killed mid-push, Postgres
//! restarting and Redis stopping under load, two instances behind one
//! database. (A link that drops every other answer is the night round in
//! `api/sync_guarantees.rs`.)
//!
//! Each test stops only what it started itself: a private Postgres cluster
//! (`initdb` in a temporary directory), a private `redis-server`, or the
//! server as a separate process, each on a port of its own on 127.0.0.1.
//! Every test is bounded in time and prints one `fault figures:` line.

#[path = "faults/support.rs"]
mod support;

#[path = "faults/sockets.rs"]
mod sockets;

use std::{
    collections::HashSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use outpost_tests::{
    demo::MANAGER,
    device::Device,
    faults::{Outcome, PrivatePostgres, PrivateRedis, Remote, ServerProcess},
    fresh_storage, spawn_app, spawn_app_on,
};
use reqwest::Method;
use serde_json::Value;
use support::{
    Tally, assert_all_accepted, contact_batch, push_body, retry_after, stored_contacts, until_done,
};
use uuid::Uuid;

/// The `outpost` command, built in this crate so it can run as a process.
const PROGRAM: &str = env!("CARGO_BIN_EXE_outpost-under-test");

const WORKERS: [&str; 2] = ["worker1@demo.outpost.test", "worker2@demo.outpost.test"];

/// A batch of mutations and the contacts it creates.
#[derive(Clone)]
struct Batch {
    mutations: Vec<Value>,
    ids: Vec<Uuid>,
}

/// One phone's view of a push run against a process that gets killed.
#[derive(Default)]
struct Phone {
    token: String,
    /// The batch sent when the server went away: its fate is unknown.
    pending: Option<Batch>,
    sent: Vec<Uuid>,
    acknowledged: usize,
    /// Resent mutations answered `duplicate`: they had committed before the
    /// kill, but their answer died with the process.
    committed_unanswered: usize,
    resent: usize,
    /// Pushes cut off after they left the phone (not merely refused).
    cut_mid_request: usize,
}

/// Pushes batches of 40 contacts (first the phone's pending batch, if any)
/// until the server stops answering.
async fn push_until_dropped(
    remote: Remote,
    mut phone: Phone,
    in_flight: Arc<AtomicUsize>,
    answered: Arc<AtomicUsize>,
) -> Phone {
    loop {
        let resend = phone.pending.is_some();
        let batch = phone.pending.take().unwrap_or_else(|| {
            let (mutations, ids) = contact_batch(40);
            Batch { mutations, ids }
        });
        in_flight.fetch_add(1, Ordering::SeqCst);
        let body = push_body(&batch.mutations);
        let outcome =
            remote.send(Method::POST, "/v1/sync/push", Some(&phone.token), Some(&body)).await;
        in_flight.fetch_sub(1, Ordering::SeqCst);
        match outcome {
            Outcome::Answered(answer) => {
                let duplicates = assert_all_accepted(&answer);
                if resend {
                    phone.resent += batch.ids.len();
                    phone.committed_unanswered += duplicates;
                } else {
                    assert_eq!(duplicates, 0, "a new batch answered duplicate");
                }
                phone.acknowledged += batch.ids.len();
                phone.sent.extend(&batch.ids);
                answered.fetch_add(1, Ordering::SeqCst);
            }
            Outcome::Dropped { refused, .. } => {
                phone.cut_mid_request += usize::from(!refused);
                phone.pending = Some(batch);
                return phone;
            }
        }
    }
}

// Mechanisms: each batch commits in one transaction, and the replay log
// (`sync_mutations`, in that same transaction) answers a resent batch
// `duplicate`. Without the log a batch that committed just before the kill,
// whose answer never left the process, would be stored twice on retry;
// without the transaction, half of a batch could survive the kill. The kill
// comes at a different moment of a push in each round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_push_loses_and_duplicates_nothing() {
    let (config, _storage) = fresh_storage().await;
    let mut server = ServerProcess::start(PROGRAM, &config).await;
    let mut phones = Vec::new();
    for email in [WORKERS[0], WORKERS[1], MANAGER] {
        phones.push(Phone {
            token: Remote::new(&server.base).login(email).await,
            ..Phone::default()
        });
    }
    let kill_delays_ms = [0u64, 10, 25, 45, 70];
    for delay in kill_delays_ms {
        let (in_flight, answered) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let pushers: Vec<_> = phones
            .drain(..)
            .map(|phone| {
                let remote = Remote::new(&server.base);
                tokio::spawn(push_until_dropped(remote, phone, in_flight.clone(), answered.clone()))
            })
            .collect();
        // Kill while a push is on the wire, after some have been answered.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while answered.load(Ordering::SeqCst) < 3 || in_flight.load(Ordering::SeqCst) == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no pushes answered: {}",
                server.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        tokio::time::sleep(Duration::from_millis(delay)).await;
        server.kill();
        for pusher in pushers {
            phones.push(pusher.await.expect("pusher"));
        }
        // The phones retry against a new process on the same storage.
        server = ServerProcess::start(PROGRAM, &config).await;
    }
    let remote = Remote::new(&server.base);
    for phone in &mut phones {
        let batch = phone.pending.take().expect("every phone lost an answer in the last round");
        let (answer, _) = until_done(
            &remote,
            Method::POST,
            "/v1/sync/push",
            &phone.token,
            Some(&push_body(&batch.mutations)),
        )
        .await;
        phone.committed_unanswered += assert_all_accepted(&answer);
        phone.resent += batch.ids.len();
        phone.sent.extend(&batch.ids);
    }

    let sent: HashSet<Uuid> = phones.iter().flat_map(|p| p.sent.iter().copied()).collect();
    let sent_total: usize = phones.iter().map(|p| p.sent.len()).sum();
    assert_eq!(sent.len(), sent_total, "a phone counted a contact twice");
    let resent: usize = phones.iter().map(|p| p.resent).sum();
    let committed_unanswered: usize = phones.iter().map(|p| p.committed_unanswered).sum();
    let tally = Tally { stored: stored_contacts(&config).await, sent };
    eprintln!(
        "fault figures: server killed mid-push {} times: {resent} mutations unacknowledged and \
         resent to a new process ({committed_unanswered} had committed before the kill and were \
         answered duplicate); {}",
        kill_delays_ms.len(),
        tally.summary()
    );
    eprintln!(
        "fault figures: {} pushes were cut off mid-request by the kills",
        phones.iter().map(|p| p.cut_mid_request).sum::<usize>()
    );
    let cut: usize = phones.iter().map(|p| p.cut_mid_request).sum();
    assert!(cut > 0, "every kill landed between pushes: nothing was tested");
    tally.assert_exact();
}

// Mechanisms: a lost connection or a shutting-down database is a transient
// error (`db::is_transient`) answered 503 with Retry-After, never 500; the
// pool replaces dead connections on its own, so the server recovers without
// a restart; and retried pushes are answered from the replay log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarting_under_load_answers_retryable_errors_and_loses_nothing() {
    let postgres = PrivatePostgres::start().await;
    let (mut config, storage) = fresh_storage().await;
    config.database_url = Some(postgres.url());
    let app = spawn_app_on(config.clone(), storage).await;
    app.load_demo().await;
    let remote = Remote::new(&app.base);

    let unavailable = Arc::new(AtomicUsize::new(0));
    let first_push_done = Arc::new(AtomicBool::new(false));
    let mut pushers = Vec::new();
    for email in WORKERS {
        let token = remote.login(email).await;
        let (remote, unavailable, first_push_done) =
            (remote.clone(), unavailable.clone(), first_push_done.clone());
        pushers.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            for _ in 0..8 {
                let (mutations, ids) = contact_batch(25);
                let body = push_body(&mutations);
                let (answer, retries) =
                    until_done(&remote, Method::POST, "/v1/sync/push", &token, Some(&body)).await;
                assert_all_accepted(&answer);
                unavailable.fetch_add(retries, Ordering::SeqCst);
                first_push_done.store(true, Ordering::SeqCst);
                sent.extend(ids);
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            sent
        }));
    }
    // A manager's phone keeps pulling through the restart.
    let pushing_done = Arc::new(AtomicBool::new(false));
    let manager = remote.login(MANAGER).await;
    let puller = {
        let (remote, unavailable, pushing_done) =
            (remote.clone(), unavailable.clone(), pushing_done.clone());
        tokio::spawn(async move {
            let (mut cursor, mut received) = (None::<String>, Vec::new());
            loop {
                let done = pushing_done.load(Ordering::SeqCst);
                loop {
                    let path = match &cursor {
                        Some(c) => format!("/v1/sync/pull?limit=50&cursor={c}"),
                        None => "/v1/sync/pull?limit=50".to_owned(),
                    };
                    let (answer, retries) =
                        until_done(&remote, Method::GET, &path, &manager, None).await;
                    unavailable.fetch_add(retries, Ordering::SeqCst);
                    for change in answer.body["changes"].as_array().expect("changes") {
                        if change["entity"] == "contact" {
                            received.push(change["id"].as_str().unwrap().to_owned());
                        }
                    }
                    cursor = answer.body["cursor"].as_str().map(str::to_owned);
                    if answer.body["has_more"] != true {
                        break;
                    }
                }
                if done {
                    return received;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    while !first_push_done.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    postgres.stop();
    let down = app.get("/readyz", "").await;
    retry_after(&down);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    postgres.start_again().await;

    let mut sent = HashSet::new();
    for pusher in pushers {
        sent.extend(pusher.await.expect("pusher"));
    }
    pushing_done.store(true, Ordering::SeqCst);
    let received = puller.await.expect("puller");
    let distinct: HashSet<&String> = received.iter().collect();
    assert_eq!(distinct.len(), received.len(), "the puller received a contact twice");
    let sent_text: HashSet<String> = sent.iter().map(Uuid::to_string).collect();
    assert_eq!(distinct, sent_text.iter().collect(), "the puller received exactly what was sent");
    assert!(app.get("/readyz", "").await.status.is_success(), "ready again without a restart");

    let tally = Tally { stored: stored_contacts(&config).await, sent };
    let retries = unavailable.load(Ordering::SeqCst);
    eprintln!(
        "fault figures: postgres restarted under load: {retries} answers 503 with Retry-After \
         and retried, pulled {} (each once); {}",
        received.len(),
        tally.summary()
    );
    assert!(retries > 0, "no request met the restart: nothing was tested");
    tally.assert_exact();
}

// Mechanisms: sessions are rebuilt from the database when Redis does not
// answer, and a circuit breaker keeps a dead Redis from costing every request
// a timeout; readiness reports `degraded` while Redis is down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopping_under_load_fails_no_request_and_keeps_sessions() {
    let redis = PrivateRedis::start().await;
    let (mut config, storage) = fresh_storage().await;
    config.redis_url = Some(redis.url());
    let app = spawn_app_on(config.clone(), storage).await;
    app.load_demo().await;
    let remote = Remote::new(&app.base);

    let stop = Arc::new(AtomicBool::new(false));
    let requests = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut tokens = Vec::new();
    let mut clients = Vec::new();
    for email in [WORKERS[0], WORKERS[1], MANAGER] {
        let token = remote.login(email).await;
        tokens.push(token.clone());
        let (remote, stop, requests, failures) =
            (remote.clone(), stop.clone(), requests.clone(), failures.clone());
        clients.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let (mutations, ids) = contact_batch(3);
                let body = push_body(&mutations);
                let calls = [
                    (Method::GET, "/v1/me", None),
                    (Method::POST, "/v1/sync/push", Some(&body)),
                    (Method::GET, "/v1/sync/pull?limit=20", None),
                ];
                for (method, path, body) in calls {
                    requests.fetch_add(1, Ordering::SeqCst);
                    match remote.send(method.clone(), path, Some(&token), body).await {
                        Outcome::Answered(answer) if answer.status.is_success() => {
                            if path == "/v1/sync/push" {
                                assert_all_accepted(&answer);
                                sent.extend(ids.iter().copied());
                            }
                        }
                        Outcome::Answered(answer) => failures
                            .lock()
                            .unwrap()
                            .push(format!("{method} {path}: {} {}", answer.status, answer.text)),
                        Outcome::Dropped { reason, .. } => {
                            failures.lock().unwrap().push(format!("{method} {path}: {reason}"))
                        }
                    }
                }
            }
            sent
        }));
    }

    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.stop();
    let degraded = wait_for_readiness(&app, "degraded").await;
    assert_eq!(degraded["cache"], "down");
    let during_outage = requests.load(Ordering::SeqCst);
    // A logout while Redis is down still ends the session.
    let admin = remote.login("admin@demo.outpost.test").await;
    assert_eq!(app.post("/v1/auth/logout", &admin, serde_json::json!({})).await.status, 204);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let outage_requests = requests.load(Ordering::SeqCst) - during_outage;
    redis.start_again().await;
    let ready = wait_for_readiness(&app, "ok").await;
    assert_eq!(ready["cache"], "up");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let mut sent = HashSet::new();
    for client in clients {
        sent.extend(client.await.expect("client"));
    }

    let failures = failures.lock().unwrap().clone();
    assert!(failures.is_empty(), "requests failed while Redis was away: {failures:#?}");
    for token in &tokens {
        assert!(app.get("/v1/me", token).await.status.is_success(), "the session survived");
    }
    app.get("/v1/me", &admin).await.assert_problem(401, "invalid_token");
    let tally = Tally { stored: stored_contacts(&config).await, sent };
    eprintln!(
        "fault figures: redis stopped and restarted under load: {} requests ({outage_requests} \
         while Redis was down), 0 failed; {}",
        requests.load(Ordering::SeqCst),
        tally.summary()
    );
    assert!(outage_requests > 0, "no request ran while Redis was down: nothing was tested");
    tally.assert_exact();
}

// Mechanism: a deletion that fails while Redis is away is owed, and settled
// before any other command once Redis answers; without it, a Redis that
// comes back with its data would serve the session of a user who logged out
// (or whose phone was revoked) during the outage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_during_a_redis_partition_holds_when_redis_returns_with_its_data() {
    let redis = PrivateRedis::start().await;
    let (mut config, storage) = fresh_storage().await;
    config.redis_url = Some(redis.url());
    let app = spawn_app_on(config, storage).await;
    app.load_demo().await;
    let leaving = app.login(WORKERS[0]).await;
    let lost_phone = Uuid::now_v7();
    let on_lost_phone = app.login_on_device(WORKERS[1], lost_phone).await;
    let staying = app.login(MANAGER).await;
    for token in [&leaving, &on_lost_phone, &staying] {
        // Each session is now cached in Redis.
        assert!(app.get("/v1/me", token).await.status.is_success());
    }

    redis.pause();
    assert_eq!(app.post("/v1/auth/logout", &leaving, serde_json::json!({})).await.status, 204);
    let revoked = app
        .post(&format!("/v1/devices/{lost_phone}/revoke"), &staying, serde_json::json!({}))
        .await;
    assert!(revoked.status.is_success(), "{}", revoked.text);
    assert_eq!(wait_for_readiness(&app, "degraded").await["cache"], "down");
    redis.resume();
    // Let the circuit breaker close; the very next commands reach Redis.
    tokio::time::sleep(Duration::from_millis(2100)).await;

    app.get("/v1/me", &leaving).await.assert_problem(401, "invalid_token");
    app.get("/v1/me", &on_lost_phone).await.assert_problem(401, "invalid_token");
    assert!(app.get("/v1/me", &staying).await.status.is_success());
    eprintln!(
        "fault figures: redis partitioned (paused) and back with its data: a logout and a device \
         revocation made during the partition held at once"
    );
}

// Mechanism: a failed eviction is retried in the background every half
// second (not with a long back-off), so another instance, which never saw
// the logout, stops being served the stale cached session within seconds of
// Redis coming back with its data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_during_a_redis_partition_holds_on_the_other_instance_soon_after() {
    let redis = PrivateRedis::start().await;
    let (mut config, storage) = fresh_storage().await;
    config.redis_url = Some(redis.url());
    let first = spawn_app_on(config, storage).await;
    first.load_demo().await;
    let second = first.spawn_sibling().await;
    let token = first.login(WORKERS[0]).await;
    assert!(second.get("/v1/me", &token).await.status.is_success(), "cached in Redis");

    redis.pause();
    assert_eq!(first.post("/v1/auth/logout", &token, serde_json::json!({})).await.status, 204);
    // A long partition: a back-off would by now wait many seconds between
    // tries.
    tokio::time::sleep(Duration::from_secs(8)).await;
    redis.resume();
    tokio::time::sleep(Duration::from_secs(3)).await;

    second.get("/v1/me", &token).await.assert_problem(401, "invalid_token");
    eprintln!(
        "fault figures: redis partitioned for 8 s: a logout on one instance held on the other \
         within 3 s of Redis coming back with its data"
    );
}

async fn wait_for_readiness(app: &outpost_tests::TestApp, status: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let answer = app.get("/readyz", "").await;
        if answer.body["status"] == status {
            return answer.body;
        }
        assert!(tokio::time::Instant::now() < deadline, "readiness never said {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// Mechanisms: the feed's change numbers come from the database (the
// per-organisation counter), not from either instance, so a cursor from one
// instance is valid on the other; sessions are revoked in the database and
// evicted from the shared hot state, so logout on one instance holds on the
// other at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_alternating_between_two_instances_sees_one_consistent_feed() {
    let first = spawn_app().await;
    first.load_demo().await;
    let second = first.spawn_sibling().await;
    let instances = [&first, &second];

    let mut writers = Vec::new();
    for (n, email) in WORKERS.iter().enumerate() {
        writers.push(Device::sign_in(instances[n], email).await);
    }
    let mut reader = Device::sign_in(&second, MANAGER).await;
    let mut sent = HashSet::new();
    for round in 0..10 {
        // Each writer pushes to the instance the round picks, and the reader
        // pulls a small page from the other one, mid-stream.
        for (n, writer) in writers.iter_mut().enumerate() {
            let (mutations, ids) = contact_batch(6);
            writer.outbox = mutations;
            let results = writer.push(instances[(round + n) % 2]).await;
            assert_eq!(results.len(), ids.len());
            sent.extend(ids.iter().map(Uuid::to_string));
        }
        let page = reader.pull_page(instances[(round + 1) % 2], 7).await;
        reader.apply(page.ok());
    }
    reader.pull_with_limit(&first, 7).await;
    let received: Vec<&String> =
        reader.received.iter().filter(|(e, ..)| e == "contact").map(|(_, id, ..)| id).collect();
    let distinct: HashSet<&String> = received.iter().copied().collect();
    assert_eq!(distinct.len(), received.len(), "a contact arrived twice");
    assert_eq!(distinct, sent.iter().collect(), "every contact arrived, from either instance");

    // Logout on one instance holds on the other at once.
    let token = writers[0].token.clone();
    assert!(second.get("/v1/me", &token).await.status.is_success());
    assert_eq!(first.post("/v1/auth/logout", &token, serde_json::json!({})).await.status, 204);
    second.get("/v1/me", &token).await.assert_problem(401, "invalid_token");
    eprintln!(
        "fault figures: two instances: {} contacts pushed alternately, {} pulled alternately in \
         pages of 7, duplicates 0, losses 0; logout seen by the other instance at once",
        sent.len(),
        received.len()
    );
}
