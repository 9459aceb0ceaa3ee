//! Another organisation's ids answer 404, never its data.

use outpost_tests::{Auth, spawn_app};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn another_organisations_records_are_404_and_never_listed() {
    let app = spawn_app().await;
    app.load_demo().await;
    let demo_admin = app.login("admin@demo.outpost.test").await;
    let other_admin = app.other_organisation("other-org").await;

    let demo_site =
        app.get("/v1/sites", &demo_admin).await.ok()["items"][0]["id"].as_str().unwrap().to_owned();
    let demo_user =
        app.get("/v1/users", &demo_admin).await.ok()["items"][0]["id"].as_str().unwrap().to_owned();
    let phone = Uuid::now_v7();
    app.login_on_device("worker1@demo.outpost.test", phone).await;

    for path in [format!("/v1/sites/{demo_site}"), format!("/v1/users/{demo_user}")] {
        app.get(&path, &other_admin).await.assert_problem(404, "not_found");
        app.delete(&path, &other_admin).await.assert_problem(404, "not_found");
    }
    app.get(&format!("/v1/devices/{phone}"), &other_admin).await.assert_problem(404, "not_found");
    app.patch(&format!("/v1/sites/{demo_site}"), &other_admin, json!({ "name": "Mine now" }))
        .await
        .assert_problem(404, "not_found");
    app.patch(&format!("/v1/users/{demo_user}"), &other_admin, json!({ "role": "viewer" }))
        .await
        .assert_problem(404, "not_found");
    app.post(&format!("/v1/devices/{phone}/revoke"), &other_admin, json!({}))
        .await
        .assert_problem(404, "not_found");

    // Nothing of the demo organisation leaks into the other's lists.
    assert!(app.get("/v1/sites", &other_admin).await.ok()["items"].as_array().unwrap().is_empty());
    let users = app.get("/v1/users", &other_admin).await;
    let users = users.ok()["items"].as_array().unwrap().clone();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["email"], "admin@other-org.test");
    assert!(
        app.get("/v1/devices", &other_admin).await.ok()["items"].as_array().unwrap().is_empty()
    );
    assert_eq!(app.get("/v1/organisation", &other_admin).await.ok()["slug"], "other-org");

    // And the demo site is untouched.
    assert_ne!(
        app.get(&format!("/v1/sites/{demo_site}"), &demo_admin).await.ok()["name"],
        "Mine now"
    );
}

#[tokio::test]
async fn sites_of_another_organisation_cannot_be_assigned() {
    let app = spawn_app().await;
    app.load_demo().await;
    let demo_admin = app.login("admin@demo.outpost.test").await;
    let other_admin = app.other_organisation("other-org").await;
    let other_site = app
        .post("/v1/sites", &other_admin, json!({ "name": "Their hostel", "kind": "hostel" }))
        .await;
    let other_site = other_site.ok()["id"].as_str().unwrap().to_owned();
    let answer = app
        .post(
            "/v1/users",
            &demo_admin,
            json!({
                "email": "new@demo.outpost.test", "display_name": "New", "role": "worker",
                "password": "long-enough-password", "site_ids": [other_site],
            }),
        )
        .await;
    assert_eq!(answer.assert_problem(422, "validation_failed")["field"], "site_ids");
}

#[tokio::test]
async fn an_api_key_sees_only_its_own_organisation() {
    let app = spawn_app().await;
    app.load_demo().await;
    let other_admin = app.other_organisation("other-org").await;
    let key = app
        .post(
            "/v1/api-keys",
            &other_admin,
            json!({ "name": "returns", "scopes": ["directory:read", "users:read"] }),
        )
        .await;
    let key = key.ok()["key"].as_str().unwrap().to_owned();
    let sites = app.call(Method::GET, "/v1/sites", Auth::ApiKey(&key), None).await;
    assert!(sites.ok()["items"].as_array().unwrap().is_empty());
    let users = app.call(Method::GET, "/v1/users", Auth::ApiKey(&key), None).await;
    assert!(
        users.ok()["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["email"] != "admin@demo.outpost.test")
    );
}
