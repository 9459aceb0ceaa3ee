//! Every request body in the spec has an example, and each works when
//! pressed, in the order a newcomer meets them, against the demo
//! organisation (as `outpost serve --demo` loads it).

use outpost_tests::{Answer, Auth, TestApp, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

const PERSON: &str = "0193b6a0-0000-7000-8000-000000000001";
const REFERRAL: &str = "0193b6a0-0000-7000-8000-000000000004";

/// The example the served spec gives the request body of `operation_id`.
fn example(spec: &Value, operation_id: &str) -> Value {
    let operation = spec["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|ops| ops.as_object().unwrap().values())
        .find(|op| op["operationId"] == operation_id)
        .unwrap_or_else(|| panic!("no operation {operation_id}"));
    let schema = &operation["requestBody"]["content"]["application/json; charset=utf-8"]["schema"];
    let name = schema["$ref"].as_str().unwrap().trim_start_matches("#/components/schemas/");
    spec["components"]["schemas"][name]["example"].clone()
}

/// Presses the example of `operation_id`: sends it as `token` would.
async fn press(
    app: &TestApp,
    spec: &Value,
    token: &str,
    operation_id: &str,
    method: Method,
    path: &str,
    if_match: Option<&str>,
) -> Answer {
    let body = example(spec, operation_id);
    assert!(body.is_object(), "{operation_id} has no example");
    let url = format!("{}{path}", app.base);
    let answer = app
        .raw(|client, _| {
            let mut request = client.request(method, url).bearer_auth(token).json(&body);
            if let Some(tag) = if_match {
                request = request.header("If-Match", tag);
            }
            request
        })
        .await;
    assert!(
        answer.status.is_success(),
        "{operation_id}'s example: {} {}",
        answer.status,
        answer.text
    );
    answer
}

#[tokio::test]
async fn every_request_body_has_an_example() {
    let app = spawn_app().await;
    let spec = app.call(Method::GET, "/openapi.json", Auth::None, None).await.body;
    let mut missing = Vec::new();
    for ops in spec["paths"].as_object().unwrap().values() {
        for op in ops.as_object().unwrap().values() {
            let Some(content) = op["requestBody"]["content"].as_object() else { continue };
            let schema = &content.values().next().unwrap()["schema"];
            let name = schema["$ref"].as_str().unwrap().trim_start_matches("#/components/schemas/");
            if !spec["components"]["schemas"][name]["example"].is_object() {
                missing.push(op["operationId"].as_str().unwrap().to_owned());
            }
        }
    }
    assert!(missing.is_empty(), "request bodies without an example: {missing:?}");
}

#[tokio::test]
async fn every_example_works_when_pressed() {
    let app = spawn_app().await;
    app.load_demo().await;
    let spec = app.call(Method::GET, "/openapi.json", Auth::None, None).await.body;

    // The login example is the demo worker's; pressing it twice (two
    // people trying the docs page) works too.
    let login = example(&spec, "login");
    let first = app.call(Method::POST, "/v1/auth/login", Auth::None, Some(login.clone())).await;
    let worker = first.ok()["token"].as_str().unwrap().to_owned();
    app.call(Method::POST, "/v1/auth/login", Auth::None, Some(login)).await.ok();
    let admin = app.login("admin@demo.outpost.test").await;

    let (post, patch) = (Method::POST, Method::PATCH);
    press(&app, &spec, &admin, "update_organisation", patch.clone(), "/v1/organisation", None)
        .await;
    for (create, update, path) in [
        ("create_site", "update_site", "/v1/sites"),
        ("create_kit_item", "update_kit_item", "/v1/kit-items"),
        ("create_substance", "update_substance", "/v1/substances"),
        ("create_partner_service", "update_partner_service", "/v1/partner-services"),
        ("create_user", "update_user", "/v1/users"),
    ] {
        let created = press(&app, &spec, &admin, create, post.clone(), path, None).await;
        let id = created.body["id"].as_str().unwrap();
        press(&app, &spec, &admin, update, patch.clone(), &format!("{path}/{id}"), None).await;
    }
    press(&app, &spec, &admin, "create_api_key", post.clone(), "/v1/api-keys", None).await;
    for (create, update, path) in [
        ("create_stock_location", "update_stock_location", "/v1/stock/locations"),
        ("create_stock_threshold", "update_stock_threshold", "/v1/stock/thresholds"),
    ] {
        let created = press(&app, &spec, &admin, create, post.clone(), path, None).await;
        let id = created.body["id"].as_str().unwrap();
        let one = Some("\"1\"");
        press(&app, &spec, &admin, update, patch.clone(), &format!("{path}/{id}"), one).await;
    }
    press(&app, &spec, &worker, "create_stock_entry", post.clone(), "/v1/stock/entries", None)
        .await;
    let phone = uuid::Uuid::now_v7();
    let on_phone = app.login_on_device("worker1@demo.outpost.test", phone).await;
    let bag = format!("/v1/devices/{phone}/stock-location");
    press(&app, &spec, &on_phone, "set_device_stock_location", post.clone(), &bag, None).await;

    press(&app, &spec, &worker, "create_person", post.clone(), "/v1/persons", None).await;
    let person = format!("/v1/persons/{PERSON}");
    press(&app, &spec, &worker, "update_person", patch.clone(), &person, Some("\"1\"")).await;
    press(&app, &spec, &worker, "create_contact", post.clone(), "/v1/contacts", None).await;
    press(&app, &spec, &worker, "create_incident", post.clone(), "/v1/incidents", None).await;
    press(&app, &spec, &worker, "create_referral", post.clone(), "/v1/referrals", None).await;
    let referral = format!("/v1/referrals/{REFERRAL}");
    press(&app, &spec, &worker, "update_referral", patch.clone(), &referral, Some("\"1\"")).await;
    let steps = format!("{referral}/steps");
    press(&app, &spec, &worker, "create_referral_step", post.clone(), &steps, None).await;
    let pushed =
        press(&app, &spec, &worker, "sync_push", post.clone(), "/v1/sync/push", None).await;
    for result in pushed.body["results"].as_array().unwrap() {
        assert_eq!(result["status"], "applied", "{}", pushed.text);
    }
    // Pressing a create again answers the stored record.
    let again =
        press(&app, &spec, &worker, "create_person", post.clone(), "/v1/persons", None).await;
    assert_eq!(again.status.as_u16(), 200);

    // A conflict to resolve: two edits of the alias from version 2.
    let edit = |alias: &str| {
        json!({ "mutations": [{
            "mutation_id": uuid::Uuid::now_v7(), "entity": "person", "id": PERSON,
            "op": "update", "base_version": 2, "fields": { "alias": alias },
        }]})
    };
    app.post("/v1/sync/push", &worker, edit("Gareth")).await.ok();
    let clash = app.post("/v1/sync/push", &worker, edit("Gaz M")).await;
    let conflict = clash.ok()["results"][0]["conflict_id"].as_str().unwrap().to_owned();
    let resolve = format!("/v1/sync/conflicts/{conflict}/resolve");
    press(&app, &spec, &worker, "resolve_conflict", post, &resolve, None).await;
}
