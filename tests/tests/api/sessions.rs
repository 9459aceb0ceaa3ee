//! Sessions: devices, revocation, Redis flushes, several instances, expiry.

use std::time::Duration;

use outpost_tests::{Auth, PASSWORD, spawn_app, spawn_app_with};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn a_device_registers_at_login_and_shows_in_me() {
    let app = spawn_app().await;
    app.load_demo().await;
    let device_id = Uuid::now_v7();
    let token = app.login_on_device("worker1@demo.outpost.test", device_id).await;
    let me = app.get("/v1/me", &token).await;
    assert_eq!(me.ok()["device"]["id"], device_id.to_string());
    // Logging in again from the same device reuses it.
    app.login_on_device("worker1@demo.outpost.test", device_id).await;
    let devices = app.get("/v1/devices", &token).await;
    assert_eq!(devices.ok()["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_device_of_another_user_is_refused() {
    let app = spawn_app().await;
    app.load_demo().await;
    let device_id = Uuid::now_v7();
    app.login_on_device("worker1@demo.outpost.test", device_id).await;
    let device = json!({ "id": device_id, "name": "borrowed" });
    let answer = app.try_login("worker2@demo.outpost.test", PASSWORD, Some(device)).await;
    answer.assert_problem(409, "device_registered_to_another_user");
}

#[tokio::test]
async fn revoking_a_lost_phone_ends_every_session_on_it() {
    let app = spawn_app().await;
    app.load_demo().await;
    let phone = Uuid::now_v7();
    let first = app.login_on_device("worker1@demo.outpost.test", phone).await;
    let second = app.login_on_device("worker1@demo.outpost.test", phone).await;
    let elsewhere = app.login("worker1@demo.outpost.test").await;
    let manager = app.login("manager@demo.outpost.test").await;

    let revoked = app.post(&format!("/v1/devices/{phone}/revoke"), &manager, json!({})).await;
    assert!(revoked.ok()["revoked_at"].is_string());

    app.get("/v1/me", &first).await.assert_problem(401, "invalid_token");
    app.get("/v1/me", &second).await.assert_problem(401, "invalid_token");
    app.get("/v1/me", &elsewhere).await.ok();
    let device = json!({ "id": phone, "name": "found it" });
    app.try_login("worker1@demo.outpost.test", PASSWORD, Some(device))
        .await
        .assert_problem(403, "device_revoked");
}

#[tokio::test]
async fn a_worker_may_revoke_only_their_own_device() {
    let app = spawn_app().await;
    app.load_demo().await;
    let mine = Uuid::now_v7();
    let theirs = Uuid::now_v7();
    let worker1 = app.login_on_device("worker1@demo.outpost.test", mine).await;
    app.login_on_device("worker2@demo.outpost.test", theirs).await;
    // Another worker's device is invisible to a worker.
    app.post(&format!("/v1/devices/{theirs}/revoke"), &worker1, json!({}))
        .await
        .assert_problem(404, "not_found");
    app.post(&format!("/v1/devices/{mine}/revoke"), &worker1, json!({})).await.ok();
    app.get("/v1/me", &worker1).await.assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn a_session_survives_a_cache_flush() {
    let app = spawn_app().await;
    app.load_demo().await;
    let phone = Uuid::now_v7();
    let token = app.login_on_device("worker1@demo.outpost.test", phone).await;
    app.get("/v1/me", &token).await.ok();
    app.flush_cache().await;
    let me = app.get("/v1/me", &token).await;
    assert_eq!(me.ok()["device"]["id"], phone.to_string());
    // Revocation still works on a session rebuilt from the database.
    app.flush_cache().await;
    let out = app.call(Method::POST, "/v1/auth/logout", Auth::Bearer(&token), None).await;
    assert_eq!(out.status.as_u16(), 204);
    app.get("/v1/me", &token).await.assert_problem(401, "invalid_token");
    app.flush_cache().await;
    app.get("/v1/me", &token).await.assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn sessions_work_from_the_database_while_redis_is_unreachable() {
    let app = spawn_app_with(|c| {
        c.redis_url = Some("redis://127.0.0.1:1".into());
        c.redis_timeout_ms = 200;
    })
    .await;
    app.load_demo().await;
    let token = app.login("worker1@demo.outpost.test").await;
    app.get("/v1/me", &token).await.ok();
    let ready = app.call(Method::GET, "/readyz", Auth::None, None).await;
    assert_eq!(ready.ok()["status"], "degraded");
    assert_eq!(ready.body["cache"], "down");
    let metrics = app.call(Method::GET, "/metrics", Auth::None, None).await;
    assert!(metrics.text.lines().any(|l| l == "outpost_redis_up 0"), "{}", metrics.text);
    let out = app.call(Method::POST, "/v1/auth/logout", Auth::Bearer(&token), None).await;
    assert_eq!(out.status.as_u16(), 204);
    app.get("/v1/me", &token).await.assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn logout_and_revocation_reach_every_instance_at_once() {
    let a = spawn_app().await;
    a.load_demo().await;
    let b = a.spawn_sibling().await;

    let token = a.login("worker1@demo.outpost.test").await;
    b.get("/v1/me", &token).await.ok();
    a.call(Method::POST, "/v1/auth/logout", Auth::Bearer(&token), None).await;
    b.get("/v1/me", &token).await.assert_problem(401, "invalid_token");

    let phone = Uuid::now_v7();
    let on_phone = b.login_on_device("worker2@demo.outpost.test", phone).await;
    a.get("/v1/me", &on_phone).await.ok();
    let manager = b.login("manager@demo.outpost.test").await;
    b.post(&format!("/v1/devices/{phone}/revoke"), &manager, json!({})).await.ok();
    a.get("/v1/me", &on_phone).await.assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn an_idle_session_expires() {
    let app = spawn_app_with(|c| c.session.idle_ttl_secs = 1).await;
    app.load_demo().await;
    let token = app.login("worker1@demo.outpost.test").await;
    app.get("/v1/me", &token).await.ok();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    app.get("/v1/me", &token).await.assert_problem(401, "invalid_token");
    // Not resurrected from the database either.
    app.flush_cache().await;
    app.get("/v1/me", &token).await.assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn a_role_change_applies_to_the_next_request() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login("admin@demo.outpost.test").await;
    let worker = app.login("worker1@demo.outpost.test").await;
    app.get("/v1/users", &worker).await.assert_problem(403, "forbidden");
    let id = app.get("/v1/me", &worker).await.ok()["user"]["id"].as_str().unwrap().to_owned();
    app.patch(&format!("/v1/users/{id}"), &admin, json!({ "role": "manager" })).await.ok();
    app.get("/v1/users", &worker).await.ok();
}
