//! Regressions from fuzzing the API from its spec (`.ci/fuzz.sh`,
//! Schemathesis): each answer must be what the spec says.

use outpost_tests::spawn_app;
use serde_json::{Value, json};

/// A number or boolean sent for a `type: string` field was stored as its
/// text (`"unit": false` became the unit "false"); it is now refused.
#[tokio::test]
async fn a_number_or_boolean_for_a_text_field_is_refused() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login("admin@demo.outpost.test").await;
    let sites = app.get("/v1/sites", &admin).await;
    let site = sites.ok()["items"][0]["id"].as_str().unwrap().to_owned();
    let kits = app.get("/v1/kit-items", &admin).await;
    let kit = kits.ok()["items"][0].clone();
    let kit_id = kit["id"].as_str().unwrap();
    let substances = app.get("/v1/substances", &admin).await;
    let substance = substances.ok()["items"][0]["id"].as_str().unwrap().to_owned();

    for (path, body) in [
        (format!("/v1/sites/{site}"), json!({ "area": false })),
        (format!("/v1/kit-items/{kit_id}"), json!({ "unit": 12 })),
        (format!("/v1/substances/{substance}"), json!({ "aliases": ["Spice", false] })),
    ] {
        app.patch(&path, &admin, body).await.assert_problem(400, "invalid_body");
    }
    app.post("/v1/sites", &admin, json!({ "name": 42, "kind": "van" }))
        .await
        .assert_problem(400, "invalid_body");
    let alias_numbers =
        json!({ "code": "x_test", "name": "Test", "category": "opioid", "aliases": [1, true] });
    app.post("/v1/substances", &admin, alias_numbers).await.assert_problem(400, "invalid_body");
    // The same body with text aliases is accepted, so the refusal above was
    // about the aliases.
    let aliases =
        json!({ "code": "x_test", "name": "Test", "category": "opioid", "aliases": ["tx"] });
    app.post("/v1/substances", &admin, aliases).await.ok();
    // Nothing was stored.
    let after = app.get(&format!("/v1/kit-items/{kit_id}"), &admin).await;
    assert_eq!(after.ok()["unit"], kit["unit"]);
    // Strings and null still work.
    app.patch(&format!("/v1/sites/{site}"), &admin, json!({ "area": "Camden" })).await.ok();
    app.patch(&format!("/v1/sites/{site}"), &admin, json!({ "name": null })).await.ok();
}

/// A 405 must say which methods the resource has (RFC 9110 §15.5.6).
#[tokio::test]
async fn a_method_not_allowed_names_the_allowed_methods() {
    let app = spawn_app().await;
    let answer = app
        .raw(|c, base| {
            c.request(reqwest::Method::TRACE, format!("{base}/v1/sites/{}", uuid::Uuid::nil()))
        })
        .await;
    assert_eq!(answer.status, 405);
    assert_eq!(answer.headers["allow"], "DELETE, GET, PATCH");
    let answer = app.raw(|c, base| c.put(format!("{base}/v1/sites"))).await;
    assert_eq!(answer.status, 405);
    assert_eq!(answer.headers["allow"], "GET, POST");
}

/// Page sizes are bounded in the spec, not only in the handler, so a client
/// knows the range; out of range is a 400 `invalid_parameter`.
#[tokio::test]
async fn page_sizes_are_bounded_in_the_spec() {
    let app = spawn_app().await;
    app.load_demo().await;
    let spec: Value = serde_json::from_str(&outpost_api::http::spec_json()).unwrap();
    for (path, max) in [
        ("/v1/persons", 200),
        ("/v1/contacts", 200),
        ("/v1/incidents", 200),
        ("/v1/referrals", 200),
        ("/v1/sync/conflicts", 200),
        ("/v1/sync/pull", 1000),
    ] {
        let limit = spec["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .unwrap()["schema"]
            .clone();
        assert_eq!(limit["minimum"].as_f64(), Some(1.0), "{path}");
        assert_eq!(limit["maximum"].as_f64(), Some(f64::from(max)), "{path}");
    }
    let worker = app.login("worker1@demo.outpost.test").await;
    app.get("/v1/contacts?limit=0", &worker).await.assert_problem(400, "invalid_parameter");
    app.get("/v1/sync/pull?limit=1001", &worker).await.assert_problem(400, "invalid_parameter");
}

/// Optional request fields accept `null` (it means "not given"), and the
/// spec says so.
#[tokio::test]
async fn optional_request_fields_are_nullable_in_the_spec() {
    let spec: Value = serde_json::from_str(&outpost_api::http::spec_json()).unwrap();
    let update_site = &spec["components"]["schemas"]["UpdateSite"]["properties"];
    assert_eq!(update_site["name"]["nullable"], true);
    let login = &spec["components"]["schemas"]["LoginRequest"]["properties"];
    assert_eq!(login["device"]["nullable"], true);
}
