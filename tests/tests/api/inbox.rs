//! The partner inbox (issue 14): a referral sent to a partner service
//! linked to another organisation on Outpost reaches that organisation,
//! with only what the person's consent allows; the partner's steps reach
//! the referrer; a revoked or lapsed consent takes it away at once and
//! evicts it from the partner's devices. Nothing else crosses.

use chrono::{DateTime, Duration, SecondsFormat, Timelike, Utc};
use outpost_api::records::referral::deadline_job;
use outpost_tests::{Answer, TestApp, device::Device, spawn_app};
use serde_json::{Value, json};
use uuid::Uuid;

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn now() -> DateTime<Utc> {
    Utc::now().with_nanosecond(0).unwrap()
}

/// The demo organisation refers; "partner" receives. Answers the demo
/// admin's and worker's tokens, the partner admin's, and the linked
/// partner service.
struct Setup {
    admin: String,
    worker: String,
    partner: String,
    service: Uuid,
}

async fn linked(app: &TestApp) -> Setup {
    app.load_demo().await;
    let admin = app.login("admin@demo.outpost.test").await;
    let worker = app.login("worker1@demo.outpost.test").await;
    let partner = app.other_organisation("partner").await;
    let created = app
        .post(
            "/v1/partner-services",
            &admin,
            json!({ "name": "Harbour Recovery", "service_type": "drug_alcohol_treatment" }),
        )
        .await;
    let service: Uuid = created.ok()["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(created.body["on_outpost"], false);
    let code = app.post("/v1/partner-link-codes", &partner, json!({})).await;
    assert_eq!(code.status.as_u16(), 201, "{}", code.text);
    let code = code.body["code"].as_str().unwrap().to_owned();
    let link =
        put(app, &format!("/v1/partner-services/{service}/link"), &admin, json!({ "code": code }))
            .await;
    assert_eq!(link.ok()["on_outpost"], true, "{}", link.text);
    let again =
        put(app, &format!("/v1/partner-services/{service}/link"), &admin, json!({ "code": code }))
            .await;
    assert_eq!(
        again.assert_problem(422, "validation_failed")["field"],
        "code",
        "a code is used once"
    );
    Setup { admin, worker, partner, service }
}

async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> Answer {
    app.call(reqwest::Method::PUT, path, outpost_tests::Auth::Bearer(token), Some(body)).await
}

/// A person with identifiers, consent to share with `service` (and their
/// identifiers when `identifiable`), and a referral to it, sent. Answers
/// (person, consent, referral).
async fn sent_referral(app: &TestApp, s: &Setup, identifiable: bool) -> (Uuid, Uuid, Uuid) {
    let person = Uuid::now_v7();
    // Identifiers are written by managers and admins only.
    let created = app
        .post(
            "/v1/persons",
            &s.admin,
            json!({
                "id": person, "alias": "Jay", "initials": "JB", "birth_year": 1984,
                "birth_date": "1984-03-02", "nhs_number": "943 476 5919",
                "risk_flags": [{ "kind": "staff_safety", "priority": "high" }]
            }),
        )
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    let t0 = now() - Duration::hours(3);
    let mut purposes = vec!["referral_sharing"];
    if identifiable {
        purposes.push("identifiable_sharing");
    }
    let consent = Uuid::now_v7();
    let given = app
        .post(
            "/v1/consents",
            &s.worker,
            json!({ "id": consent, "person_id": person, "purposes": purposes,
                    "partner_service_ids": [s.service], "how": "verbal", "occurred_at": at(t0) }),
        )
        .await;
    assert_eq!(given.status.as_u16(), 201, "{}", given.text);
    let referral = Uuid::now_v7();
    app.post(
        "/v1/referrals",
        &s.worker,
        json!({
            "id": referral, "person_id": person, "partner_service_id": s.service,
            "occurred_at": at(t0 + Duration::minutes(5)), "service_type": "drug_alcohol_treatment",
            "reason": "Wants a script", "urgency": "urgent", "consent_to_share": true
        }),
    )
    .await
    .ok();
    let sent = app
        .post(
            &format!("/v1/referrals/{referral}/steps"),
            &s.worker,
            json!({ "id": Uuid::now_v7(), "status": "sent", "occurred_at": at(t0 + Duration::minutes(10)),
                    "note": "Rang their duty worker; Jay is at the hostel most mornings" }),
        )
        .await;
    assert_eq!(sent.status.as_u16(), 201, "{}", sent.text);
    (person, consent, referral)
}

#[tokio::test]
async fn a_referral_reaches_the_partner_s_inbox_with_what_consent_allows() {
    let app = spawn_app().await;
    let s = linked(&app).await;
    let (person, _, referral) = sent_referral(&app, &s, false).await;

    let inbox = app.get("/v1/inbox", &s.partner).await;
    let items = inbox.ok()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1, "{}", inbox.text);
    let shared = &items[0];
    assert_eq!(shared["id"], json!(referral));
    assert_eq!(
        (&shared["referrer"], &shared["service_name"]),
        (&json!("Demo Outreach"), &json!("Harbour Recovery"))
    );
    assert_eq!(shared["status"], "sent");
    let who = &shared["person"];
    assert_eq!(
        (&who["alias"], &who["initials"], &who["birth_year"]),
        (&json!("Jay"), &json!("JB"), &json!(1984))
    );
    assert_eq!(who["risk_flags"][0]["kind"], "staff_safety");
    assert_eq!(
        (&who["birth_date"], &who["nhs_number"]),
        (&Value::Null, &Value::Null),
        "no identifiers without consent to them"
    );
    let text = inbox.text.clone();
    assert!(!text.contains("duty worker"), "the referrer's notes stay with the referrer: {text}");
    assert_eq!(
        app.get(&format!("/v1/inbox/{referral}"), &s.partner).await.ok()["id"],
        json!(referral)
    );

    // Nothing else of the referrer's crosses.
    app.get(&format!("/v1/referrals/{referral}"), &s.partner)
        .await
        .assert_problem(404, "not_found");
    app.get(&format!("/v1/persons/{person}"), &s.partner).await.assert_problem(404, "not_found");
    app.get(&format!("/v1/persons/{person}/consents"), &s.partner)
        .await
        .assert_problem(404, "not_found");
    let third = app.other_organisation("third").await;
    assert!(app.get("/v1/inbox", &third).await.ok()["items"].as_array().unwrap().is_empty());
    app.get(&format!("/v1/inbox/{referral}"), &third).await.assert_problem(404, "not_found");
    // The referrer's own staff have no inbox entry for it either.
    assert!(app.get("/v1/inbox", &s.admin).await.ok()["items"].as_array().unwrap().is_empty());

    // With consent to identifiers too, they are shown.
    let (_, _, identified) = sent_referral(&app, &s, true).await;
    let shown = app.get(&format!("/v1/inbox/{identified}"), &s.partner).await;
    assert_eq!(shown.ok()["person"]["nhs_number"], "9434765919", "{}", shown.text);
    assert_eq!(shown.ok()["person"]["birth_date"], "1984-03-02");
}

#[tokio::test]
async fn the_partner_s_steps_reach_the_referrer_s_devices() {
    let app = spawn_app().await;
    let s = linked(&app).await;
    let (_, _, referral) = sent_referral(&app, &s, false).await;
    let mut referrer_phone = Device::sign_in(&app, "worker1@demo.outpost.test").await;
    referrer_phone.pull(&app).await;
    let partner_org: Uuid = app.get("/v1/me", &s.partner).await.ok()["organisation"]["id"]
        .as_str()
        .map(|s| s.parse().unwrap())
        .unwrap_or_default();

    let step = |status: &str, minutes: i64| {
        let mut body = json!({ "id": Uuid::now_v7(), "status": status,
                               "occurred_at": at(now() - Duration::minutes(minutes)) });
        if status == "appointment_booked" {
            body["appointment_at"] = json!(at(now() + Duration::days(2)));
        }
        body
    };
    let acknowledged = app
        .post(&format!("/v1/inbox/{referral}/steps"), &s.partner, step("acknowledged", 30))
        .await;
    assert_eq!(acknowledged.status.as_u16(), 201, "{}", acknowledged.text);
    assert_eq!(acknowledged.body["status"], "acknowledged");
    // A partner does not close or withdraw the referrer's referral.
    let closing =
        app.post(&format!("/v1/inbox/{referral}/steps"), &s.partner, step("withdrawn", 25)).await;
    assert_eq!(closing.assert_problem(403, "forbidden")["field"], "status");
    // The lifecycle holds for partners too.
    let early =
        app.post(&format!("/v1/inbox/{referral}/steps"), &s.partner, step("attended", 20)).await;
    early.assert_problem(409, "illegal_step");

    // From the partner's phone, by sync.
    let mut partner_phone = Device::sign_in(&app, "admin@partner.test").await;
    partner_phone.pull(&app).await;
    let held = partner_phone
        .record("inbox_referral", referral)
        .expect("the inbox reaches the partner's devices");
    assert_eq!(held["status"], "acknowledged");
    let mut accepted = step("accepted", 15);
    accepted.as_object_mut().unwrap().remove("id");
    accepted["referral_id"] = json!(referral);
    let step_id = partner_phone.create("referral_step", accepted);
    let results = partner_phone.push(&app).await;
    assert_eq!(results[0]["status"], "applied", "{results:?}");

    // The referrer's phone hears of both on its next sync.
    referrer_phone.pull(&app).await;
    let view = referrer_phone.record("referral", referral).unwrap();
    assert_eq!(view["status"], "accepted");
    assert!(view["seconds_to_acknowledgement"].is_number());
    let theirs = referrer_phone
        .record("referral_step", step_id)
        .expect("the partner's step reaches the referrer");
    assert_eq!(theirs["partner_organisation_id"], json!(partner_org));
    assert_eq!(theirs["recorded_by"], Value::Null);

    // And the partner's phone sees its own step in the inbox record.
    partner_phone.pull(&app).await;
    let held = partner_phone.record("inbox_referral", referral).unwrap();
    assert_eq!(held["status"], "accepted");
    assert!(
        held["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == json!(step_id) && s["by_you"] == true)
    );
    let report = outpost_api::ops::consistency::run(&app.state.db).await.unwrap();
    let broken: Vec<_> = report.checks.iter().filter(|c| c.violations > 0).collect();
    assert!(broken.is_empty(), "{broken:?}");

    // The admin check sees an inbox row its link no longer backs.
    use sea_orm::ConnectionTrait;
    app.state
        .db
        .execute_unprepared("UPDATE partner_services SET linked_organisation_id = NULL")
        .await
        .unwrap();
    let report = outpost_api::ops::consistency::run(&app.state.db).await.unwrap();
    assert_eq!(report.violations("sharing.live_shares_linked"), Some(1));
}

#[tokio::test]
async fn revoked_or_lapsed_consent_takes_it_from_the_partner_at_once() {
    let app = spawn_app().await;
    let s = linked(&app).await;
    let (_, consent, referral) = sent_referral(&app, &s, false).await;
    let mut partner_phone = Device::sign_in(&app, "admin@partner.test").await;
    partner_phone.pull(&app).await;
    assert!(partner_phone.record("inbox_referral", referral).is_some());

    let revoked = app
        .post(
            &format!("/v1/consents/{consent}/revocations"),
            &s.worker,
            json!({ "id": Uuid::now_v7(), "how": "verbal", "occurred_at": at(now() - Duration::seconds(5)) }),
        )
        .await;
    assert_eq!(revoked.status.as_u16(), 201, "{}", revoked.text);
    app.get(&format!("/v1/inbox/{referral}"), &s.partner).await.assert_problem(404, "not_found");
    assert!(app.get("/v1/inbox", &s.partner).await.ok()["items"].as_array().unwrap().is_empty());
    let step = json!({ "id": Uuid::now_v7(), "status": "accepted", "occurred_at": at(now()) });
    app.post(&format!("/v1/inbox/{referral}/steps"), &s.partner, step)
        .await
        .assert_problem(404, "not_found");
    partner_phone.pull(&app).await;
    assert!(
        partner_phone.record("inbox_referral", referral).is_none(),
        "evicted from the partner's phone"
    );
    assert!(
        partner_phone.received.iter().any(|(e, id, op, _)| e == "inbox_referral"
            && *id == referral.to_string()
            && op == "evict"),
        "{:?}",
        partner_phone.received
    );

    // A consent that lapses: gone from REST the moment it lapses, and from
    // the devices when the server's job next runs.
    let (_, lapsing, second) = sent_referral(&app, &s, false).await;
    let _ = lapsing;
    let person =
        app.get(&format!("/v1/referrals/{second}"), &s.worker).await.ok()["person_id"].clone();
    // A new consent that lapses in two seconds replaces the first one,
    // which is revoked.
    let short = Uuid::now_v7();
    app.post(
        "/v1/consents",
        &s.worker,
        json!({ "id": short, "person_id": person, "purposes": ["referral_sharing"],
                "partner_service_ids": [s.service], "how": "verbal",
                "occurred_at": at(now() - Duration::hours(4)),
                "expires_at": at(now() + Duration::seconds(2)) }),
    )
    .await
    .ok();
    app.post(
        &format!("/v1/consents/{lapsing}/revocations"),
        &s.worker,
        json!({ "id": Uuid::now_v7(), "how": "verbal", "occurred_at": at(now() - Duration::seconds(1)) }),
    )
    .await
    .ok();
    partner_phone.pull(&app).await;
    assert!(
        partner_phone.record("inbox_referral", second).is_some(),
        "still covered by the short consent"
    );
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    app.get(&format!("/v1/inbox/{second}"), &s.partner).await.assert_problem(404, "not_found");
    let run = deadline_job::run(&app.state.db, app.state.clock.now()).await.unwrap();
    assert_eq!(run.unshared, 1, "{run:?}");
    partner_phone.pull(&app).await;
    assert!(partner_phone.record("inbox_referral", second).is_none());
}

#[tokio::test]
async fn unlinking_a_service_empties_the_partner_s_inbox_of_it() {
    let app = spawn_app().await;
    let s = linked(&app).await;
    let (_, _, referral) = sent_referral(&app, &s, false).await;
    assert_eq!(app.get("/v1/inbox", &s.partner).await.ok()["items"].as_array().unwrap().len(), 1);
    let unlinked = app.delete(&format!("/v1/partner-services/{}/link", s.service), &s.admin).await;
    assert_eq!(unlinked.ok()["on_outpost"], false);
    app.get(&format!("/v1/inbox/{referral}"), &s.partner).await.assert_problem(404, "not_found");
    let worker_code = app.post("/v1/partner-link-codes", &s.worker, json!({})).await;
    worker_code.assert_problem(403, "forbidden");
}
