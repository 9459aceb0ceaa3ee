//! Webhooks (issue 14): referral events delivered to a receiver on
//! 127.0.0.1 that fails, times out and succeeds; signatures verified as a
//! receiver would; retries logged per attempt; nothing delivered twice by
//! two instances; deliveries queued before a restart delivered after it;
//! only allowed hosts.

use std::{
    sync::{Arc, Mutex},
    time::Duration as StdDuration,
};

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{Duration, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use outpost_tests::{TestApp, spawn_app_with};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

/// What the receiver does with the next request.
#[derive(Clone, Copy)]
enum Behaviour {
    Fail,
    Hang,
    Succeed,
}

/// A request the receiver got: its headers (lower-cased) and body.
#[derive(Clone, Debug)]
struct Received {
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).unwrap_or_default()
    }
}

/// A webhook receiver on 127.0.0.1 that behaves as `script` says, then
/// succeeds; answers its URL and what it got.
async fn receiver(script: Vec<Behaviour>) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let script =
        Arc::new(Mutex::new(script.into_iter().collect::<std::collections::VecDeque<_>>()));
    let seen = got.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let (seen, script) = (seen.clone(), script.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head, body) = loop {
                    let Ok(n) = socket.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let head = text[..end].to_owned();
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + length {
                            break (
                                head,
                                String::from_utf8_lossy(&buf[end + 4..end + 4 + length])
                                    .to_string(),
                            );
                        }
                    }
                };
                let headers = head
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split_once(':'))
                    .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                seen.lock().unwrap().push(Received { headers, body });
                let behaviour = script.lock().unwrap().pop_front().unwrap_or(Behaviour::Succeed);
                let answer = match behaviour {
                    Behaviour::Fail => {
                        "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n"
                    }
                    Behaviour::Succeed => "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
                    Behaviour::Hang => {
                        tokio::time::sleep(StdDuration::from_secs(3)).await;
                        return;
                    }
                };
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    (url, got)
}

/// An app whose webhooks may reach 127.0.0.1, polled often, retried fast.
async fn app_with_webhooks(poll_ms: u64) -> TestApp {
    let app = spawn_app_with(|c| {
        c.webhooks.allowed_hosts = vec!["127.0.0.1".into()];
        c.webhooks.poll_ms = poll_ms;
        c.webhooks.timeout_ms = 400;
        c.webhooks.retry_base_ms = 100;
    })
    .await;
    app.load_demo().await;
    app
}

/// Registers `url` for both events; answers (endpoint id, secret).
async fn register(app: &TestApp, admin: &str, url: &str) -> (Uuid, String) {
    let created = app
        .post(
            "/v1/webhooks",
            admin,
            json!({ "url": url, "events": ["referral_sent", "referral_step"] }),
        )
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    let id = created.body["endpoint"]["id"].as_str().unwrap().parse().unwrap();
    (id, created.body["secret"].as_str().unwrap().to_owned())
}

/// POSTs until the answer is not 503 `busy` (two instances on one SQLite
/// file contend for it, and a client retries a 503 as told).
async fn post_retrying(
    app: &TestApp,
    path: &str,
    token: &str,
    body: Value,
) -> outpost_tests::Answer {
    for _ in 0..20 {
        let answer = app.post(path, token, body.clone()).await;
        if answer.status.as_u16() != 503 {
            return answer;
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    panic!("{path} stayed busy");
}

/// A referral made and sent by the demo worker; answers its id.
async fn send_referral(app: &TestApp, worker: &str) -> Uuid {
    let person = Uuid::now_v7();
    post_retrying(app, "/v1/persons", worker, json!({ "id": person })).await.ok();
    let referral = Uuid::now_v7();
    let made = (Utc::now() - Duration::minutes(10)).to_rfc3339_opts(SecondsFormat::Secs, true);
    post_retrying(
        app,
        "/v1/referrals",
        worker,
        json!({ "id": referral, "person_id": person, "occurred_at": made, "service_type": "gp",
                "reason": "Register with a GP", "consent_to_share": true }),
    )
    .await
    .ok();
    let at = (Utc::now() - Duration::minutes(5)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let sent = post_retrying(
        app,
        &format!("/v1/referrals/{referral}/steps"),
        worker,
        json!({ "id": Uuid::now_v7(), "status": "sent", "occurred_at": at }),
    )
    .await;
    assert_eq!(sent.status.as_u16(), 201, "{}", sent.text);
    referral
}

/// Waits (at most 20 s) until the receiver has `n` requests.
async fn wait_for(got: &Arc<Mutex<Vec<Received>>>, n: usize) -> Vec<Received> {
    let deadline = std::time::Instant::now() + StdDuration::from_secs(20);
    loop {
        let now = got.lock().unwrap().clone();
        if now.len() >= n {
            return now;
        }
        assert!(std::time::Instant::now() < deadline, "{} of {n} requests within 20 s", now.len());
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
}

/// What a receiver checks, written apart from the server's code.
fn verifies(secret: &str, request: &Received) -> bool {
    let key = STANDARD.decode(secret.trim_start_matches("whsec_")).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    let signed = format!(
        "{}.{}.{}",
        request.header("webhook-id"),
        request.header("webhook-timestamp"),
        request.body
    );
    mac.update(signed.as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    request.header("webhook-signature").split(' ').any(|s| s == expected)
}

#[tokio::test]
async fn deliveries_are_signed_retried_after_failures_and_timeouts_and_logged() {
    let app = app_with_webhooks(50).await;
    let admin = app.login("admin@demo.outpost.test").await;
    let worker = app.login("worker1@demo.outpost.test").await;
    let (url, got) = receiver(vec![Behaviour::Fail, Behaviour::Hang, Behaviour::Succeed]).await;
    let (endpoint, secret) = register(&app, &admin, &url).await;
    let referral = send_referral(&app, &worker).await;

    let requests = wait_for(&got, 3).await;
    let ids: Vec<&str> = requests.iter().map(|r| r.header("webhook-id")).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "one delivery, three attempts: {ids:?}");
    for request in &requests {
        assert!(verifies(&secret, request), "the signature verifies: {request:?}");
    }
    let mut forged = requests[2].clone();
    forged.body = forged.body.replace("gp", "housing");
    assert!(!verifies(&secret, &forged), "a changed body does not");
    let body: Value = serde_json::from_str(&requests[2].body).unwrap();
    assert_eq!(body["type"], "referral.sent");
    assert_eq!(body["data"]["referral"]["id"], json!(referral));
    assert!(!requests[2].body.contains("Register with a GP"), "no free text leaves");

    // The log: a 500, a timeout, a 200.
    let deadline = std::time::Instant::now() + StdDuration::from_secs(10);
    let delivery = loop {
        let log = app.get(&format!("/v1/webhooks/{endpoint}/deliveries"), &admin).await;
        let delivery = log.ok()["items"][0].clone();
        if delivery["status"] == "delivered" {
            break delivery;
        }
        assert!(std::time::Instant::now() < deadline, "{}", log.text);
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    };
    assert_eq!(delivery["attempts"], 3);
    let log = delivery["attempt_log"].as_array().unwrap();
    assert_eq!(log[0]["status_code"], 500);
    assert_eq!((&log[1]["status_code"], &log[1]["error"]), (&Value::Null, &json!("timed out")));
    assert_eq!((&log[2]["status_code"], &log[2]["error"]), (&json!(200), &Value::Null));

    // A later step: another delivery.
    let step = json!({ "id": Uuid::now_v7(), "status": "acknowledged",
                       "occurred_at": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true) });
    app.post(&format!("/v1/referrals/{referral}/steps"), &worker, step).await.ok();
    let requests = wait_for(&got, 4).await;
    let body: Value = serde_json::from_str(&requests[3].body).unwrap();
    assert_eq!(
        (&body["type"], &body["data"]["step"]["status"]),
        (&json!("referral.step"), &json!("acknowledged"))
    );

    // Replayed on request, with the same id.
    let id = delivery["id"].as_str().unwrap();
    let again = app.post(&format!("/v1/webhook-deliveries/{id}/replay"), &admin, json!({})).await;
    assert_eq!(again.ok()["status"], "pending");
    let requests = wait_for(&got, 5).await;
    assert_eq!(requests[4].header("webhook-id"), id);
}

#[tokio::test]
async fn two_instances_never_deliver_the_same_event_twice() {
    let app = app_with_webhooks(20).await;
    let other = app.spawn_sibling().await;
    let admin = app.login("admin@demo.outpost.test").await;
    let worker = app.login("worker1@demo.outpost.test").await;
    let (url, got) = receiver(Vec::new()).await;
    register(&app, &admin, &url).await;
    for _ in 0..12 {
        send_referral(&app, &worker).await;
    }
    wait_for(&got, 12).await;
    tokio::time::sleep(StdDuration::from_millis(800)).await;
    let requests = got.lock().unwrap().clone();
    let mut ids: Vec<&str> = requests.iter().map(|r| r.header("webhook-id")).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((requests.len(), ids.len()), (12, 12), "each event once");
    drop(other);
}

#[tokio::test]
async fn deliveries_queued_before_a_restart_are_delivered_after_it() {
    // An instance that never polls again after its start: the queue stays.
    let app = app_with_webhooks(3_600_000).await;
    let admin = app.login("admin@demo.outpost.test").await;
    let worker = app.login("worker1@demo.outpost.test").await;
    let (url, got) = receiver(Vec::new()).await;
    register(&app, &admin, &url).await;
    for _ in 0..3 {
        send_referral(&app, &worker).await;
    }
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    assert!(got.lock().unwrap().is_empty(), "nothing sent by the stopped worker");
    // The next instance, on the same database, delivers them.
    let restarted = app.spawn_sibling_with(|c| c.webhooks.poll_ms = 50).await;
    assert_eq!(wait_for(&got, 3).await.len(), 3);
    drop(restarted);
}

#[tokio::test]
async fn only_http_to_allowed_hosts_and_only_admins() {
    let app = app_with_webhooks(50).await;
    let admin = app.login("admin@demo.outpost.test").await;
    let manager = app.login("manager@demo.outpost.test").await;
    for url in [
        "http://10.0.0.5/hook",
        "ftp://127.0.0.1/hook",
        "http://user:pw@127.0.0.1/hook",
        "not a url",
    ] {
        let refused = app
            .post("/v1/webhooks", &admin, json!({ "url": url, "events": ["referral_sent"] }))
            .await;
        assert_eq!(refused.assert_problem(422, "validation_failed")["field"], "url", "{url}");
    }
    let none = app
        .post("/v1/webhooks", &admin, json!({ "url": "http://127.0.0.1:9/x", "events": [] }))
        .await;
    assert_eq!(none.assert_problem(422, "validation_failed")["field"], "events");
    app.post(
        "/v1/webhooks",
        &manager,
        json!({ "url": "http://127.0.0.1:9/x", "events": ["referral_sent"] }),
    )
    .await
    .assert_problem(403, "forbidden");
    let stranger = app.other_organisation("elsewhere").await;
    let (endpoint, _) = register(&app, &admin, "http://127.0.0.1:9/x").await;
    app.get(&format!("/v1/webhooks/{endpoint}/deliveries"), &stranger)
        .await
        .assert_problem(404, "not_found");
    assert!(app.get("/v1/webhooks", &stranger).await.ok()["items"].as_array().unwrap().is_empty());
}
