//! Values at the edges of what the database holds: times far outside the
//! years a record can have (Postgres cannot compare year -5000: a 500),
//! and a street name whose lower-case key is longer than the name (the key
//! column once had the name's length limit: a 500).

use outpost_tests::{
    device::{Device, contact_fields},
    spawn_app,
};
use serde_json::json;

use super::support::{
    ADMIN, MANAGER, WORKER1, WORKER1_SITE, assert_consistent, incident_fields, sites,
};

/// `occurred_from` / `occurred_to` outside 1900-2200 (Postgres cannot
/// compare year -5000: once a 500, then a 400) select what the nearest
/// bound of those years does, since no record lies outside them: from
/// year -5000 or to year 200000 lists everything, to 1899 or from 2201
/// nothing. An API key expiring in 2300 is 422 naming `expires_at`.
#[tokio::test]
async fn time_filters_outside_the_years_select_as_their_bound_and_key_expiry_is_refused() {
    let app = spawn_app().await;
    app.load_demo().await;
    let worker = app.login(WORKER1).await;
    let site = sites(&app, &worker).await[WORKER1_SITE].clone();
    let mut phone = Device::sign_in(&app, WORKER1).await;
    phone.create("contact", contact_fields(Some(&site), None));
    phone.create("incident", incident_fields(&site));
    for result in phone.push(&app).await {
        assert_eq!(result["status"], "applied", "{result}");
    }
    // `+` is written %2B: in a query string it would be a space.
    let everything = [
        ("occurred_from", "-5000-01-01T00:00:00Z"),
        ("occurred_to", "%2B200000-01-01T00:00:00Z"),
        ("occurred_from", "1899-12-31T23:59:59Z"),
        ("occurred_to", "2201-01-01T00:00:00Z"),
    ];
    let nothing =
        [("occurred_to", "1899-12-31T23:59:59Z"), ("occurred_from", "2201-01-01T00:00:00Z")];
    for list in ["/v1/incidents", "/v1/contacts"] {
        let all = app.get(&format!("{list}?limit=200"), &worker).await.ok()["items"].clone();
        assert!(!all.as_array().unwrap().is_empty(), "{list}: one was pushed");
        for (name, at) in everything {
            let answer = app.get(&format!("{list}?limit=200&{name}={at}"), &worker).await;
            assert_eq!(answer.ok()["items"], all, "{list}?{name}={at}");
        }
        for (name, at) in nothing {
            let answer = app.get(&format!("{list}?{name}={at}"), &worker).await;
            assert_eq!(answer.ok()["items"], json!([]), "{list}?{name}={at}");
        }
    }

    let admin = app.login(ADMIN).await;
    let key = |expires_at: &str| json!({ "name": "Returns", "scopes": ["records:read"], "expires_at": expires_at });
    let refused = app.post("/v1/api-keys", &admin, key("2300-01-01T00:00:00Z")).await;
    assert_eq!(refused.assert_problem(422, "validation_failed")["field"], "expires_at");
    let created = app.post("/v1/api-keys", &admin, key("2099-01-01T00:00:00Z")).await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
}

/// "İ" lower-cases to two characters ("i" and a combining dot): sixty of
/// them, the longest street name, make a 120-character key. The substance
/// is created; a second one claiming the name is 409 `alias_taken`.
#[tokio::test]
async fn a_street_name_that_lengthens_when_lower_cased_is_kept() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login(ADMIN).await;
    let name = "İ".repeat(60);
    assert!(name.to_lowercase().chars().count() > 100, "the key is longer than the name");
    let substance = |code: &str, alias: &str| json!({ "code": code, "name": code, "category": "other", "aliases": [alias] });
    let created = app.post("/v1/substances", &admin, substance("dotted", &name)).await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    assert_eq!(created.body["aliases"], json!([name]));

    let taken = app.post("/v1/substances", &admin, substance("dotted_again", &name)).await;
    assert_eq!(taken.assert_problem(409, "alias_taken")["field"], "aliases", "{}", taken.text);
    let manager = app.login(MANAGER).await;
    let listed = app.get("/v1/substances", &manager).await;
    let holders = listed.ok()["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|s| s["aliases"].as_array().is_some_and(|a| a.iter().any(|a| a == &json!(name))))
        .count();
    assert_eq!(holders, 1, "one substance holds the name");
    assert_consistent(&app).await;
}
