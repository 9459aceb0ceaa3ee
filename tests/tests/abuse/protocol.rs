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
use serde_json::json;
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
