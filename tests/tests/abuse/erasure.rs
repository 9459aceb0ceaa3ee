//! Erasing a person takes their details out of everything that kept a copy:
//! the replay cache and the log (a replayed conflict answer carried the
//! record as it was), and the revisions. And only managers and admins
//! erase: an integrator's key that may write records may not.

use outpost_tests::{
    Auth, TestApp,
    db::query,
    device::{Device, mutation},
    spawn_app,
};
use reqwest::Method;
use serde_json::{Value, json};

use super::support::{ADMIN, MANAGER, WORKER1, assert_consistent, raise_person_conflict, results};

/// The person's details over their life: as recorded, as the manager
/// changed them, and as the worker's stale edit had them.
const DETAILS: [&str; 3] = ["Kestrel-7781", "Heron-5523", "Osprey-9034"];

/// Asserts a replay of the stale batch answers `duplicate` of the conflict
/// and shows none of the person's details anywhere in its text.
async fn assert_replay_shows_nothing(app: &TestApp, phone: &Device, stale: &[Value], when: &str) {
    let replay = phone.push_raw(app, stale.to_vec()).await;
    let result = results(&replay)[0].clone();
    assert_eq!(result["status"], "duplicate", "{when}: {result}");
    assert_eq!(result["original_status"], "conflict", "{when}: {result}");
    for detail in DETAILS {
        assert!(
            !replay.text.contains(detail),
            "{when}: the erased person's {detail} is in the replayed answer: {}",
            replay.text
        );
    }
}

/// A worker's stale edit raises a conflict whose answer carries the
/// person as the manager left it; the manager erases the person; the
/// worker's phone, which never got the answer, sends the batch again. The
/// replay (from the cache, then from the log) must not bring the erased
/// alias back, and no revision of the person keeps it.
#[tokio::test]
async fn an_erased_person_is_gone_from_replayed_answers_and_revisions() {
    let app = spawn_app().await;
    app.load_demo().await;
    let mut phone = Device::sign_in(&app, WORKER1).await;
    let mut desk = Device::sign_in(&app, MANAGER).await;
    let [first, theirs, mine] = DETAILS;
    let (person, _conflict, stale, answer) =
        raise_person_conflict(&app, &mut phone, &mut desk, first, theirs, mine).await;
    // The answer carried the record as the server held it.
    assert_eq!(answer["record"]["alias"], theirs, "{answer}");

    let revisions =
        "SELECT snapshot FROM record_revisions WHERE entity = 'person' AND record_id = ?";
    let before = query(&app, revisions, vec![person.into()]).await;
    assert!(before.len() >= 2, "the person has revisions: {}", before.len());

    let erased = app.delete(&format!("/v1/persons/{person}"), &desk.token).await;
    assert!(erased.status.is_success(), "DELETE /v1/persons/{{id}}: {}", erased.text);

    assert_replay_shows_nothing(&app, &phone, &stale, "straight after the erasure (cache)").await;
    app.flush_cache().await;
    assert_replay_shows_nothing(&app, &phone, &stale, "after a cache flush (the log)").await;

    let after = query(&app, revisions, vec![person.into()]).await;
    assert_eq!(after.len(), before.len(), "the revisions stay, blanked");
    for row in &after {
        let snapshot: String = row.try_get("", "snapshot").expect("snapshot");
        for detail in DETAILS {
            assert!(!snapshot.contains(detail), "a revision keeps {detail}: {snapshot}");
        }
    }
    let logged =
        query(&app, "SELECT result FROM sync_mutations WHERE record_id = ?", vec![person.into()])
            .await;
    assert!(!logged.is_empty(), "the person's mutations are logged");
    for row in &logged {
        let result: String = row.try_get("", "result").expect("result");
        for detail in DETAILS {
            assert!(!result.contains(detail), "the log keeps {detail}: {result}");
        }
    }
    assert_consistent(&app).await;
}

/// An API key with `records:write` may change a person but not erase one,
/// by push or over REST; a manager still can.
#[tokio::test]
async fn an_api_key_that_writes_records_cannot_erase_a_person() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login(ADMIN).await;
    let created = app
        .post("/v1/api-keys", &admin, json!({ "name": "Case system", "scopes": ["records:write"] }))
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    let key = created.body["key"].as_str().expect("key").to_owned();
    let mut phone = Device::sign_in(&app, WORKER1).await;
    let person = phone.create("person", json!({ "alias": "Plover" }));
    assert_eq!(phone.push(&app).await[0]["status"], "applied");

    let push = |mutations: Vec<Value>| {
        let body = json!({ "mutations": mutations });
        app.call(Method::POST, "/v1/sync/push", Auth::ApiKey(&key), Some(body))
    };
    let erase = mutation("person", person, "delete", None, json!({}));
    let refused = results(&push(vec![erase]).await)[0].clone();
    assert_eq!(refused["status"], "rejected", "{refused}");
    assert_eq!(refused["problem"]["code"], "forbidden", "{refused}");
    let path = format!("/v1/persons/{person}");
    let rest = app.call(Method::DELETE, &path, Auth::ApiKey(&key), None).await;
    rest.assert_problem(403, "forbidden");

    let manager = app.login(MANAGER).await;
    let kept = app.get(&format!("/v1/persons/{person}"), &manager).await;
    assert_eq!(kept.ok()["alias"], "Plover", "the person is not erased");
    assert_eq!(kept.body["version"], 1);

    // Control: the key writes the person, and a manager erases them.
    let edit = mutation("person", person, "update", Some(1), json!({ "description": "Tall" }));
    let edited = results(&push(vec![edit]).await)[0].clone();
    assert_eq!(edited["status"], "applied", "the key may write records: {edited}");
    let erased = app.delete(&format!("/v1/persons/{person}"), &manager).await;
    assert!(erased.status.is_success(), "a manager erases: {}", erased.text);
    let after = app.get(&format!("/v1/persons/{person}"), &manager).await;
    assert!(!after.text.contains("Plover"), "{}", after.text);
}
