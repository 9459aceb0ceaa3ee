//! Identifiers (NHS number, CHAIN id) belong to managers and admins: a
//! worker may neither write them (by push or REST) nor read them back
//! through a conflict, a replayed push answer or the feed. And a deleted
//! person leaves nothing readable behind in its conflicts.

use outpost_tests::{
    PASSWORD, TestApp,
    device::{Device, mutation},
    spawn_app,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::support::{ADMIN, MANAGER, NHS, WORKER1, assert_rejected, results, user_id};

/// A worker's push carrying an identifier is refused, field by field, and
/// the rest of the batch still applies.
#[tokio::test]
async fn a_worker_cannot_push_an_identifier() {
    let app = spawn_app().await;
    app.load_demo().await;
    let mut phone = Device::sign_in(&app, WORKER1).await;
    let plain = phone.create("person", json!({ "alias": "Finch" }));
    assert_eq!(phone.push(&app).await[0]["status"], "applied");

    let (with_nhs, with_chain) = (Uuid::now_v7(), Uuid::now_v7());
    let batch = vec![
        mutation("person", with_nhs, "create", None, json!({ "alias": "A", "nhs_number": NHS[0] })),
        mutation("person", with_chain, "create", None, json!({ "alias": "B", "chain_id": "CH1" })),
        mutation("person", plain, "update", Some(1), json!({ "nhs_number": NHS[1] })),
        mutation("person", plain, "update", Some(1), json!({ "chain_id": "CH2" })),
        mutation("person", plain, "update", Some(1), json!({ "description": "Green coat" })),
    ];
    let results = results(&phone.push_raw(&app, batch).await);
    assert_rejected(&results[0], "field_forbidden", "nhs_number");
    assert_rejected(&results[1], "field_forbidden", "chain_id");
    assert_rejected(&results[2], "field_forbidden", "nhs_number");
    assert_rejected(&results[3], "field_forbidden", "chain_id");
    assert_eq!(results[4]["status"], "applied", "the rest of the batch applies: {}", results[4]);

    // Nothing of the refused mutations was stored.
    let manager = app.login(MANAGER).await;
    for id in [with_nhs, with_chain] {
        app.get(&format!("/v1/persons/{id}"), &manager).await.assert_problem(404, "not_found");
    }
    let stored = app.get(&format!("/v1/persons/{plain}"), &manager).await;
    assert_eq!(stored.ok()["nhs_number"], Value::Null);
    assert_eq!(stored.body["chain_id"], Value::Null);
    assert_eq!(stored.body["description"], "Green coat");
}

/// The REST doors refuse the same: 403 `field_forbidden` naming the field;
/// a worker's create without identifiers and a manager's edit with them
/// still work, so the refusals are about the identifiers.
#[tokio::test]
async fn a_worker_cannot_write_an_identifier_over_rest() {
    let app = spawn_app().await;
    app.load_demo().await;
    let worker = app.login(WORKER1).await;
    let manager = app.login(MANAGER).await;

    let plain = Uuid::now_v7();
    let created = app.post("/v1/persons", &worker, json!({ "id": plain, "alias": "Finch" })).await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);

    for (field, value) in [("nhs_number", NHS[0]), ("chain_id", "CH1")] {
        let id = Uuid::now_v7();
        let body = json!({ "id": id, "alias": "Lark", field: value });
        let answer = app.post("/v1/persons", &worker, body).await;
        assert_eq!(answer.assert_problem(403, "field_forbidden")["field"], field);
        app.get(&format!("/v1/persons/{id}"), &manager).await.assert_problem(404, "not_found");

        let answer = app
            .raw(|c, base| {
                c.patch(format!("{base}/v1/persons/{plain}"))
                    .bearer_auth(&worker)
                    .header("if-match", "\"1\"")
                    .json(&json!({ field: value }))
            })
            .await;
        assert_eq!(answer.assert_problem(403, "field_forbidden")["field"], field);
    }
    let stored = app.get(&format!("/v1/persons/{plain}"), &manager).await;
    assert_eq!(stored.ok()["version"], 1, "the refused edits changed nothing");

    let answer = app
        .raw(|c, base| {
            c.patch(format!("{base}/v1/persons/{plain}"))
                .bearer_auth(&manager)
                .header("if-match", "\"1\"")
                .json(&json!({ "nhs_number": NHS[0], "chain_id": "CH1" }))
        })
        .await;
    assert_eq!(answer.ok()["nhs_number"], NHS[0], "a manager may write identifiers");
}

/// A conflict on identifiers, raised by a manager who is then made a
/// worker: the conflict stays theirs, but no view of it (one, the list, the
/// feed) shows an identifier any more.
#[tokio::test]
async fn a_conflict_never_shows_identifiers_to_a_worker() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login(ADMIN).await;
    let lead = "lead@demo.outpost.test";
    let account = json!({
        "email": lead, "display_name": "Team Lead", "role": "manager", "password": PASSWORD,
    });
    let created = app.post("/v1/users", &admin, account).await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);

    let mut desk = Device::sign_in(&app, MANAGER).await;
    let mut lead_phone = Device::sign_in(&app, lead).await;
    let fields = json!({ "alias": "Wren", "nhs_number": NHS[0], "chain_id": "CHN-AAA111" });
    let person = desk.create("person", fields);
    assert_eq!(desk.push(&app).await[0]["status"], "applied");
    lead_phone.pull(&app).await;

    // Both start from version 1 and change the same fields.
    let theirs = json!({ "alias": "Wren D", "nhs_number": NHS[1], "chain_id": "CHN-BBB222" });
    desk.outbox.push(mutation("person", person, "update", Some(1), theirs));
    assert_eq!(desk.push(&app).await[0]["status"], "applied");
    lead_phone.update(
        "person",
        person,
        json!({ "alias": "Wren L", "nhs_number": NHS[2], "chain_id": "CHN-CCC333" }),
    );
    let result = lead_phone.push(&app).await[0].clone();
    assert_eq!(result["status"], "conflict", "{result}");
    let conflict = result["conflict_id"].as_str().unwrap().to_owned();
    // While a manager, the lead sees the identifiers in conflict.
    let as_manager = app.get(&format!("/v1/sync/conflicts/{conflict}"), &lead_phone.token).await;
    assert!(
        as_manager.ok()["fields"].as_array().unwrap().iter().any(|f| f["field"] == "nhs_number")
    );

    let lead_id = user_id(&app, &admin, lead).await;
    app.patch(&format!("/v1/users/{lead_id}"), &admin, json!({ "role": "worker" })).await.ok();
    let mut worker_phone = Device::sign_in(&app, lead).await;

    let secrets = [NHS[0], NHS[1], NHS[2], "CHN-AAA111", "CHN-BBB222", "CHN-CCC333"];
    for token in [&lead_phone.token, &worker_phone.token] {
        let one = app.get(&format!("/v1/sync/conflicts/{conflict}"), token).await;
        assert_no_identifiers(one.ok(), &one.text, &secrets, "GET /v1/sync/conflicts/{id}");
        let list = app.get("/v1/sync/conflicts", token).await;
        let item = list.ok()["items"].as_array().unwrap().iter().find(|c| c["id"] == conflict);
        let item = item.expect("the conflict is still listed for its raiser").clone();
        assert_no_identifiers(&item, &list.text, &secrets, "GET /v1/sync/conflicts");
    }
    let pulled = pull_texts(&app, &mut worker_phone).await;
    let record = worker_phone.record("conflict", conflict.parse().unwrap());
    let record = record.expect("the conflict syncs to its raiser").clone();
    assert_no_identifiers(&record, &pulled, &secrets, "the pulled conflict");
}

/// Asserts a conflict view keeps its alias entry but has no identifier
/// entry, and that `text` (the whole answer) holds none of `secrets`.
#[track_caller]
fn assert_no_identifiers(conflict: &Value, text: &str, secrets: &[&str], what: &str) {
    let fields = conflict["fields"].as_array().expect("fields");
    let names: Vec<&Value> = fields.iter().map(|f| &f["field"]).collect();
    assert!(names.iter().any(|n| *n == "alias"), "{what}: the alias entry stays: {conflict}");
    for hidden in ["nhs_number", "chain_id"] {
        assert!(!names.iter().any(|n| *n == hidden), "{what} shows a {hidden} entry: {conflict}");
    }
    for secret in secrets {
        assert!(!text.contains(secret), "{what} shows the identifier {secret}: {text}");
    }
}

/// Pulls to the end, applying every page; answers the pages' texts.
async fn pull_texts(app: &TestApp, device: &mut Device) -> String {
    let mut texts = String::new();
    loop {
        let page = device.pull_page(app, 100).await;
        texts.push_str(&page.text);
        let body = page.ok().clone();
        device.apply(&body);
        if body["has_more"] != true {
            return texts;
        }
    }
}

/// A manager's conflicting push answers the record with its NHS number; a
/// worker who replays that batch (same mutation ids, from the cache and
/// then from the log) must not get the number.
#[tokio::test]
async fn a_replayed_push_answer_never_shows_identifiers_to_a_worker() {
    let app = spawn_app().await;
    app.load_demo().await;
    let mut desk = Device::sign_in(&app, MANAGER).await;
    let mut tablet = Device::sign_in(&app, MANAGER).await;
    let person = desk.create("person", json!({ "alias": "Robin", "nhs_number": NHS[0] }));
    desk.push(&app).await;
    desk.outbox.push(mutation("person", person, "update", Some(1), json!({ "alias": "Robin D" })));
    assert_eq!(desk.push(&app).await[0]["status"], "applied");
    tablet.outbox.push(mutation("person", person, "update", Some(1), json!({ "alias": "Rob" })));
    let batch = tablet.outbox.clone();
    let first = tablet.push(&app).await[0].clone();
    assert_eq!(first["status"], "conflict", "{first}");
    assert_eq!(first["record"]["nhs_number"], NHS[0], "a manager is shown the number");

    let worker = Device::sign_in(&app, WORKER1).await;
    let replay = worker.push_raw(&app, batch.clone()).await;
    assert!(replay.status.is_success(), "{}", replay.text);
    assert!(!replay.text.contains(NHS[0]), "a worker's replay (cache) leaks: {}", replay.text);
    app.flush_cache().await;
    let replay = worker.push_raw(&app, batch).await;
    assert!(replay.status.is_success(), "{}", replay.text);
    assert!(!replay.text.contains(NHS[0]), "a worker's replay (log) leaks: {}", replay.text);
}

/// How a manager deletes the person.
#[derive(Clone, Copy, Debug)]
enum Deletion {
    Push,
    Rest,
}

/// Deleting a person closes its open conflicts (`record_deleted`) and
/// clears their values, which were the person's details.
async fn deleting_a_person_closes_its_conflicts(how: Deletion) {
    let app = spawn_app().await;
    app.load_demo().await;
    let mut phone = Device::sign_in(&app, WORKER1).await;
    let mut desk = Device::sign_in(&app, MANAGER).await;
    let person = phone.create("person", json!({ "alias": "Kestrel-7781" }));
    phone.push(&app).await;
    phone.pull(&app).await;
    desk.pull(&app).await;

    desk.update("person", person, json!({ "alias": "Heron-5523" }));
    assert_eq!(desk.push(&app).await[0]["status"], "applied");
    phone.update("person", person, json!({ "alias": "Osprey-9034" }));
    let result = phone.push(&app).await[0].clone();
    assert_eq!(result["status"], "conflict", "{result}");
    let conflict: Uuid = result["conflict_id"].as_str().unwrap().parse().unwrap();
    phone.pull(&app).await;
    let opened = phone.store[&("conflict".to_owned(), conflict.to_string())].0;

    match how {
        Deletion::Push => {
            desk.delete("person", person);
            assert_eq!(desk.push(&app).await[0]["status"], "applied");
        }
        Deletion::Rest => {
            let answer = app.delete(&format!("/v1/persons/{person}"), &desk.token).await;
            assert!(answer.status.is_success(), "DELETE /v1/persons/{{id}}: {}", answer.text);
        }
    }

    let details = ["Kestrel-7781", "Heron-5523", "Osprey-9034"];
    for token in [&desk.token, &phone.token] {
        let answer = app.get(&format!("/v1/sync/conflicts/{conflict}"), token).await;
        assert_closed_and_cleared(answer.ok(), &answer.text, &details);
    }
    let open = app.get("/v1/sync/conflicts?status=open", &desk.token).await;
    assert!(open.ok()["items"].as_array().unwrap().iter().all(|c| c["id"] != conflict.to_string()));

    let since = pull_texts(&app, &mut phone).await;
    let changes: Vec<_> = phone
        .received
        .iter()
        .filter(|(e, id, op, v)| {
            e == "conflict" && *id == conflict.to_string() && op == "upsert" && *v > opened
        })
        .collect();
    assert_eq!(changes.len(), 1, "the raiser's next pull carries the closed conflict ({how:?})");
    let record = phone.record("conflict", conflict).expect("the conflict is on the phone");
    assert_closed_and_cleared(record, &since, &details);
}

#[track_caller]
fn assert_closed_and_cleared(conflict: &Value, text: &str, details: &[&str]) {
    assert_eq!(conflict["status"], "resolved", "{conflict}");
    assert_eq!(conflict["resolution"], "record_deleted", "{conflict}");
    assert_eq!(conflict["resolved_values"], Value::Null, "{conflict}");
    for field in conflict["fields"].as_array().expect("fields") {
        for side in ["base", "mine", "theirs"] {
            assert_eq!(field[side], Value::Null, "{side} of {}: {conflict}", field["field"]);
        }
    }
    for detail in details {
        assert!(!text.contains(detail), "the deleted person's {detail} is still shown: {text}");
    }
}

/// A manager's pushed `delete` erases the person and closes the conflict.
#[tokio::test]
async fn deleting_a_person_by_push_closes_and_clears_its_conflicts() {
    deleting_a_person_closes_its_conflicts(Deletion::Push).await;
}

/// `DELETE /v1/persons/{id}` is the REST door to the same erasure.
#[tokio::test]
async fn deleting_a_person_over_rest_closes_and_clears_its_conflicts() {
    deleting_a_person_closes_its_conflicts(Deletion::Rest).await;
}
