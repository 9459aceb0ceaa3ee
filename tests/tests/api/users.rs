//! Account CRUD.

use outpost_tests::{PASSWORD, spawn_app};
use serde_json::json;

#[tokio::test]
async fn an_admin_creates_edits_and_deactivates_an_account() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login("admin@demo.outpost.test").await;
    let sites = app.get("/v1/sites", &admin).await;
    let site = sites.ok()["items"][0]["id"].as_str().unwrap().to_owned();
    let created = app
        .post("/v1/users", &admin, json!({
            "email": "New.Worker@Demo.Outpost.Test", "display_name": "New Worker", "role": "worker",
            "password": "a-long-password", "site_ids": [site, site],
        }))
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    assert_eq!(created.body["email"], "new.worker@demo.outpost.test");
    assert_eq!(created.body["site_ids"], json!([site]));
    assert!(created.body.get("password").is_none());
    let id = created.body["id"].as_str().unwrap().to_owned();

    let token = app.login_with("new.worker@demo.outpost.test", "a-long-password").await;
    assert_eq!(app.get("/v1/me", &token).await.ok()["sites"][0]["id"], site);

    let edited = app
        .patch(
            &format!("/v1/users/{id}"),
            &admin,
            json!({ "display_name": "Renamed", "site_ids": [] }),
        )
        .await;
    assert_eq!(edited.ok()["display_name"], "Renamed");
    assert_eq!(edited.body["site_ids"], json!([]));

    // A password reset by an admin ends the user's sessions.
    app.patch(&format!("/v1/users/{id}"), &admin, json!({ "password": "another-long-password" }))
        .await
        .ok();
    app.get("/v1/me", &token).await.assert_problem(401, "invalid_token");
    app.try_login("new.worker@demo.outpost.test", "a-long-password", None)
        .await
        .assert_problem(401, "invalid_credentials");
    app.try_login("new.worker@demo.outpost.test", "another-long-password", None).await.ok();

    assert!(
        app.delete(&format!("/v1/users/{id}"), &admin).await.ok()["deactivated_at"].is_string()
    );
    let listed = app.get("/v1/users", &admin).await;
    assert!(listed.ok()["items"].as_array().unwrap().iter().all(|u| u["id"] != id));
    let all = app.get("/v1/users?include_deactivated=true", &admin).await;
    assert!(all.ok()["items"].as_array().unwrap().iter().any(|u| u["id"] == id));
}

#[tokio::test]
async fn account_input_is_validated() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login("admin@demo.outpost.test").await;
    let base = json!({ "email": "x@demo.outpost.test", "display_name": "X", "role": "worker", "password": "long-enough-pw" });
    let cases = [
        ("email", json!("not-an-email"), 422, "validation_failed"),
        ("password", json!("short"), 422, "validation_failed"),
        ("display_name", json!(""), 422, "validation_failed"),
        ("site_ids", json!([uuid::Uuid::now_v7()]), 422, "validation_failed"),
        ("email", json!("worker1@demo.outpost.test"), 409, "email_taken"),
        ("role", json!("superuser"), 400, "invalid_body"),
    ];
    for (field, value, status, code) in cases {
        let mut body = base.clone();
        body[field] = value;
        let answer = app.post("/v1/users", &admin, body).await;
        let problem = answer.assert_problem(status, code);
        if status == 422 {
            assert_eq!(problem["field"], field);
        }
    }
    // Nothing was created by the failed attempts.
    let users = app.get("/v1/users", &admin).await;
    assert_eq!(users.ok()["items"].as_array().unwrap().len(), 4);
    app.try_login("worker1@demo.outpost.test", PASSWORD, None).await.ok();
}
