//! Integrators' API keys: scoped, shown once, stored hashed, revocable.

use outpost_api::secrets::hash_secret;
use outpost_entity::api_key;
use outpost_tests::{Auth, spawn_app};
use reqwest::Method;
use sea_orm::EntityTrait;
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn an_api_key_works_within_its_scopes_until_revoked() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login("admin@demo.outpost.test").await;
    let created = app
        .post(
            "/v1/api-keys",
            &admin,
            json!({ "name": "Council returns", "scopes": ["directory:read"] }),
        )
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    let key = created.body["key"].as_str().unwrap().to_owned();
    let id = created.body["api_key"]["id"].as_str().unwrap().to_owned();
    assert!(key.starts_with("opk_"));
    assert!(key.starts_with(created.body["api_key"]["prefix"].as_str().unwrap()));

    let sites = app.call(Method::GET, "/v1/sites", Auth::ApiKey(&key), None).await;
    assert_eq!(sites.ok()["items"].as_array().unwrap().len(), 4);
    app.call(Method::GET, "/v1/users", Auth::ApiKey(&key), None)
        .await
        .assert_problem(403, "forbidden");
    app.call(Method::GET, "/v1/devices", Auth::ApiKey(&key), None)
        .await
        .assert_problem(403, "forbidden");
    app.call(
        Method::POST,
        "/v1/sites",
        Auth::ApiKey(&key),
        Some(json!({ "name": "X", "kind": "van" })),
    )
    .await
    .assert_problem(403, "forbidden");
    // Keys cannot act as sessions.
    app.call(Method::GET, "/v1/me", Auth::Bearer(&key), None)
        .await
        .assert_problem(401, "invalid_token");

    // The listing never shows the key again, and the database holds only a hash.
    let listed = app.get("/v1/api-keys", &admin).await;
    assert!(!listed.text.contains(&key));
    let stored = api_key::Entity::find_by_id(id.parse::<Uuid>().unwrap())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.key_hash, hash_secret(&key));
    assert!(!stored.key_hash.contains(&key[4..]));

    app.delete(&format!("/v1/api-keys/{id}"), &admin).await.ok();
    app.call(Method::GET, "/v1/sites", Auth::ApiKey(&key), None)
        .await
        .assert_problem(401, "invalid_api_key");
}

#[tokio::test]
async fn api_key_input_is_validated() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login("admin@demo.outpost.test").await;
    let none = app.post("/v1/api-keys", &admin, json!({ "name": "k", "scopes": [] })).await;
    assert_eq!(none.assert_problem(422, "validation_failed")["field"], "scopes");
    let past = app
        .post(
            "/v1/api-keys",
            &admin,
            json!({ "name": "k", "scopes": ["users:read"], "expires_at": "2001-01-01T00:00:00Z" }),
        )
        .await;
    assert_eq!(past.assert_problem(422, "validation_failed")["field"], "expires_at");
    app.post("/v1/api-keys", &admin, json!({ "name": "k", "scopes": ["everything"] }))
        .await
        .assert_problem(400, "invalid_body");
}
