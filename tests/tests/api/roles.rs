//! What each role may do.

use outpost_tests::spawn_app;
use serde_json::json;

#[tokio::test]
async fn workers_and_viewers_read_the_directory_but_change_nothing() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login("admin@demo.outpost.test").await;
    app.post("/v1/users", &admin, json!({
        "email": "viewer@demo.outpost.test", "display_name": "Viewer", "role": "viewer", "password": "viewer-password",
    }))
    .await
    .ok();
    for (email, password) in [
        ("worker1@demo.outpost.test", outpost_tests::PASSWORD),
        ("viewer@demo.outpost.test", "viewer-password"),
    ] {
        let token = app.login_with(email, password).await;
        app.get("/v1/sites", &token).await.ok();
        app.get("/v1/organisation", &token).await.ok();
        app.post("/v1/sites", &token, json!({ "name": "X", "kind": "van" }))
            .await
            .assert_problem(403, "forbidden");
        app.get("/v1/users", &token).await.assert_problem(403, "forbidden");
        app.patch("/v1/organisation", &token, json!({ "name": "X" }))
            .await
            .assert_problem(403, "forbidden");
        app.get("/v1/api-keys", &token).await.assert_problem(403, "forbidden");
    }
}

#[tokio::test]
async fn managers_manage_workers_but_not_admins_or_managers() {
    let app = spawn_app().await;
    app.load_demo().await;
    let manager = app.login("manager@demo.outpost.test").await;
    let new_worker = json!({
        "email": "worker3@demo.outpost.test", "display_name": "Worker Three", "role": "worker", "password": "a-good-password",
    });
    app.post("/v1/users", &manager, new_worker).await.ok();
    let new_admin = json!({
        "email": "boss@demo.outpost.test", "display_name": "Boss", "role": "admin", "password": "a-good-password",
    });
    app.post("/v1/users", &manager, new_admin).await.assert_problem(403, "role_not_allowed");

    let users = app.get("/v1/users", &manager).await;
    let find = |email: &str| {
        users.body["items"].as_array().unwrap().iter().find(|u| u["email"] == email).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let admin_id = find("admin@demo.outpost.test");
    let worker_id = find("worker3@demo.outpost.test");
    let manager_id = find("manager@demo.outpost.test");
    app.patch(&format!("/v1/users/{admin_id}"), &manager, json!({ "display_name": "Renamed" }))
        .await
        .assert_problem(403, "role_not_allowed");
    app.delete(&format!("/v1/users/{admin_id}"), &manager)
        .await
        .assert_problem(403, "role_not_allowed");
    app.patch(&format!("/v1/users/{worker_id}"), &manager, json!({ "role": "manager" }))
        .await
        .assert_problem(403, "role_not_allowed");
    app.patch(&format!("/v1/users/{worker_id}"), &manager, json!({ "role": "viewer" })).await.ok();
    app.patch(&format!("/v1/users/{manager_id}"), &manager, json!({ "role": "worker" }))
        .await
        .assert_problem(403, "role_not_allowed");
    // Managers cannot touch the organisation or API keys.
    app.patch("/v1/organisation", &manager, json!({ "name": "X" }))
        .await
        .assert_problem(403, "forbidden");
    app.post("/v1/api-keys", &manager, json!({ "name": "k", "scopes": ["directory:read"] }))
        .await
        .assert_problem(403, "forbidden");
}

#[tokio::test]
async fn admins_cannot_demote_or_deactivate_themselves() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login("admin@demo.outpost.test").await;
    let id = app.get("/v1/me", &admin).await.ok()["user"]["id"].as_str().unwrap().to_owned();
    app.patch(&format!("/v1/users/{id}"), &admin, json!({ "role": "worker" }))
        .await
        .assert_problem(403, "own_role");
    app.delete(&format!("/v1/users/{id}"), &admin).await.assert_problem(403, "own_account");
    let renamed =
        app.patch("/v1/organisation", &admin, json!({ "name": "Demo Outreach CIC" })).await;
    assert_eq!(renamed.ok()["name"], "Demo Outreach CIC");
}
