//! The sync guarantees of docs/sync.md, each with a test that fails
//! without its feature.

use outpost_tests::{
    db::count,
    demo::demo_site,
    device::{Device, contact_fields, mutation},
    spawn_app,
};
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn a_pushed_contact_with_kit_lines_comes_back_in_a_pull() {
    let app = spawn_app().await;
    app.load_demo().await;
    let mut phone = Device::sign_in(&app, "worker1@demo.outpost.test").await;
    let site = demo_site(&app, &phone.token).await;
    let id = phone.create("contact", contact_fields(Some(&site), None));
    let results = phone.push(&app).await;
    assert_eq!(results[0]["status"], "applied", "{results:?}");
    assert_eq!(results[0]["version"], 1);

    let mut other = Device::sign_in(&app, "manager@demo.outpost.test").await;
    other.pull(&app).await;
    let contact = other.record("contact", id).expect("contact pulled");
    assert_eq!(contact["kit_lines"].as_array().unwrap().len(), 2);
    assert_eq!(
        contact["substances"][0]["substance"], "synthetic_cannabinoid",
        "street name mapped"
    );
    let occurred: chrono::DateTime<chrono::Utc> =
        contact["occurred_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(occurred, "2026-11-20T23:15:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap());
}

#[tokio::test]
async fn the_same_batch_twice_is_stored_once_and_answered_with_the_original_result() {
    let app = spawn_app().await;
    app.load_demo().await;
    let mut phone = Device::sign_in(&app, "worker1@demo.outpost.test").await;
    let site = demo_site(&app, &phone.token).await;
    for _ in 0..3 {
        phone.create("contact", contact_fields(Some(&site), None));
    }
    let batch = phone.outbox.clone();
    let first = phone.push_raw(&app, batch.clone()).await.ok().clone();
    // The response was lost; the phone sends the same batch again, and once
    // more after the cache is gone (a Redis flush): the log still answers.
    let second = phone.push_raw(&app, batch.clone()).await.ok().clone();
    app.flush_cache().await;
    let third = phone.push_raw(&app, batch).await.ok().clone();
    for (i, r) in first["results"].as_array().unwrap().iter().enumerate() {
        assert_eq!(r["status"], "applied");
        for again in [&second, &third] {
            let r2 = &again["results"][i];
            assert_eq!(r2["status"], "duplicate");
            assert_eq!(r2["original_status"], "applied");
            assert_eq!(r2["version"], r["version"]);
            assert_eq!(r2["mutation_id"], r["mutation_id"]);
        }
    }
    assert_eq!(count(&app, "contacts").await, 3);
    assert_eq!(count(&app, "kit_lines").await, 6);
}

#[tokio::test]
async fn two_copies_of_a_batch_racing_are_stored_once() {
    let app = spawn_app().await;
    app.load_demo().await;
    let mut phone = Device::sign_in(&app, "worker1@demo.outpost.test").await;
    let site = demo_site(&app, &phone.token).await;
    for _ in 0..20 {
        phone.create("contact", contact_fields(Some(&site), None));
    }
    let batch = phone.outbox.clone();
    let (a, b) = tokio::join!(phone.push_raw(&app, batch.clone()), phone.push_raw(&app, batch));
    let (a, b) = (a.ok().clone(), b.ok().clone());
    for i in 0..20 {
        let statuses = [a["results"][i]["status"].clone(), b["results"][i]["status"].clone()];
        assert!(
            statuses.contains(&json!("applied")) && statuses.contains(&json!("duplicate")),
            "exactly one copy applies each mutation: {statuses:?}"
        );
    }
    assert_eq!(count(&app, "contacts").await, 20);
    assert_eq!(count(&app, "kit_lines").await, 40);
}

#[tokio::test]
async fn a_rejected_mutation_names_its_field_and_does_not_block_the_next() {
    let app = spawn_app().await;
    app.load_demo().await;
    let phone = Device::sign_in(&app, "worker1@demo.outpost.test").await;
    let site = demo_site(&app, &phone.token).await;
    let mut negative = contact_fields(Some(&site), None);
    negative["kit_lines"][0]["quantity"] = json!(-3);
    let mut unknown_item = contact_fields(Some(&site), None);
    unknown_item["kit_lines"][1]["item"] = json!("unknown_widget");
    let mut bad_enum = contact_fields(Some(&site), None);
    bad_enum["contact_type"] = json!("teleportation");
    let mut foreign_person = contact_fields(Some(&site), None);
    foreign_person["person_id"] = json!(Uuid::now_v7());
    let good = contact_fields(Some(&site), None);
    let batch = vec![
        mutation("contact", Uuid::now_v7(), "create", None, negative),
        mutation("contact", Uuid::now_v7(), "create", None, unknown_item),
        mutation("contact", Uuid::now_v7(), "create", None, bad_enum),
        mutation("contact", Uuid::now_v7(), "create", None, foreign_person),
        mutation("contact", Uuid::now_v7(), "create", None, good),
    ];
    let answer = phone.push_raw(&app, batch).await;
    let results = answer.ok()["results"].as_array().unwrap().clone();
    let problem =
        |i: usize| (results[i]["problem"]["code"].clone(), results[i]["problem"]["field"].clone());
    assert_eq!(problem(0), (json!("validation_failed"), json!("kit_lines[0].quantity")));
    assert_eq!(problem(1), (json!("unknown_kit_item"), json!("kit_lines[1].item")));
    assert_eq!(problem(2), (json!("validation_failed"), json!("contact_type")));
    assert_eq!(problem(3), (json!("unknown_reference"), json!("person_id")));
    for r in &results[..4] {
        assert_eq!(r["status"], "rejected");
    }
    assert_eq!(results[4]["status"], "applied");
    assert_eq!(count(&app, "contacts").await, 1);
}

#[tokio::test]
async fn different_fields_merge_and_the_same_field_conflicts_until_resolved() {
    let app = spawn_app().await;
    app.load_demo().await;
    let mut phone = Device::sign_in(&app, "worker1@demo.outpost.test").await;
    let mut desk = Device::sign_in(&app, "worker2@demo.outpost.test").await;
    let person = phone.create("person", json!({ "alias": "Jay", "name_quality": "street_name" }));
    phone.push(&app).await;
    phone.pull(&app).await;
    desk.pull(&app).await;

    // Both start from version 1. The desk changes the description and the
    // alias; the phone changes the gender and the alias.
    desk.update("person", person, json!({ "description": "Tall, red coat", "alias": "J-Bird" }));
    assert_eq!(desk.push(&app).await[0]["status"], "applied");
    phone.update("person", person, json!({ "gender": "man", "alias": "Jay B" }));
    let result = phone.push(&app).await[0].clone();
    assert_eq!(result["status"], "conflict", "{result}");
    let conflict_id = result["conflict_id"].as_str().unwrap().to_owned();
    assert_eq!(result["record"]["gender"], "man", "the different field merged");
    assert_eq!(result["record"]["alias"], "J-Bird", "the server value stays until resolved");
    assert_eq!(result["record"]["description"], "Tall, red coat");

    // The conflict syncs down to the phone's user and to managers.
    phone.pull(&app).await;
    let conflict = phone.record("conflict", conflict_id.parse().unwrap()).expect("conflict synced");
    assert_eq!(conflict["fields"][0]["field"], "alias");
    assert_eq!(conflict["fields"][0]["base"], "Jay");
    assert_eq!(conflict["fields"][0]["mine"], "Jay B");
    assert_eq!(conflict["fields"][0]["theirs"], "J-Bird");
    let manager = app.login("manager@demo.outpost.test").await;
    let open = app.get("/v1/sync/conflicts?status=open", &manager).await;
    assert_eq!(open.ok()["items"].as_array().unwrap().len(), 1);
    // The other worker did not raise it and is not a manager: not theirs.
    let theirs = app.get(&format!("/v1/sync/conflicts/{conflict_id}"), &desk.token).await;
    theirs.assert_problem(404, "not_found");

    let resolved = app
        .post(
            &format!("/v1/sync/conflicts/{conflict_id}/resolve"),
            &manager,
            json!({ "resolution": "merged", "values": { "alias": "Jay (J-Bird)" } }),
        )
        .await;
    assert_eq!(resolved.ok()["status"], "resolved");
    let again = app
        .post(
            &format!("/v1/sync/conflicts/{conflict_id}/resolve"),
            &manager,
            json!({ "resolution": "take_mine" }),
        )
        .await;
    again.assert_problem(409, "already_resolved");

    phone.pull(&app).await;
    desk.pull(&app).await;
    let on_phone = phone.record("person", person).unwrap();
    assert_eq!(on_phone["alias"], "Jay (J-Bird)");
    assert_eq!(on_phone, desk.record("person", person).unwrap(), "both devices converge");
    assert_eq!(
        phone.record("conflict", conflict_id.parse().unwrap()).unwrap()["status"],
        "resolved"
    );
}

#[tokio::test]
async fn a_delete_beats_a_later_edit_and_reaches_every_device() {
    let app = spawn_app().await;
    app.load_demo().await;
    let mut manager = Device::sign_in(&app, "manager@demo.outpost.test").await;
    let mut phone = Device::sign_in(&app, "worker1@demo.outpost.test").await;
    let person = phone.create("person", json!({ "alias": "Sky" }));
    phone.push(&app).await;
    phone.pull(&app).await;
    manager.pull(&app).await;

    manager.delete("person", person);
    assert_eq!(manager.push(&app).await[0]["status"], "applied");
    phone.update("person", person, json!({ "description": "limps" }));
    let result = phone.push(&app).await[0].clone();
    assert_eq!(result["status"], "rejected");
    assert_eq!(result["problem"]["code"], "record_deleted");

    phone.pull(&app).await;
    assert!(phone.record("person", person).is_none(), "the tombstone removed it");
    assert!(phone.received.iter().any(|(e, _, op, _)| e == "person" && op == "delete"));
}

#[tokio::test]
async fn a_cursor_from_elsewhere_is_refused_and_an_expired_one_is_gone() {
    let app = spawn_app().await;
    app.load_demo().await;
    let mut phone = Device::sign_in(&app, "worker1@demo.outpost.test").await;
    phone.create("person", json!({ "alias": "Rae" }));
    phone.push(&app).await;
    phone.pull(&app).await;
    let cursor = phone.cursor.clone().unwrap();

    let other = app.other_organisation("elsewhere").await;
    app.get(&format!("/v1/sync/pull?cursor={cursor}"), &other)
        .await
        .assert_problem(422, "invalid_cursor");
    app.get("/v1/sync/pull?cursor=bm9wZQ", &phone.token)
        .await
        .assert_problem(422, "invalid_cursor");

    // Tombstones older than the horizon are purged; a device that slept
    // past it must re-sync rather than silently miss deletions.
    let mut colleague = Device::sign_in(&app, "worker1@demo.outpost.test").await;
    let contact = colleague.create("contact", contact_fields(None, None));
    colleague.push(&app).await;
    colleague.delete("contact", contact);
    colleague.push(&app).await;
    phone.create("person", json!({ "alias": "Lee" }));
    phone.push(&app).await;
    outpost_tests::outpost_api::sync::retention::purge_tombstones(
        &app.state.db,
        chrono::Duration::zero(),
    )
    .await
    .unwrap();
    let gone = phone.pull_page(&app, 10).await;
    gone.assert_problem(410, "cursor_expired");
    phone.cursor = None;
    phone.store.clear();
    phone.pull(&app).await;
    assert_eq!(phone.records("person").len(), 2, "a full re-sync serves everything");
}

#[tokio::test]
async fn ids_of_another_organisation_are_rejected_without_leaking() {
    let app = spawn_app().await;
    app.load_demo().await;
    let mut phone = Device::sign_in(&app, "worker1@demo.outpost.test").await;
    let person = phone.create("person", json!({ "alias": "Mo" }));
    phone.push(&app).await;

    let other = app.other_organisation("elsewhere").await;
    let mut intruder =
        Device { token: other.clone(), ..Device::sign_in(&app, "worker2@demo.outpost.test").await };
    intruder.update("person", person, json!({ "alias": "stolen" }));
    // The intruder cannot know the base version; any will do.
    intruder.outbox[0]["base_version"] = json!(1);
    intruder.create("contact", json!({ "occurred_at": "2026-11-20T10:00:00Z", "contact_type": "drop_in", "person_id": person }));
    let reused = mutation("person", person, "create", None, json!({ "alias": "clash" }));
    intruder.outbox.push(reused);
    let results = intruder.push(&app).await;
    assert_eq!(results[0]["problem"]["code"], "unknown_record");
    assert_eq!(results[1]["problem"]["code"], "unknown_reference");
    assert_eq!(results[2]["problem"]["code"], "id_taken");
    intruder.pull(&app).await;
    assert!(intruder.record("person", person).is_none());
    phone.pull(&app).await;
    assert_eq!(phone.record("person", person).unwrap()["alias"], "Mo");
}

// Found by the fuzzer: a device that reuses one id for two kinds of record
// (a client bug, or a hostile one) must not make either vanish from other
// devices' feeds or arrive with the other's body. Mechanism: feed entries
// are replaced by kind and id, and pulled records are looked up by kind and
// id. Without it the contact's delete removed the person's feed entry, and
// a page holding both sent one body for both.
#[tokio::test]
async fn one_id_reused_for_two_kinds_of_record_keeps_both_apart_in_the_feed() {
    let app = spawn_app().await;
    app.load_demo().await;
    let mut phone = Device::sign_in(&app, "worker1@demo.outpost.test").await;
    let id = Uuid::now_v7();
    phone.outbox = vec![
        mutation("person", id, "create", None, json!({ "alias": "Sam" })),
        mutation("contact", id, "create", None, contact_fields(None, None)),
    ];
    for result in phone.push(&app).await {
        assert_eq!(result["status"], "applied", "{result}");
    }
    let mut before = Device::sign_in(&app, "manager@demo.outpost.test").await;
    before.pull(&app).await;
    assert_eq!(before.record("person", id).expect("the person")["alias"], "Sam");
    let contact = before.record("contact", id).expect("the contact");
    assert_eq!(contact["kit_lines"].as_array().map(Vec::len), Some(2), "{contact}");

    phone.delete("contact", id);
    assert_eq!(phone.push(&app).await[0]["status"], "applied");
    let mut after = Device::sign_in(&app, "manager@demo.outpost.test").await;
    after.pull(&app).await;
    assert_eq!(
        after.record("person", id).expect("the person is still in the feed")["alias"],
        "Sam"
    );
    assert!(after.record("contact", id).is_none(), "the contact is deleted");
    before.pull(&app).await;
    assert!(before.record("contact", id).is_none() && before.record("person", id).is_some());
}

// Found in review: a record created and changed (or created and deleted) in
// the same push left two entries in the feed, so other devices received it
// twice. Mechanism: the feed keeps the last entry of each record in a batch.
#[tokio::test]
async fn a_record_created_and_changed_in_one_push_is_received_once() {
    let app = spawn_app().await;
    app.load_demo().await;
    let mut phone = Device::sign_in(&app, "worker1@demo.outpost.test").await;
    let kept = Uuid::now_v7();
    let dropped = Uuid::now_v7();
    phone.outbox = vec![
        mutation("person", kept, "create", None, json!({ "alias": "Mo" })),
        mutation("person", kept, "update", Some(1), json!({ "alias": "Mo B" })),
        mutation("contact", dropped, "create", None, contact_fields(None, None)),
        mutation("contact", dropped, "delete", None, json!({})),
    ];
    for result in phone.push(&app).await {
        assert_eq!(result["status"], "applied", "{result}");
    }
    let mut other = Device::sign_in(&app, "manager@demo.outpost.test").await;
    other.pull(&app).await;
    let of = |id: Uuid| -> Vec<(String, i64)> {
        let id = id.to_string();
        other
            .received
            .iter()
            .filter(|(_, i, ..)| *i == id)
            .map(|(_, _, op, v)| (op.clone(), *v))
            .collect()
    };
    assert_eq!(of(kept), vec![("upsert".to_owned(), 2)], "the person once, at its last version");
    assert_eq!(of(dropped), vec![("delete".to_owned(), 2)], "the contact once, as its delete");
    assert_eq!(other.record("person", kept).expect("the person")["alias"], "Mo B");
    let report = outpost_tests::outpost_api::ops::consistency::run(&app.state.db)
        .await
        .expect("the check runs");
    let broken: Vec<_> = report.checks.iter().filter(|c| c.violations > 0).collect();
    assert!(broken.is_empty(), "{broken:?}");
}

/// A pull reads the feed in windows of numbers (so no page reads the
/// whole feed, however large): a user who sees few of the organisation's
/// entries still receives each of them exactly once, through short or
/// empty pages that say `has_more`, and the same set as in one big page.
#[tokio::test]
async fn a_sparse_scope_pulls_everything_once_through_windows() {
    let app = spawn_app().await;
    app.load_demo().await;
    let mut mine = Device::sign_in(&app, "worker1@demo.outpost.test").await;
    let mut theirs = Device::sign_in(&app, "worker2@demo.outpost.test").await;
    let own_site = |me: &serde_json::Value| me["sites"][0]["id"].as_str().unwrap().to_owned();
    let my_site = own_site(app.get("/v1/me", &mine.token).await.ok());
    let their_site = own_site(app.get("/v1/me", &theirs.token).await.ok());
    assert_ne!(my_site, their_site, "the two workers work at different sites");
    let mut expected = Vec::new();
    for _ in 0..3 {
        for _ in 0..60 {
            theirs.create("contact", contact_fields(Some(&their_site), None));
        }
        theirs.push(&app).await;
        expected.push(mine.create("contact", contact_fields(Some(&my_site), None)).to_string());
        mine.push(&app).await;
    }

    // Pages of 5: a window is 12 numbers, a request reads at most 8.
    let mut small = Device::sign_in(&app, "worker1@demo.outpost.test").await;
    let (mut pages, mut short_with_more) = (0, 0);
    loop {
        let page = small.pull_page(&app, 5).await.ok().clone();
        small.apply(&page);
        pages += 1;
        let more = page["has_more"].as_bool().unwrap();
        if more && page["changes"].as_array().unwrap().len() < 5 {
            short_with_more += 1;
        }
        if !more {
            break;
        }
        assert!(pages < 1000, "the pull never ends");
    }
    assert!(short_with_more > 0, "the windows were not exercised");

    let mut big = Device::sign_in(&app, "worker1@demo.outpost.test").await;
    big.pull_with_limit(&app, 1000).await;
    let mut once: Vec<_> = small.received.clone();
    once.sort();
    once.dedup();
    assert_eq!(once.len(), small.received.len(), "an entry came twice");
    let mut through_windows = small.received.clone();
    let mut in_one_page = big.received.clone();
    through_windows.sort();
    in_one_page.sort();
    assert_eq!(through_windows, in_one_page);
    for id in &expected {
        assert!(small.record("contact", id.parse().unwrap()).is_some(), "{id} missing");
    }
    assert!(small.records("contact").len() >= expected.len());
}
