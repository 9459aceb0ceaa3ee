//! A push's typed envelope: each mutation's fields are checked against its
//! kind's schema on their own, and the envelope's `occurred_at` still
//! stands in for a create's.

use outpost_tests::{demo::WORKER1, device::contact_fields, spawn_app};
use serde_json::{Value, json};
use uuid::Uuid;

fn mutation(entity: &str, fields: Value) -> Value {
    json!({
        "mutation_id": Uuid::now_v7(),
        "entity": entity,
        "id": Uuid::now_v7(),
        "op": "create",
        "fields": fields,
    })
}

/// Bug: with typed fields, a contact whose time came only in the envelope
/// (`occurred_at` beside `fields`) was refused as missing its required
/// `occurred_at`; the envelope's time fills it in before the check.
#[tokio::test]
async fn the_envelope_time_stands_in_for_a_create_without_one() {
    let app = spawn_app().await;
    app.load_demo().await;
    let worker = app.login(WORKER1).await;
    let mut fields = contact_fields(None, None);
    fields.as_object_mut().unwrap().remove("occurred_at");
    let mut contact = mutation("contact", fields);
    contact["occurred_at"] = json!("2026-11-30T21:05:00Z");
    let pushed = app.post("/v1/sync/push", &worker, json!({ "mutations": [contact] })).await;
    let result = &pushed.ok()["results"][0];
    assert_eq!(result["status"], "applied", "{result}");
    let got = app.get(&format!("/v1/contacts/{}", contact["id"].as_str().unwrap()), &worker).await;
    let at: chrono::DateTime<chrono::Utc> =
        got.ok()["occurred_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(at, "2026-11-30T21:05:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap());
}

/// Fields that do not fit refuse only their mutation, naming the field:
/// a missing one `is required`, a field the kind does not have is
/// `unknown_field` (as the rejection codes promise), and the valid
/// mutation between them is applied.
#[tokio::test]
async fn fields_that_do_not_fit_refuse_their_mutation_naming_the_field() {
    let app = spawn_app().await;
    app.load_demo().await;
    let worker = app.login(WORKER1).await;
    let mut misspelled = contact_fields(None, None);
    misspelled["ocurred_at"] = misspelled["occurred_at"].clone();
    let batch = json!({ "mutations": [
        mutation("referral_step", json!({ "status": "sent", "occurred_at": "2026-11-30T21:05:00Z" })),
        mutation("contact", contact_fields(None, None)),
        mutation("contact", misspelled),
    ]});
    let pushed = app.post("/v1/sync/push", &worker, batch).await;
    let results = pushed.ok()["results"].as_array().unwrap().clone();
    let problem = |i: usize| results[i]["problem"].clone();

    assert_eq!(results[0]["status"], "rejected");
    assert_eq!(problem(0)["code"], "validation_failed");
    assert_eq!(problem(0)["field"], "referral_id");
    assert_eq!(problem(0)["detail"], "is required");

    assert_eq!(results[1]["status"], "applied", "{}", results[1]);

    assert_eq!(results[2]["status"], "rejected");
    assert_eq!(problem(2)["code"], "unknown_field");
    assert_eq!(problem(2)["field"], "ocurred_at");
}
