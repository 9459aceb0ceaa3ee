//! Push obeys the scope REST obeys: a worker cannot change, extend, delete
//! or pull into their scope a record of a site they do not work at that
//! someone else recorded. Both doors answer as if the record did not exist.

use outpost_tests::{
    TestApp,
    device::{Device, contact_fields, mutation},
    spawn_app,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::support::{
    MANAGER, WORKER1, WORKER1_SITE, WORKER2_SITE, assert_rejected, incident_fields,
    referral_fields, results, sent_step, sites,
};

/// The records a manager made at worker2's site, and one at worker1's.
struct Elsewhere {
    referral: Uuid,
    contact: Uuid,
    incident: Uuid,
    /// A referral at worker1's own site, for the control.
    own_site_referral: Uuid,
    manager: String,
}

async fn record_elsewhere(app: &TestApp) -> Elsewhere {
    let mut desk = Device::sign_in(app, MANAGER).await;
    let sites = sites(app, &desk.token).await;
    let (theirs, mine) = (&sites[WORKER2_SITE], &sites[WORKER1_SITE]);
    let person = desk.create("person", json!({ "alias": "Jay" }));
    let referral = desk.create("referral", referral_fields(person, theirs));
    let own_site_referral = desk.create("referral", referral_fields(person, mine));
    let contact = desk.create("contact", contact_fields(Some(theirs), Some(person)));
    let incident = desk.create("incident", incident_fields(theirs));
    for result in desk.push(app).await {
        assert_eq!(result["status"], "applied", "{result}");
    }
    Elsewhere { referral, contact, incident, own_site_referral, manager: desk.token }
}

/// Updating, extending with a step, deleting or moving (to the worker's own
/// site) a referral the worker cannot see over REST is refused as if it did
/// not exist, and it never reaches the worker's feed.
#[tokio::test]
async fn a_worker_cannot_push_to_a_referral_of_another_site() {
    let app = spawn_app().await;
    app.load_demo().await;
    let records = record_elsewhere(&app).await;
    let (referral, manager) = (records.referral, &records.manager);
    let before = app.get(&format!("/v1/referrals/{referral}"), manager).await.ok().clone();
    let mut phone = Device::sign_in(&app, WORKER1).await;
    let own_site = sites(&app, &phone.token).await[WORKER1_SITE].clone();

    // REST already answers 404 for it: the record is not in the worker's
    // scope.
    let rest = app.get(&format!("/v1/referrals/{referral}"), &phone.token).await;
    rest.assert_problem(404, "not_found");
    let patched = app
        .raw(|c, base| {
            c.patch(format!("{base}/v1/referrals/{referral}"))
                .bearer_auth(&phone.token)
                .header("if-match", "\"1\"")
                .json(&json!({ "urgency": "urgent" }))
        })
        .await;
    patched.assert_problem(404, "not_found");
    let mut step = sent_step(referral);
    step["id"] = json!(Uuid::now_v7());
    step.as_object_mut().unwrap().remove("referral_id");
    let rest = app.post(&format!("/v1/referrals/{referral}/steps"), &phone.token, step).await;
    rest.assert_problem(404, "not_found");

    let version = before["version"].as_i64().unwrap();
    let batch = vec![
        mutation("referral", referral, "update", Some(version), json!({ "urgency": "urgent" })),
        mutation("referral_step", Uuid::now_v7(), "create", None, sent_step(referral)),
        mutation("referral", referral, "delete", None, json!({})),
        // Moving it to the worker's own site would bring it into scope.
        mutation("referral", referral, "update", Some(version), json!({ "site_id": own_site })),
    ];
    let results = results(&phone.push_raw(&app, batch).await);
    assert_rejected(&results[0], "unknown_record", "id");
    assert_rejected(&results[1], "unknown_reference", "referral_id");
    assert_rejected(&results[2], "unknown_record", "id");
    assert_rejected(&results[3], "unknown_record", "id");

    let after = app.get(&format!("/v1/referrals/{referral}"), manager).await;
    assert_eq!(after.ok(), &before, "the referral is unchanged");
    phone.pull(&app).await;
    assert!(phone.record("referral", referral).is_none(), "pulled into the worker's scope");
    let rest = app.get(&format!("/v1/referrals/{referral}"), &phone.token).await;
    rest.assert_problem(404, "not_found");
    let listed = app.get("/v1/referrals?limit=200", &phone.token).await;
    let items = listed.ok()["items"].as_array().unwrap();
    assert!(items.iter().all(|r| r["id"] != referral.to_string()), "listed to the worker");

    // Control: the same mutations on a referral at the worker's own site
    // are accepted, so the refusals above are about scope.
    let own = records.own_site_referral;
    let control = vec![
        mutation("referral", own, "update", Some(1), json!({ "urgency": "urgent" })),
        mutation("referral_step", Uuid::now_v7(), "create", None, sent_step(own)),
    ];
    for result in results_of(&app, &phone, control).await {
        assert_eq!(result["status"], "applied", "{result}");
    }
}

async fn results_of(app: &TestApp, phone: &Device, batch: Vec<Value>) -> Vec<Value> {
    results(&phone.push_raw(app, batch).await)
}

/// Deleting a contact or incident of another site, recorded by someone
/// else, is `unknown_record` (not `forbidden`, which says it exists), as
/// REST's 404 is.
#[tokio::test]
async fn a_worker_cannot_push_a_delete_of_a_contact_or_incident_of_another_site() {
    let app = spawn_app().await;
    app.load_demo().await;
    let records = record_elsewhere(&app).await;
    let phone = Device::sign_in(&app, WORKER1).await;
    for (kind, id) in [("contacts", records.contact), ("incidents", records.incident)] {
        let path = format!("/v1/{kind}/{id}");
        app.get(&path, &phone.token).await.assert_problem(404, "not_found");
        app.delete(&path, &phone.token).await.assert_problem(404, "not_found");
    }

    let batch = vec![
        mutation("contact", records.contact, "delete", None, json!({})),
        mutation("incident", records.incident, "delete", None, json!({})),
    ];
    let results = results_of(&app, &phone, batch).await;
    assert_rejected(&results[0], "unknown_record", "id");
    assert_rejected(&results[1], "unknown_record", "id");
    for (kind, id) in [("contacts", records.contact), ("incidents", records.incident)] {
        let kept = app.get(&format!("/v1/{kind}/{id}"), &records.manager).await;
        assert_eq!(kept.ok()["version"], 1, "{kind}: still there, unchanged");
    }
}
