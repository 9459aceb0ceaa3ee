//! A referral moving between sites. Workers move one only to one of their
//! own sites (never off its site, where every worker would see it); when a
//! referral moves, the staff who saw it only through its old site evict it
//! and its steps, and the new site's staff receive both; and a conflict on
//! a referral that left its raiser's sight can be closed, not written.

use std::collections::HashMap;

use outpost_tests::{
    TestApp,
    device::{Device, contact_fields, mutation},
    spawn_app,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::support::{
    MANAGER, WORKER1, WORKER1_SITE, WORKER2, WORKER2_SITE, assert_consistent, assert_rejected,
    referral_fields, results, sent_step, sites,
};

/// worker1's other site (api/src/ops/demo.rs).
const WORKER1_OTHER_SITE: &str = "Street Outreach Team";

/// A referral (and its person) the manager records at `site`.
async fn referral_at(app: &TestApp, desk: &mut Device, site: &str) -> Uuid {
    let person = desk.create("person", json!({ "alias": "Jay" }));
    let referral = desk.create("referral", referral_fields(person, site));
    for result in desk.push(app).await {
        assert_eq!(result["status"], "applied", "{result}");
    }
    referral
}

/// The referral's `site_id` and version, as the manager sees it.
async fn site_and_version(app: &TestApp, token: &str, referral: Uuid) -> (Value, i64) {
    let answer = app.get(&format!("/v1/referrals/{referral}"), token).await;
    let body = answer.ok();
    (body["site_id"].clone(), body["version"].as_i64().expect("version"))
}

/// worker1 may move a referral of their site (recorded by the manager) to
/// their other site, but not off its site (`null`) nor to a site they do
/// not work at: `forbidden` naming `site_id`, by push and over REST. They
/// may still record a new contact at any site.
#[tokio::test]
async fn a_worker_moves_a_referral_only_to_one_of_their_own_sites() {
    let app = spawn_app().await;
    app.load_demo().await;
    let mut desk = Device::sign_in(&app, MANAGER).await;
    let sites = sites(&app, &desk.token).await;
    let referral = referral_at(&app, &mut desk, &sites[WORKER1_SITE]).await;
    let phone = Device::sign_in(&app, WORKER1).await;

    let moves = vec![
        mutation("referral", referral, "update", Some(1), json!({ "site_id": null })),
        mutation(
            "referral",
            referral,
            "update",
            Some(1),
            json!({ "site_id": sites[WORKER2_SITE] }),
        ),
    ];
    let refused = results(&phone.push_raw(&app, moves).await);
    assert_rejected(&refused[0], "forbidden", "site_id");
    assert_rejected(&refused[1], "forbidden", "site_id");
    let patched = app
        .raw(|c, base| {
            c.patch(format!("{base}/v1/referrals/{referral}"))
                .bearer_auth(&phone.token)
                .header("if-match", "\"1\"")
                .json(&json!({ "site_id": sites[WORKER2_SITE] }))
        })
        .await;
    assert_eq!(patched.assert_problem(403, "forbidden")["field"], "site_id");
    let unchanged = site_and_version(&app, &desk.token, referral).await;
    assert_eq!(unchanged, (json!(sites[WORKER1_SITE]), 1), "the referral did not move");

    let own = sites[WORKER1_OTHER_SITE].clone();
    let moved = vec![mutation("referral", referral, "update", Some(1), json!({ "site_id": own }))];
    let moved = results(&phone.push_raw(&app, moved).await);
    assert_eq!(moved[0]["status"], "applied", "to the worker's other site: {}", moved[0]);
    assert_eq!(site_and_version(&app, &desk.token, referral).await, (json!(own), 2));

    // Decided: recording a new record at another site stays open to
    // workers (covering a shift elsewhere); they are its recorder.
    let contact = Uuid::now_v7();
    let fields = contact_fields(Some(&sites[WORKER2_SITE]), None);
    let create = vec![mutation("contact", contact, "create", None, fields)];
    let created = results(&phone.push_raw(&app, create).await);
    assert_eq!(created[0]["status"], "applied", "a contact at another site: {}", created[0]);
    app.get(&format!("/v1/contacts/{contact}"), &phone.token).await.ok();
    assert_consistent(&app).await;
}

/// How the manager moves the referral.
#[derive(Clone, Copy, Debug)]
enum Move {
    Patch,
    Push,
}

/// The changes `device` received since its `from`th, by (entity, id): their
/// ops in order.
fn ops_since(device: &Device, from: usize) -> HashMap<(String, String), Vec<String>> {
    let mut out: HashMap<(String, String), Vec<String>> = HashMap::new();
    for (entity, id, op, _) in &device.received[from..] {
        out.entry((entity.clone(), id.clone())).or_default().push(op.clone());
    }
    out
}

/// A manager moves a referral (with a step) from worker1's site to
/// worker2's: worker1's next pull evicts the referral and its step;
/// worker2's next pull (incremental) brings both.
async fn moving_a_referral_moves_it_between_feeds(how: Move) {
    let app = spawn_app().await;
    app.load_demo().await;
    let mut desk = Device::sign_in(&app, MANAGER).await;
    let sites = sites(&app, &desk.token).await;
    let referral = referral_at(&app, &mut desk, &sites[WORKER1_SITE]).await;
    let step = desk.create("referral_step", sent_step(referral));
    assert_eq!(desk.push(&app).await[0]["status"], "applied");

    let mut one = Device::sign_in(&app, WORKER1).await;
    let mut two = Device::sign_in(&app, WORKER2).await;
    one.pull(&app).await;
    two.pull(&app).await;
    assert!(one.record("referral", referral).is_some(), "worker1 has the referral");
    assert!(one.record("referral_step", step).is_some(), "worker1 has its step");
    assert!(two.record("referral", referral).is_none(), "worker2 does not, yet");
    assert!(two.record("referral_step", step).is_none(), "nor its step");

    let new_site = sites[WORKER2_SITE].clone();
    let (_, version) = site_and_version(&app, &desk.token, referral).await;
    match how {
        Move::Patch => {
            let answer = app
                .raw(|c, base| {
                    c.patch(format!("{base}/v1/referrals/{referral}"))
                        .bearer_auth(&desk.token)
                        .header("if-match", format!("\"{version}\""))
                        .json(&json!({ "site_id": new_site }))
                })
                .await;
            assert_eq!(answer.ok()["site_id"], json!(new_site), "{}", answer.text);
        }
        Move::Push => {
            let fields = json!({ "site_id": new_site });
            desk.outbox.push(mutation("referral", referral, "update", Some(version), fields));
            assert_eq!(desk.push(&app).await[0]["status"], "applied");
        }
    }

    let (referral_key, step_key) = (
        ("referral".to_owned(), referral.to_string()),
        ("referral_step".to_owned(), step.to_string()),
    );
    let from = one.received.len();
    one.pull(&app).await;
    let ops = ops_since(&one, from);
    for key in [&referral_key, &step_key] {
        assert_eq!(
            ops.get(key).and_then(|o| o.last()).map(String::as_str),
            Some("evict"),
            "worker1 ({how:?}) gets no evict for {key:?}: {ops:?}"
        );
    }
    assert!(one.record("referral", referral).is_none(), "worker1 still holds the referral");
    assert!(one.record("referral_step", step).is_none(), "worker1 still holds its step");
    let rest = app.get(&format!("/v1/referrals/{referral}"), &one.token).await;
    rest.assert_problem(404, "not_found");

    let from = two.received.len();
    two.pull(&app).await;
    let ops = ops_since(&two, from);
    for key in [&referral_key, &step_key] {
        assert_eq!(
            ops.get(key).and_then(|o| o.last()).map(String::as_str),
            Some("upsert"),
            "worker2 ({how:?}) does not receive {key:?}: {ops:?}"
        );
    }
    let held = two.record("referral", referral).expect("worker2 holds the referral");
    assert_eq!(held["site_id"], json!(new_site));
    let held = two.record("referral_step", step).expect("worker2 holds its step");
    assert_eq!(held["referral_id"], json!(referral.to_string()));

    // A device of each that starts from scratch agrees.
    let mut fresh_one = Device::sign_in(&app, WORKER1).await;
    let mut fresh_two = Device::sign_in(&app, WORKER2).await;
    fresh_one.pull(&app).await;
    fresh_two.pull(&app).await;
    assert!(
        fresh_one.record("referral_step", step).is_none(),
        "a new worker1 device gets the step"
    );
    assert!(
        fresh_two.record("referral_step", step).is_some(),
        "a new worker2 device lacks the step"
    );
    assert!(
        fresh_two.record("referral", referral).is_some(),
        "a new worker2 device lacks the referral"
    );
    assert_consistent(&app).await;
}

#[tokio::test]
async fn a_referral_moved_over_rest_leaves_the_old_sites_feed_and_joins_the_new() {
    moving_a_referral_moves_it_between_feeds(Move::Patch).await;
}

#[tokio::test]
async fn a_referral_moved_by_push_leaves_the_old_sites_feed_and_joins_the_new() {
    moving_a_referral_moves_it_between_feeds(Move::Push).await;
}

/// worker1 raises a conflict on a referral of their site; a manager moves
/// it to worker2's site. worker1 can no longer write it (`take_mine`: 404,
/// as `GET` answers), but can close the conflict (`keep_theirs`: 200).
#[tokio::test]
async fn a_conflict_on_a_referral_that_left_its_raisers_sight_can_only_be_closed() {
    let app = spawn_app().await;
    app.load_demo().await;
    let mut desk = Device::sign_in(&app, MANAGER).await;
    let sites = sites(&app, &desk.token).await;
    let referral = referral_at(&app, &mut desk, &sites[WORKER1_SITE]).await;
    let phone = Device::sign_in(&app, WORKER1).await;

    desk.outbox.push(mutation(
        "referral",
        referral,
        "update",
        Some(1),
        json!({ "urgency": "urgent" }),
    ));
    assert_eq!(desk.push(&app).await[0]["status"], "applied");
    let stale =
        vec![mutation("referral", referral, "update", Some(1), json!({ "urgency": "routine" }))];
    let raised = results(&phone.push_raw(&app, stale).await)[0].clone();
    assert_eq!(raised["status"], "conflict", "{raised}");
    let conflict = raised["conflict_id"].as_str().expect("conflict_id").to_owned();

    let fields = json!({ "site_id": sites[WORKER2_SITE] });
    desk.outbox.push(mutation("referral", referral, "update", Some(2), fields));
    assert_eq!(desk.push(&app).await[0]["status"], "applied");

    let path = format!("/v1/sync/conflicts/{conflict}/resolve");
    let resolve =
        |resolution: &str| app.post(&path, &phone.token, json!({ "resolution": resolution }));
    resolve("take_mine").await.assert_problem(404, "not_found");
    let (_, version) = site_and_version(&app, &desk.token, referral).await;
    assert_eq!(version, 3, "take_mine wrote nothing");
    let closed = resolve("keep_theirs").await;
    assert_eq!(closed.ok()["status"], "resolved", "{}", closed.text);
    assert_eq!(closed.body["resolution"], "keep_theirs", "{}", closed.text);
    let after = app.get(&format!("/v1/referrals/{referral}"), &desk.token).await;
    assert_eq!(after.ok()["urgency"], "urgent", "the server's value stays");
    assert_eq!(after.body["version"], 3);
    assert_consistent(&app).await;
}
