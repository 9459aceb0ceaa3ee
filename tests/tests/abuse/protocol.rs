//! The protocol's edges: made-up methods must not grow the metrics without
//! bound, a mutation id means one change, and oversized request lines and
//! headers get a problem answer without harming the server.

use std::collections::HashSet;

use futures_util::future::join_all;
use outpost_tests::{
    device::{Device, mutation},
    spawn_app,
};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::support::{MANAGER, WORKER1, assert_rejected, raw_http, results};

/// Every distinct method a client invents was a new label value of the
/// request metrics: a client could grow `/metrics` (and the scraper's
/// storage) without bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_methods_do_not_grow_the_metrics() {
    let app = spawn_app().await;
    app.load_demo().await;
    let token = app.login(WORKER1).await;
    let paths = ["/healthz", "/v1/me", "/v1/sites", "/no-such-path"];
    for chunk in (1..=200).collect::<Vec<usize>>().chunks(20) {
        let requests = chunk.iter().map(|n| {
            let method = Method::from_bytes(format!("JUNK{n}").as_bytes()).expect("a method");
            let path = paths[n % paths.len()];
            let token = &token;
            app.raw(move |c, base| c.request(method, format!("{base}{path}")).bearer_auth(token))
        });
        for answer in join_all(requests).await {
            assert!(answer.status.as_u16() < 500, "{} {}", answer.status, answer.text);
        }
    }
    let metrics = app.raw(|c, base| c.get(format!("{base}/metrics"))).await;
    metrics.ok();
    assert!(!metrics.text.contains("JUNK"), "a made-up method became a label: {}", metrics.text);
    let methods: HashSet<&str> =
        metrics.text.split("method=\"").skip(1).filter_map(|rest| rest.split('"').next()).collect();
    assert!(methods.len() <= 10, "{} method label values: {methods:?}", methods.len());
}

/// A mutation id names one change: reused for another record in the same
/// batch it is refused (as it is across batches), while the very same
/// mutation twice is answered as a replay.
#[tokio::test]
async fn a_mutation_id_reused_in_one_batch_for_another_record_is_refused() {
    let app = spawn_app().await;
    app.load_demo().await;
    let phone = Device::sign_in(&app, WORKER1).await;
    let (x, y) = (Uuid::now_v7(), Uuid::now_v7());
    let first = mutation("person", x, "create", None, json!({ "alias": "X" }));
    let mut second = mutation("person", y, "create", None, json!({ "alias": "Y" }));
    second["mutation_id"] = first["mutation_id"].clone();
    let reused = results(&phone.push_raw(&app, vec![first, second]).await);
    assert_eq!(reused[0]["status"], "applied", "{}", reused[0]);
    assert_rejected(&reused[1], "mutation_id_reused", "mutation_id");
    let manager = app.login(MANAGER).await;
    app.get(&format!("/v1/persons/{x}"), &manager).await.ok();
    app.get(&format!("/v1/persons/{y}"), &manager).await.assert_problem(404, "not_found");

    let same = mutation("person", Uuid::now_v7(), "create", None, json!({ "alias": "Z" }));
    let repeated = results(&phone.push_raw(&app, vec![same.clone(), same]).await);
    assert_eq!(repeated[0]["status"], "applied", "{}", repeated[0]);
    assert_eq!(repeated[1]["status"], "duplicate", "{}", repeated[1]);
    assert_eq!(repeated[1]["original_status"], "applied", "{}", repeated[1]);
}

/// A 70 kB path and a 70 kB header value are refused with a problem (414
/// `uri_too_long`; 431 `headers_too_large` or 400), and the server goes on
/// answering. Sent by hand: no client library sends a URI over 64 kB.
#[tokio::test]
async fn an_oversized_path_or_header_is_refused_with_a_problem() {
    let app = spawn_app().await;
    let long = "a".repeat(70_000);
    let answer = raw_http(&app.base, &format!("GET /v1/{long} HTTP/1.1"), "").await;
    let answer = answer.expect("an answer to a 70 kB path");
    assert_eq!(answer.status, 414, "a 70 kB path: {} {}", answer.status, answer.body);
    assert_eq!(answer.content_type(), "application/problem+json", "{}", answer.body);
    assert_eq!(answer.json()["code"], "uri_too_long", "{}", answer.body);

    let head = format!("GET /healthz HTTP/1.1\r\nx-filler: {long}");
    let answer = raw_http(&app.base, &head, "").await.expect("an answer to a 70 kB header");
    let status = answer.status;
    assert!(status == 431 || status == 400, "a 70 kB header: {status} {}", answer.body);
    assert_eq!(answer.content_type(), "application/problem+json", "{}", answer.body);
    let code = answer.json()["code"].clone();
    if status == 431 {
        assert_eq!(code, "headers_too_large", "{}", answer.body);
    }
    assert!(code.is_string(), "{}", answer.body);

    let health = app.raw(|c, base| c.get(format!("{base}/healthz"))).await;
    assert!(health.status.is_success(), "the server still answers: {}", health.text);
}

/// A mutation id names one change across batches too: sent again with
/// other fields (or another base version) for the same record it is
/// `mutation_id_reused`, from the replay cache and, once the cache is
/// gone, from the log; the very same mutation again is `duplicate`.
#[tokio::test]
async fn a_mutation_id_reused_across_batches_for_another_change_is_refused() {
    let app = spawn_app().await;
    app.load_demo().await;
    let mut phone = Device::sign_in(&app, WORKER1).await;
    let person = phone.create("person", json!({ "alias": "Start" }));
    assert_eq!(phone.push(&app).await[0]["status"], "applied");

    let first = mutation("person", person, "update", Some(1), json!({ "alias": "A" }));
    let applied = results(&phone.push_raw(&app, vec![first.clone()]).await);
    assert_eq!(applied[0]["status"], "applied", "{}", applied[0]);
    let mut other_fields = first.clone();
    other_fields["fields"] = json!({ "alias": "B" });
    let mut other_base = first.clone();
    other_base["base_version"] = json!(2);

    for when in ["cache", "log"] {
        if when == "log" {
            app.flush_cache().await;
        }
        for reused in [&other_fields, &other_base] {
            let answer = results(&phone.push_raw(&app, vec![reused.clone()]).await);
            let result = &answer[0];
            assert_eq!(result["status"], "rejected", "({when}) {result}");
            assert_eq!(result["problem"]["code"], "mutation_id_reused", "({when}) {result}");
            assert_eq!(result["problem"]["field"], "mutation_id", "({when}) {result}");
        }
    }
    let manager = app.login(MANAGER).await;
    let stored = app.get(&format!("/v1/persons/{person}"), &manager).await;
    assert_eq!((&stored.ok()["alias"], &stored.body["version"]), (&json!("A"), &json!(2)));

    let again = results(&phone.push_raw(&app, vec![first]).await);
    assert_eq!(again[0]["status"], "duplicate", "{}", again[0]);
    assert_eq!(again[0]["original_status"], "applied", "{}", again[0]);
}

/// The enumeration a schema property resolves to, following `$ref` and
/// `allOf`.
fn enum_of<'a>(spec: &'a Value, schema: &'a Value) -> Vec<&'a str> {
    if let Some(reference) = schema["$ref"].as_str() {
        let path = reference.trim_start_matches("#/");
        let target = path.split('/').fold(spec, |node, part| &node[part]);
        return enum_of(spec, target);
    }
    if let Some(all) = schema["allOf"].as_array() {
        return all.iter().flat_map(|s| enum_of(spec, s)).collect();
    }
    schema["enum"].as_array().into_iter().flatten().filter_map(Value::as_str).collect()
}

/// `record_deleted` is what the server sets when a record is deleted; a
/// client cannot choose it. The spec's request body offers the three
/// choices only, while a conflict's view may show all four; and the server
/// refuses `record_deleted` in a request.
#[tokio::test]
async fn the_spec_offers_no_record_deleted_resolution_to_choose() {
    let app = spawn_app().await;
    let answer = app.raw(|c, base| c.get(format!("{base}/openapi.json"))).await;
    let spec = answer.ok();
    let operation = &spec["paths"]["/v1/sync/conflicts/{id}/resolve"]["post"];
    let content = operation["requestBody"]["content"].as_object().expect("a request body");
    assert!(!content.is_empty());
    for (media, body) in content {
        let request = &body["schema"];
        let request = match request["$ref"].as_str() {
            Some(r) => r.trim_start_matches("#/").split('/').fold(spec, |n, p| &n[p]),
            None => request,
        };
        let mut choices = enum_of(spec, &request["properties"]["resolution"]);
        choices.sort_unstable();
        assert_eq!(choices, ["keep_theirs", "merged", "take_mine"], "{media}: the choices");
    }
    let view = &spec["components"]["schemas"]["ConflictView"]["properties"]["resolution"];
    let shown = enum_of(spec, view);
    assert!(shown.contains(&"record_deleted"), "a conflict view shows record_deleted: {shown:?}");

    app.load_demo().await;
    let mut phone = Device::sign_in(&app, WORKER1).await;
    let mut desk = Device::sign_in(&app, MANAGER).await;
    let (_, conflict, _, _) =
        super::support::raise_person_conflict(&app, &mut phone, &mut desk, "Wren", "Jenny", "Jen")
            .await;
    let path = format!("/v1/sync/conflicts/{conflict}/resolve");
    let refused = app.post(&path, &phone.token, json!({ "resolution": "record_deleted" })).await;
    assert!(
        refused.status.is_client_error() && refused.body["field"] == "resolution",
        "{} {}",
        refused.status,
        refused.text
    );
    let open = app.get(&format!("/v1/sync/conflicts/{conflict}"), &phone.token).await;
    assert_eq!(open.ok()["status"], "open");
}

/// With a 2 s request deadline, a connection that sends part of its
/// headers and then nothing is closed within seconds (the idle timeout
/// does not see it: bytes came). Meanwhile, complete requests on other
/// connections are answered, and one whose headers trickle in within the
/// deadline is too.
#[tokio::test]
async fn a_connection_stalled_in_its_headers_is_closed() {
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app =
        outpost_tests::spawn_app_with(|config| config.connections.request_timeout_secs = 2).await;
    let address = app.base.trim_start_matches("http://").to_owned();
    let mut stalled = tokio::net::TcpStream::connect(&address).await.expect("connect");
    stalled.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: abc").await.expect("write");
    let started = Instant::now();

    let control = raw_http(&app.base, "GET /healthz HTTP/1.1", "").await;
    assert_eq!(control.map(|a| a.status), Some(200), "a complete request is answered");
    let mut slow = tokio::net::TcpStream::connect(&address).await.expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.expect("write");
    tokio::time::sleep(Duration::from_millis(700)).await;
    slow.write_all(b"Connection: close\r\n\r\n").await.expect("write");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the slow request within the deadline is answered");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200"), "the slow request: {text}");

    // Until the stalled connection ends: whatever comes first, then EOF or
    // an error. Its request was never whole, so no success answer.
    let mut received = Vec::new();
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        let mut buf = [0u8; 1024];
        loop {
            match stalled.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let waited = started.elapsed();
    assert!(ended.is_ok(), "the stalled connection is still open after {waited:?}");
    assert!(waited >= Duration::from_millis(1500), "closed after {waited:?}, before its deadline");
    let text = String::from_utf8_lossy(&received);
    assert!(!text.starts_with("HTTP/1.1 2"), "a stalled request was answered: {text}");
    let health = app.raw(|c, base| c.get(format!("{base}/healthz"))).await;
    assert!(health.status.is_success(), "the server still answers: {}", health.text);
}

/// A mutation id reused in a later batch for another record is refused
/// even when the change is the same (the same op, base and fields): it is
/// another record's change, and the first answer (about the first record)
/// would tell the device the second one is stored. From the replay cache
/// and, once the cache is gone, from the log.
#[tokio::test]
async fn a_mutation_id_reused_across_batches_for_another_record_with_the_same_change_is_refused() {
    let app = spawn_app().await;
    app.load_demo().await;
    let phone = Device::sign_in(&app, WORKER1).await;
    let (x, y) = (Uuid::now_v7(), Uuid::now_v7());
    let first = mutation("person", x, "create", None, json!({ "alias": "Twin" }));
    let applied = results(&phone.push_raw(&app, vec![first.clone()]).await);
    assert_eq!(applied[0]["status"], "applied", "{}", applied[0]);
    let mut reused = mutation("person", y, "create", None, json!({ "alias": "Twin" }));
    reused["mutation_id"] = first["mutation_id"].clone();

    for when in ["cache", "log"] {
        if when == "log" {
            app.flush_cache().await;
        }
        let answer = results(&phone.push_raw(&app, vec![reused.clone()]).await);
        let result = &answer[0];
        assert_eq!(result["status"], "rejected", "({when}) answered about {x}: {result}");
        assert_eq!(result["problem"]["code"], "mutation_id_reused", "({when}) {result}");
        assert_eq!(result["problem"]["field"], "mutation_id", "({when}) {result}");
    }
    let manager = app.login(MANAGER).await;
    app.get(&format!("/v1/persons/{y}"), &manager).await.assert_problem(404, "not_found");
}
