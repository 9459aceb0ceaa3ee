//! The audit trail records who did what, and only admins read it.

use std::collections::HashSet;

use outpost_tests::{PASSWORD, spawn_app};
use serde_json::json;

#[tokio::test]
async fn actions_are_audited_and_paged_newest_first() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login("admin@demo.outpost.test").await;
    app.try_login("worker1@demo.outpost.test", "wrong-password", None).await;
    let site = app.post("/v1/sites", &admin, json!({ "name": "Van", "kind": "van" })).await;
    let site_id = site.ok()["id"].clone();

    let page = app.get("/v1/audit-events?limit=100", &admin).await;
    let items = page.ok()["items"].as_array().unwrap().clone();
    assert_eq!(items[0]["action"], "site.created");
    assert_eq!(items[0]["target_id"], site_id);
    assert!(items[0]["request_id"].is_string());
    let me = app.get("/v1/me", &admin).await;
    assert_eq!(items[0]["actor_user_id"], me.ok()["user"]["id"]);
    let actions: HashSet<&str> = items.iter().map(|e| e["action"].as_str().unwrap()).collect();
    for expected in ["login.succeeded", "login.failed", "site.created", "organisation.created"] {
        assert!(actions.contains(expected), "{expected} missing from {actions:?}");
    }
    // No secret ever lands in the trail.
    assert!(!page.text.contains(PASSWORD) && !page.text.contains(&admin));

    // Paging by `before` walks the same events without gaps or repeats.
    let mut seen = Vec::new();
    let mut path = "/v1/audit-events?limit=2".to_owned();
    loop {
        let page = app.get(&path, &admin).await;
        let body = page.ok();
        seen.extend(body["items"].as_array().unwrap().iter().map(|e| e["id"].clone()));
        match body["next_before"].as_str() {
            Some(before) => path = format!("/v1/audit-events?limit=2&before={before}"),
            None => break,
        }
    }
    let all: Vec<_> = items.iter().map(|e| e["id"].clone()).collect();
    assert_eq!(seen, all);
}

#[tokio::test]
async fn only_admins_of_the_organisation_read_the_trail() {
    let app = spawn_app().await;
    app.load_demo().await;
    let manager = app.login("manager@demo.outpost.test").await;
    app.get("/v1/audit-events", &manager).await.assert_problem(403, "forbidden");
    let other_admin = app.other_organisation("other-org").await;
    let other = app.get("/v1/audit-events", &other_admin).await;
    let items = other.ok()["items"].as_array().unwrap().clone();
    assert!(!items.is_empty());
    assert!(!other.text.contains("demo.outpost.test"));
    assert!(items.iter().all(|e| e["action"] != "site.created"));
    app.get("/v1/audit-events?limit=0", &other_admin)
        .await
        .assert_problem(400, "invalid_parameter");
}
