//! Every error, the framework's own included, is problem+json with a code.

use outpost_tests::{Auth, spawn_app, spawn_app_with};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn every_error_has_the_problem_shape() {
    let app = spawn_app_with(|c| c.max_body_bytes = 1024).await;
    app.load_demo().await;
    let worker = app.login("worker1@demo.outpost.test").await;
    let admin = app.login("admin@demo.outpost.test").await;

    // 400: malformed JSON, a wrong type, a bad path parameter, a bad query.
    let malformed = app
        .raw(|c, base| {
            c.post(format!("{base}/v1/auth/login"))
                .header("content-type", "application/json")
                .body("{\"email\":")
        })
        .await;
    malformed.assert_problem(400, "invalid_body");
    app.call(Method::POST, "/v1/auth/login", Auth::None, Some(json!({ "email": "a@b.org", "password": "x", "device": { "id": "not-a-uuid", "name": "n" } }))).await.assert_problem(400, "invalid_body");
    app.get("/v1/sites/not-a-uuid", &worker).await.assert_problem(400, "invalid_parameter");
    app.get("/v1/sites?include_archived=maybe", &worker)
        .await
        .assert_problem(400, "invalid_parameter");
    // 401: no credentials, and bad ones.
    app.call(Method::GET, "/v1/me", Auth::None, None).await.assert_problem(401, "unauthenticated");
    app.get("/v1/me", "ops_nope").await.assert_problem(401, "invalid_token");
    // 403, 404 (a record and a route), 405.
    app.post("/v1/sites", &worker, json!({ "name": "X", "kind": "van" }))
        .await
        .assert_problem(403, "forbidden");
    app.get(&format!("/v1/sites/{}", uuid::Uuid::now_v7()), &worker)
        .await
        .assert_problem(404, "not_found");
    app.get("/v1/no-such-thing", &worker).await.assert_problem(404, "not_found");
    app.call(Method::PUT, "/v1/me", Auth::Bearer(&worker), None)
        .await
        .assert_problem(405, "method_not_allowed");
    // 409, 413 (declared length and chunked), 415, 422.
    let taken = json!({ "email": "worker2@demo.outpost.test", "display_name": "X", "role": "worker", "password": "long-enough-pw" });
    app.post("/v1/users", &admin, taken).await.assert_problem(409, "email_taken");
    let big = json!({ "name": "x".repeat(2000), "kind": "van" });
    app.post("/v1/sites", &admin, big.clone()).await.assert_problem(413, "payload_too_large");
    let chunked = app
        .raw(|c, base| {
            let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
                vec![Ok(big.to_string().into_bytes())];
            c.post(format!("{base}/v1/sites"))
                .bearer_auth(&admin)
                .header("content-type", "application/json")
                .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
        })
        .await;
    chunked.assert_problem(413, "payload_too_large");
    let plain = app
        .raw(|c, base| {
            c.post(format!("{base}/v1/auth/login"))
                .header("content-type", "text/plain")
                .body("hello")
        })
        .await;
    plain.assert_problem(415, "unsupported_media_type");
    app.post("/v1/sites", &admin, json!({ "name": "", "kind": "van" }))
        .await
        .assert_problem(422, "validation_failed");
}

#[tokio::test]
async fn a_request_id_is_echoed_or_made() {
    let app = spawn_app().await;
    let given = app
        .raw(|c, base| c.get(format!("{base}/healthz")).header("x-request-id", "phone-42.sync-7"))
        .await;
    assert_eq!(given.headers["x-request-id"], "phone-42.sync-7");
    let junk = app
        .raw(|c, base| c.get(format!("{base}/healthz")).header("x-request-id", "<script>"))
        .await;
    assert_ne!(junk.headers["x-request-id"], "<script>");
    let made = app.call(Method::GET, "/healthz", Auth::None, None).await;
    assert!(uuid::Uuid::parse_str(made.headers["x-request-id"].to_str().unwrap()).is_ok());
}

#[tokio::test]
async fn secrets_are_never_stored_in_clear() {
    use outpost_entity::{session, user};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    let app = spawn_app().await;
    app.load_demo().await;
    let token = app.login("worker1@demo.outpost.test").await;
    let sessions = session::Entity::find().all(&app.state.db).await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert!(!sessions[0].token_hash.contains(&token[4..]));
    assert_eq!(sessions[0].token_hash, outpost_api::secrets::hash_secret(&token));
    let worker = user::Entity::find()
        .filter(user::Column::Email.eq("worker1@demo.outpost.test"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(worker.password_hash.starts_with("$argon2id$"));
    assert!(!worker.password_hash.contains(outpost_tests::PASSWORD));
}

/// A refused body or parameter says which field and what it must be: the
/// framework's own message names a type ("SubstanceInput"), not the field.
#[tokio::test]
async fn a_parse_failure_names_the_field_and_the_allowed_values() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login("admin@demo.outpost.test").await;

    let missing = app.post("/v1/substances", &admin, json!({ "code": "x", "name": "X" })).await;
    let body = missing.assert_problem(400, "invalid_body");
    assert_eq!(body["field"], "category", "{}", missing.text);

    let wrong = json!({ "code": "x", "name": "X", "category": "nonsense" });
    let answer = app.post("/v1/substances", &admin, wrong).await;
    let body = answer.assert_problem(400, "invalid_body");
    assert_eq!(body["field"], "category");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("must be one of:") && detail.contains("opioid"), "{detail}");

    let worker = app.login("worker1@demo.outpost.test").await;
    let site = app.get("/v1/me", &worker).await.ok()["sites"][0]["id"].clone();
    let contact = json!({
        "id": uuid::Uuid::now_v7(), "site_id": site, "contact_type": "drop_in",
        "occurred_at": "2026-12-01T22:00:00Z",
        "kit_lines": [{ "item": "foil", "quantity": 1 }, { "item": 5, "quantity": 1 }],
    });
    let answer = app.post("/v1/contacts", &worker, contact).await;
    assert_eq!(answer.assert_problem(400, "invalid_body")["field"], "kit_lines[1].item");

    let answer = app.get("/v1/sync/conflicts?status=nonsense", &admin).await;
    let body = answer.assert_problem(400, "invalid_parameter");
    assert_eq!(body["field"], "status");
    assert!(body["detail"].as_str().unwrap().contains("open, resolved"), "{}", answer.text);

    let answer = app
        .raw(|c, base| {
            c.post(format!("{base}/v1/auth/login")).header("content-type", "text/plain").body("x")
        })
        .await;
    let body = answer.assert_problem(415, "unsupported_media_type");
    assert!(body["detail"].as_str().unwrap().contains("application/json"), "{}", answer.text);
}
