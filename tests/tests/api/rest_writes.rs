//! REST writes: one mutation through the engine, answered with the record
//! read in the same transaction, and the record checks a user runs into.

use outpost_tests::{
    device::contact_fields,
    outpost_api::{
        caller::Actor, domain::Role, error::ApiError, http::records, service::ServiceError,
        sync::EntityKind,
    },
    spawn_app,
};
use sea_orm::{ConnAcquireErr, DbErr};
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// Bug: the create handlers read the record back after the commit and
/// answered any failure of that read as 409 `id_taken` ("generate a new
/// UUID"), which invites a duplicate. The answer is now read in the same
/// transaction: a storage hiccup there is 503 with `Retry-After`, and
/// nothing is committed, so the retry creates the record.
#[tokio::test]
async fn a_storage_failure_reading_a_created_record_back_is_503_and_commits_nothing() {
    let app = spawn_app().await;
    app.load_demo().await;
    let worker = app.login("worker1@demo.outpost.test").await;
    let me = app.get("/v1/me", &worker).await.ok().clone();
    let actor = Actor {
        organisation_id: me["organisation"]["id"].as_str().unwrap().parse().unwrap(),
        user_id: Some(me["user"]["id"].as_str().unwrap().parse().unwrap()),
        device_id: None,
        api_key_id: None,
        role: Some(Role::Worker),
        site_ids: Vec::new(),
    };
    let id = Uuid::now_v7();
    let mut fields = Map::new();
    fields.insert("alias".into(), json!("Gaz"));

    // The create is applied; reading its answer fails as a storage hiccup.
    let written = records::create(&app.state, &actor, EntityKind::Person, id, fields.clone())
        .await
        .expect("the create is applied");
    let hiccup = ServiceError::Db(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout));
    match written.answer::<Value>(Err(hiccup), records::id_taken).await {
        Err(ApiError::Unavailable(problem, retry_after)) => {
            assert_eq!(problem.0.code, "service_unavailable");
            assert!(retry_after >= 1);
        }
        Err(other) => panic!("a hiccup must be 503, not {other:?}"),
        Ok(_) => panic!("a failed read cannot answer a record"),
    }
    app.get(&format!("/v1/persons/{id}"), &worker).await.assert_problem(404, "not_found");

    // The client retries: the person is created now, not found existing.
    let written = records::create(&app.state, &actor, EntityKind::Person, id, fields)
        .await
        .expect("the retry is applied");
    assert!(!written.existed(), "the failed create committed the person");
    written.answer(Ok(()), records::id_taken).await.expect("committed");
    let got = app.get(&format!("/v1/persons/{id}"), &worker).await.ok().clone();
    assert_eq!(got["alias"], "Gaz");
}

/// Bug: two street names of one substance ("Spice" and "Mamba") refused a
/// whole offline contact as "lists a substance twice". They are one
/// substance: they collapse into its code, known by the stronger way.
#[tokio::test]
async fn two_street_names_for_one_substance_collapse_into_its_code() {
    let app = spawn_app().await;
    app.load_demo().await;
    let worker = app.login("worker1@demo.outpost.test").await;
    let site = app.get("/v1/me", &worker).await.ok()["sites"][0]["id"].as_str().unwrap().to_owned();
    let mut fields = contact_fields(Some(&site), None);
    fields["substances"] = json!([
        { "substance": "Spice", "known_by": "self_reported" },
        { "substance": "Mamba", "known_by": "observed" },
        { "substance": "heroin" },
    ]);
    let id = Uuid::now_v7();
    let pushed = app
        .post(
            "/v1/sync/push",
            &worker,
            json!({ "mutations": [{
                "mutation_id": Uuid::now_v7(),
                "entity": "contact",
                "id": id,
                "op": "create",
                "fields": fields,
            }]}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(pushed["results"][0]["status"], "applied", "{pushed}");
    let contact = app.get(&format!("/v1/contacts/{id}"), &worker).await.ok().clone();
    assert_eq!(
        contact["substances"],
        json!([
            { "substance": "synthetic_cannabinoid", "known_by": "observed" },
            { "substance": "heroin", "known_by": "self_reported" },
        ])
    );
}

/// `If-Match` is required on an edit, as the spec says: without it the
/// answer is 400 `if_match_required` naming the header, and nothing changes.
#[tokio::test]
async fn an_edit_without_if_match_is_refused_naming_the_header() {
    let app = spawn_app().await;
    app.load_demo().await;
    let worker = app.login("worker1@demo.outpost.test").await;
    let id = Uuid::now_v7();
    app.post("/v1/persons", &worker, json!({ "id": id, "alias": "Gaz" })).await.ok();
    let answer = app.patch(&format!("/v1/persons/{id}"), &worker, json!({ "alias": "G" })).await;
    let problem = answer.assert_problem(400, "if_match_required");
    assert_eq!(problem["field"], "If-Match");
    let spec: Value = serde_json::from_str(&outpost_tests::outpost_api::http::spec_json()).unwrap();
    let params = spec["paths"]["/v1/persons/{id}"]["patch"]["parameters"].as_array().unwrap();
    let if_match = params.iter().find(|p| p["name"] == "If-Match").unwrap();
    assert_eq!(if_match["required"], true, "the spec must say what the server does");
    assert_eq!(app.get(&format!("/v1/persons/{id}"), &worker).await.ok()["alias"], "Gaz");
}
