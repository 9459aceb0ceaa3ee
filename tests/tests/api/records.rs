//! The field records over REST: the same engine as sync, with ETags,
//! `If-Match`, idempotent creates, keyset pages and the sync feed's scope.

use outpost_tests::{Answer, Auth, TestApp, db::count, device::contact_fields, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

fn etag(answer: &Answer) -> String {
    answer.headers.get("etag").expect("an ETag").to_str().unwrap().to_owned()
}

async fn patch_if_match(
    app: &TestApp,
    path: &str,
    token: &str,
    if_match: Option<&str>,
    body: Value,
) -> Answer {
    let token = token.to_owned();
    let path = path.to_owned();
    let if_match = if_match.map(str::to_owned);
    app.raw(move |client, base| {
        let mut request = client.patch(format!("{base}{path}")).bearer_auth(token).json(&body);
        if let Some(tag) = if_match {
            request = request.header("If-Match", tag);
        }
        request
    })
    .await
}

fn new_contact(site: Option<&str>, person: Option<Uuid>) -> Value {
    let mut body = contact_fields(site, person);
    body["id"] = json!(Uuid::now_v7());
    body
}

async fn my_site(app: &TestApp, token: &str) -> String {
    app.get("/v1/me", token).await.ok()["sites"][0]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_person_is_created_read_with_an_etag_and_edited_with_if_match() {
    let app = spawn_app().await;
    app.load_demo().await;
    let worker = app.login("worker1@demo.outpost.test").await;
    let id = Uuid::now_v7();
    let created = app
        .post(
            "/v1/persons",
            &worker,
            json!({ "id": id, "alias": "Gaz", "initials": "gm", "birth_year": 1984 }),
        )
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    assert_eq!(etag(&created), "\"1\"");
    assert_eq!(created.body["initials"], "GM");

    let got = app.get(&format!("/v1/persons/{id}"), &worker).await;
    assert_eq!(got.ok()["alias"], "Gaz");
    assert_eq!(etag(&got), "\"1\"");
    assert_eq!(count(&app, "audit_events WHERE action = 'person.read'").await, 1);

    let path = format!("/v1/persons/{id}");
    let edited =
        patch_if_match(&app, &path, &worker, Some("\"1\""), json!({ "alias": "Gary" })).await;
    assert_eq!(edited.ok()["alias"], "Gary", "{}", edited.text);
    assert_eq!(edited.body["version"], 2);
    assert_eq!(etag(&edited), "\"2\"");

    // A stale ETag changes nothing.
    let stale =
        patch_if_match(&app, &path, &worker, Some("\"1\""), json!({ "alias": "Stale" })).await;
    stale.assert_problem(412, "version_mismatch");
    let after = app.get(&path, &worker).await;
    assert_eq!(after.ok()["alias"], "Gary");
    assert_eq!(etag(&after), "\"2\"");

    // Clearing a field with null; missing and malformed If-Match are 400.
    let cleared =
        patch_if_match(&app, &path, &worker, Some("\"2\""), json!({ "alias": null })).await;
    assert_eq!(cleared.ok()["alias"], Value::Null, "{}", cleared.text);
    patch_if_match(&app, &path, &worker, None, json!({ "alias": "X" }))
        .await
        .assert_problem(400, "if_match_required");
    for malformed in ["W/\"abc\"", "*", "\"0\"", "\"2\", \"3\""] {
        patch_if_match(&app, &path, &worker, Some(malformed), json!({ "alias": "X" }))
            .await
            .assert_problem(400, "invalid_if_match");
    }
    // A bare version is taken as the quoted one.
    let bare = patch_if_match(&app, &path, &worker, Some("3"), json!({ "alias": "Bare" })).await;
    assert_eq!(bare.ok()["alias"], "Bare", "{}", bare.text);
}

#[tokio::test]
async fn posting_the_same_person_id_twice_stores_one_and_answers_200() {
    let app = spawn_app().await;
    app.load_demo().await;
    let worker = app.login("worker1@demo.outpost.test").await;
    let body = json!({ "id": Uuid::now_v7(), "alias": "Mo" });
    let first = app.post("/v1/persons", &worker, body.clone()).await;
    assert_eq!(first.status.as_u16(), 201, "{}", first.text);
    let second = app.post("/v1/persons", &worker, body).await;
    assert_eq!(second.status.as_u16(), 200, "{}", second.text);
    assert_eq!(second.body["id"], first.body["id"]);
    assert_eq!(etag(&second), "\"1\"");
    assert_eq!(count(&app, "persons").await, 1);
}

#[tokio::test]
async fn contacts_page_by_id_without_repeats_and_filter_by_person() {
    let app = spawn_app().await;
    app.load_demo().await;
    let worker = app.login("worker1@demo.outpost.test").await;
    let site = my_site(&app, &worker).await;
    let person = Uuid::now_v7();
    app.post("/v1/persons", &worker, json!({ "id": person, "alias": "Jo" })).await.ok();
    let mut created = Vec::new();
    for i in 0..7 {
        let body = new_contact(Some(&site), (i % 3 == 0).then_some(person));
        let answer = app.post("/v1/contacts", &worker, body).await;
        assert_eq!(answer.status.as_u16(), 201, "{}", answer.text);
        assert_eq!(answer.body["kit_lines"].as_array().unwrap().len(), 2);
        created.push(answer.body["id"].as_str().unwrap().to_owned());
    }

    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/v1/contacts?limit=3&after={a}"),
            None => "/v1/contacts?limit=3".to_owned(),
        };
        let page = app.get(&path, &worker).await;
        let items = page.ok()["items"].as_array().unwrap().clone();
        sizes.push(items.len());
        seen.extend(items.iter().map(|c| c["id"].as_str().unwrap().to_owned()));
        match page.body["next_after"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(sizes, vec![3, 3, 1]);
    assert_eq!(seen, created, "every contact once, in creation order");

    let mine = app.get(&format!("/v1/contacts?person_id={person}"), &worker).await;
    let mine = mine.ok()["items"].as_array().unwrap().clone();
    assert_eq!(mine.len(), 3);
    assert!(mine.iter().all(|c| c["person_id"] == json!(person)));

    // A deleted contact is never listed, and GET answers 404.
    let gone = &created[0];
    let deleted = app.delete(&format!("/v1/contacts/{gone}"), &worker).await;
    assert_eq!(deleted.status.as_u16(), 204, "{}", deleted.text);
    app.get(&format!("/v1/contacts/{gone}"), &worker).await.assert_problem(404, "not_found");
    let all = app.get("/v1/contacts", &worker).await;
    assert_eq!(all.ok()["items"].as_array().unwrap().len(), 6);
    assert!(app.get("/v1/contacts?limit=0", &worker).await.status.is_client_error());
}

#[tokio::test]
async fn a_worker_cannot_read_a_contact_of_a_site_they_do_not_work_at() {
    let app = spawn_app().await;
    app.load_demo().await;
    let manager = app.login("manager@demo.outpost.test").await;
    let worker1 = app.login("worker1@demo.outpost.test").await;
    let worker2 = app.login("worker2@demo.outpost.test").await;
    let site = my_site(&app, &worker1).await;
    let created = app.post("/v1/contacts", &manager, new_contact(Some(&site), None)).await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    let id = created.body["id"].as_str().unwrap();
    let path = format!("/v1/contacts/{id}");

    app.get(&path, &worker2).await.assert_problem(404, "not_found");
    assert!(app.get("/v1/contacts", &worker2).await.ok()["items"].as_array().unwrap().is_empty());
    assert_eq!(app.get(&path, &worker1).await.ok()["id"], json!(id));
    let seen = app.get(&path, &manager).await;
    assert_eq!(seen.ok()["id"], json!(id));
    assert_eq!(etag(&seen), "\"1\"");
}

#[tokio::test]
async fn another_organisations_records_answer_404() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login("admin@demo.outpost.test").await;
    let other = app.other_organisation("elsewhere").await;
    let person = Uuid::now_v7();
    app.post("/v1/persons", &admin, json!({ "id": person })).await.ok();
    let contact = app.post("/v1/contacts", &admin, new_contact(None, Some(person))).await;
    let contact = contact.ok()["id"].as_str().unwrap().to_owned();

    app.get(&format!("/v1/persons/{person}"), &other).await.assert_problem(404, "not_found");
    app.get(&format!("/v1/contacts/{contact}"), &other).await.assert_problem(404, "not_found");
    app.delete(&format!("/v1/contacts/{contact}"), &other).await.assert_problem(404, "not_found");
    patch_if_match(&app, &format!("/v1/persons/{person}"), &other, Some("\"1\""), json!({}))
        .await
        .assert_problem(404, "not_found");
    assert!(app.get("/v1/persons", &other).await.ok()["items"].as_array().unwrap().is_empty());
    // Reusing the other organisation's id for a create is refused.
    app.post("/v1/persons", &other, json!({ "id": person })).await.assert_problem(409, "id_taken");
}

#[tokio::test]
async fn an_api_key_with_records_read_can_read_but_not_write() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login("admin@demo.outpost.test").await;
    let created = app
        .post("/v1/api-keys", &admin, json!({ "name": "Reports", "scopes": ["records:read"] }))
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    let key = created.body["key"].as_str().unwrap().to_owned();

    let listed = app.call(Method::GET, "/v1/contacts", Auth::ApiKey(&key), None).await;
    assert!(listed.ok()["items"].is_array());
    app.call(
        Method::POST,
        "/v1/persons",
        Auth::ApiKey(&key),
        Some(json!({ "id": Uuid::now_v7() })),
    )
    .await
    .assert_problem(403, "forbidden");
    assert_eq!(count(&app, "persons").await, 0);
}

#[tokio::test]
async fn a_validation_error_names_the_field() {
    let app = spawn_app().await;
    app.load_demo().await;
    let worker = app.login("worker1@demo.outpost.test").await;
    let site = my_site(&app, &worker).await;
    let mut body = new_contact(Some(&site), None);
    body["kit_lines"][0]["quantity"] = json!(-1);
    // The bound is in the schema (minimum 1): refused as the body is read,
    // naming the field.
    let refused = app.post("/v1/contacts", &worker, body).await;
    assert_eq!(refused.assert_problem(400, "invalid_body")["field"], "kit_lines[0].quantity");
    assert_eq!(count(&app, "contacts").await, 0);

    let mut unknown = new_contact(Some(&site), None);
    unknown["kit_lines"][0]["item"] = json!("unknown_widget");
    let refused = app.post("/v1/contacts", &worker, unknown).await;
    assert_eq!(refused.assert_problem(422, "unknown_kit_item")["field"], "kit_lines[0].item");
}

#[tokio::test]
async fn a_referral_is_edited_with_if_match_and_moves_by_steps() {
    let app = spawn_app().await;
    app.load_demo().await;
    let worker = app.login("worker1@demo.outpost.test").await;
    let person = Uuid::now_v7();
    app.post("/v1/persons", &worker, json!({ "id": person })).await.ok();
    let id = Uuid::now_v7();
    let created = app
        .post(
            "/v1/referrals",
            &worker,
            json!({
                "id": id,
                "person_id": person,
                "occurred_at": "2026-11-20T09:00:00Z",
                "service_type": "housing",
                "reason": "Needs a hostel bed",
                "consent_to_share": true
            }),
        )
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    assert_eq!(created.body["status"], "draft");

    let path = format!("/v1/referrals/{id}");
    let edited =
        patch_if_match(&app, &path, &worker, Some("\"1\""), json!({ "urgency": "urgent" })).await;
    assert_eq!(edited.ok()["urgency"], "urgent", "{}", edited.text);
    assert_eq!(etag(&edited), "\"2\"");
    patch_if_match(&app, &path, &worker, Some("\"1\""), json!({ "reason": "Other" }))
        .await
        .assert_problem(412, "version_mismatch");

    let step = app
        .post(
            &format!("{path}/steps"),
            &worker,
            json!({ "id": Uuid::now_v7(), "status": "sent", "occurred_at": "2026-11-20T10:00:00Z" }),
        )
        .await;
    assert_eq!(step.status.as_u16(), 201, "{}", step.text);
    let referral = app.get(&path, &worker).await;
    assert_eq!(referral.ok()["status"], "sent");
    let sent = app.get(&format!("/v1/referrals?status=sent&person_id={person}"), &worker).await;
    assert_eq!(sent.ok()["items"].as_array().unwrap().len(), 1);
    let drafts = app.get("/v1/referrals?status=draft", &worker).await;
    assert!(drafts.ok()["items"].as_array().unwrap().is_empty());

    // The steps, listed in the order they happened (a step recorded late,
    // of 09:30, comes before the 10:00 one); 404 to another organisation.
    let late =
        json!({ "id": Uuid::now_v7(), "status": "sent", "occurred_at": "2026-11-20T09:30:00Z" });
    app.post(&format!("{path}/steps"), &worker, late).await.ok();
    let steps = app.get(&format!("{path}/steps"), &worker).await;
    let times: Vec<&str> = steps.ok()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["occurred_at"].as_str().unwrap())
        .collect();
    assert_eq!(
        times,
        ["2026-11-20T09:00:00+00:00", "2026-11-20T09:30:00+00:00", "2026-11-20T10:00:00+00:00"],
        "{}",
        steps.text
    );
    let stranger = app.other_organisation("elsewhere").await;
    app.get(&format!("{path}/steps"), &stranger).await.assert_problem(404, "not_found");
}

#[tokio::test]
async fn incidents_are_recorded_listed_and_deleted() {
    let app = spawn_app().await;
    app.load_demo().await;
    let worker = app.login("worker1@demo.outpost.test").await;
    let site = my_site(&app, &worker).await;
    let id = Uuid::now_v7();
    let created = app
        .post(
            "/v1/incidents",
            &worker,
            json!({
                "id": id,
                "occurred_at": "2026-11-20T22:00:00Z",
                "site_id": site,
                "incident_type": "suspected_overdose",
                "severity": "serious",
                "people": [{ "unknown_party": "man in his 30s" }],
                "naloxone_doses": 2
            }),
        )
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    assert_eq!(etag(&created), "\"1\"");
    let listed = app.get(&format!("/v1/incidents?site_id={site}"), &worker).await;
    assert_eq!(listed.ok()["items"].as_array().unwrap().len(), 1);
    for (query, expected) in [
        ("occurred_from=2026-11-20T21:00:00Z", 1),
        ("occurred_from=2026-11-20T22:00:00Z", 1),
        ("occurred_from=2026-11-20T22:00:01Z", 0),
        ("occurred_to=2026-11-20T22:00:00Z", 0),
        ("occurred_to=2026-11-20T22:00:01Z", 1),
    ] {
        let page = app.get(&format!("/v1/incidents?{query}"), &worker).await;
        assert_eq!(page.ok()["items"].as_array().unwrap().len(), expected, "{query}");
    }
    let path = format!("/v1/incidents/{id}");
    assert_eq!(app.delete(&path, &worker).await.status.as_u16(), 204);
    assert_eq!(app.delete(&path, &worker).await.status.as_u16(), 204, "idempotent");
    app.get(&path, &worker).await.assert_problem(404, "not_found");
}
