//! Consent (issue 14): records appended per person, revoked by records of
//! their own, shown as they applied at any moment, synced; a referral goes
//! to a partner service only under consent covering it when it is sent.

use chrono::{DateTime, Duration, SecondsFormat, Timelike, Utc};
use outpost_tests::{Answer, TestApp, device::Device, spawn_app};
use serde_json::{Value, json};
use uuid::Uuid;

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn now() -> DateTime<Utc> {
    Utc::now().with_nanosecond(0).unwrap()
}

async fn partner(app: &TestApp, admin: &str, name: &str) -> Uuid {
    let created = app
        .post(
            "/v1/partner-services",
            admin,
            json!({ "name": name, "service_type": "drug_alcohol_treatment" }),
        )
        .await;
    created.ok()["id"].as_str().unwrap().parse().unwrap()
}

async fn person(app: &TestApp, token: &str) -> Uuid {
    let id = Uuid::now_v7();
    app.post("/v1/persons", token, json!({ "id": id, "alias": "Mo" })).await.ok();
    id
}

async fn consent(app: &TestApp, token: &str, body: Value) -> Answer {
    let mut body = body;
    body["id"] = json!(Uuid::now_v7());
    app.post("/v1/consents", token, body).await
}

/// A consent to sharing with `partners` for a referral, given at `given`.
fn sharing(person: Uuid, partners: &[Uuid], given: DateTime<Utc>) -> Value {
    json!({
        "person_id": person,
        "purposes": ["direct_care", "referral_sharing"],
        "partner_service_ids": partners,
        "how": "verbal",
        "occurred_at": at(given),
    })
}

async fn referral_to(
    app: &TestApp,
    token: &str,
    person: Uuid,
    partner: Uuid,
    made: DateTime<Utc>,
) -> Uuid {
    let id = Uuid::now_v7();
    let created = app
        .post(
            "/v1/referrals",
            token,
            json!({
                "id": id, "person_id": person, "partner_service_id": partner,
                "occurred_at": at(made), "service_type": "drug_alcohol_treatment",
                "reason": "Wants a script", "urgency": "urgent", "consent_to_share": true
            }),
        )
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    id
}

async fn send(app: &TestApp, token: &str, referral: Uuid, when: DateTime<Utc>) -> Answer {
    app.post(
        &format!("/v1/referrals/{referral}/steps"),
        token,
        json!({ "id": Uuid::now_v7(), "status": "sent", "occurred_at": at(when) }),
    )
    .await
}

#[tokio::test]
async fn a_referral_goes_to_a_partner_only_under_consent_covering_it_when_sent() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login("admin@demo.outpost.test").await;
    let worker = app.login("worker1@demo.outpost.test").await;
    let (riverside, harbour) =
        (partner(&app, &admin, "Riverside DAS").await, partner(&app, &admin, "Harbour").await);
    let mo = person(&app, &worker).await;
    let t0 = now() - Duration::hours(10);
    let referral = referral_to(&app, &worker, mo, riverside, t0).await;
    let sent_at = t0 + Duration::hours(5);

    // Nothing recorded: refused, saying why.
    let refused = send(&app, &worker, referral, sent_at).await;
    let detail =
        refused.assert_problem(409, "consent_required")["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("referral_sharing"), "{detail}");

    // Consent that does not cover the send: direct care only, another
    // partner, given after the send, lapsed before it, revoked before it.
    let direct_care = json!({ "person_id": mo, "purposes": ["direct_care"], "how": "written",
                              "occurred_at": at(t0) });
    consent(&app, &worker, direct_care).await.ok();
    consent(&app, &worker, sharing(mo, &[harbour], t0)).await.ok();
    consent(&app, &worker, sharing(mo, &[riverside], sent_at + Duration::minutes(1))).await.ok();
    let mut lapsed = sharing(mo, &[riverside], t0);
    lapsed["expires_at"] = json!(at(sent_at - Duration::minutes(1)));
    consent(&app, &worker, lapsed).await.ok();
    let revoked = consent(&app, &worker, sharing(mo, &[riverside], t0)).await;
    let revoked_id = revoked.ok()["id"].as_str().unwrap().to_owned();
    let revocation = app
        .post(
            &format!("/v1/consents/{revoked_id}/revocations"),
            &worker,
            json!({ "id": Uuid::now_v7(), "how": "verbal", "occurred_at": at(t0 + Duration::hours(1)) }),
        )
        .await;
    assert_eq!(revocation.status.as_u16(), 201, "{}", revocation.text);
    send(&app, &worker, referral, sent_at).await.assert_problem(409, "consent_required");
    let view = app.get(&format!("/v1/referrals/{referral}"), &worker).await;
    assert_eq!(view.ok()["status"], "draft");

    // Covering consent, given before: sent.
    consent(&app, &worker, sharing(mo, &[riverside, harbour], t0 + Duration::hours(2))).await.ok();
    let sent = send(&app, &worker, referral, sent_at).await;
    assert_eq!(sent.status.as_u16(), 201, "{}", sent.text);

    // Moving the sent referral to a partner it does not cover: refused.
    let third = partner(&app, &admin, "Third Way").await;
    let version =
        app.get(&format!("/v1/referrals/{referral}"), &worker).await.ok()["version"].clone();
    let moved = app
        .raw({
            let token = worker.clone();
            let body = json!({ "partner_service_id": third });
            let path = format!("/v1/referrals/{referral}");
            move |client, base| {
                client
                    .patch(format!("{base}{path}"))
                    .bearer_auth(token)
                    .header("If-Match", format!("\"{version}\""))
                    .json(&body)
            }
        })
        .await;
    assert_eq!(moved.assert_problem(409, "consent_required")["field"], "partner_service_id");
    // The same from a phone, merged from an older version: refused too.
    let mut phone = Device::sign_in(&app, "worker1@demo.outpost.test").await;
    phone.pull(&app).await;
    phone.update("referral", referral, json!({ "partner_service_id": third }));
    let results = phone.push(&app).await;
    assert_eq!(results[0]["status"], "rejected", "{results:?}");
    assert_eq!(results[0]["problem"]["code"], "consent_required");

    // `consent_to_share: false` is never sent, whatever the records say.
    let unwilling = Uuid::now_v7();
    app.post(
        "/v1/referrals",
        &worker,
        json!({
            "id": unwilling, "person_id": mo, "partner_service_id": riverside,
            "occurred_at": at(t0), "service_type": "gp", "reason": "GP", "consent_to_share": false
        }),
    )
    .await
    .ok();
    send(&app, &worker, unwilling, sent_at).await.assert_problem(409, "consent_required");
}

#[tokio::test]
async fn a_phone_records_consent_and_sends_in_one_batch() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login("admin@demo.outpost.test").await;
    let riverside = partner(&app, &admin, "Riverside DAS").await;
    let mut phone = Device::sign_in(&app, "worker1@demo.outpost.test").await;
    let t0 = now() - Duration::hours(2);
    let mo = phone.create("person", json!({ "alias": "Mo" }));
    let referral = json!({
        "person_id": mo, "partner_service_id": riverside, "status": "sent",
        "occurred_at": at(t0 + Duration::minutes(5)), "service_type": "drug_alcohol_treatment",
        "reason": "Wants a script", "consent_to_share": true
    });
    // Sent before consent is recorded: refused, naming the partner.
    phone.create("referral", referral.clone());
    phone.create("consent", sharing(mo, &[riverside], t0));
    let sent = phone.create("referral", referral);
    let results = phone.push(&app).await;
    assert_eq!(results[1]["status"], "rejected", "{results:?}");
    assert_eq!(results[1]["problem"]["code"], "consent_required");
    assert_eq!(results[1]["problem"]["field"], "partner_service_id");
    assert_eq!(results[2]["status"], "applied");
    assert_eq!(results[3]["status"], "applied", "{results:?}");
    let view = app.get(&format!("/v1/referrals/{sent}"), &phone.token).await;
    assert_eq!(view.ok()["status"], "sent");
}

#[tokio::test]
async fn consents_and_revocations_are_history_shown_as_they_applied() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login("admin@demo.outpost.test").await;
    let riverside = partner(&app, &admin, "Riverside DAS").await;
    let mut phone = Device::sign_in(&app, "worker1@demo.outpost.test").await;
    let mut other_phone = Device::sign_in(&app, "worker2@demo.outpost.test").await;
    let t0 = now() - Duration::days(3);
    let mo = phone.create("person", json!({ "alias": "Mo" }));
    let given = phone.create("consent", sharing(mo, &[riverside], t0));
    // Two phones record the revocation offline; the earlier one ends it.
    let later = t0 + Duration::days(2);
    let earlier = t0 + Duration::days(1);
    phone.create(
        "consent_revocation",
        json!({ "consent_id": given, "how": "verbal", "occurred_at": at(later) }),
    );
    for r in phone.push(&app).await {
        assert_eq!(r["status"], "applied", "{r}");
    }
    other_phone.create(
        "consent_revocation",
        json!({ "consent_id": given, "how": "written", "occurred_at": at(earlier) }),
    );
    assert_eq!(other_phone.push(&app).await[0]["status"], "applied");

    let history = |moment: Option<DateTime<Utc>>| {
        let path = match moment {
            Some(m) => format!("/v1/persons/{mo}/consents?at={}", at(m).replace('+', "%2B")),
            None => format!("/v1/persons/{mo}/consents"),
        };
        let token = phone.token.clone();
        let app = &app;
        async move { app.get(&path, &token).await }
    };
    let all = history(None).await;
    let all = all.ok();
    assert_eq!(all["consents"].as_array().unwrap().len(), 1);
    assert_eq!(all["consents"][0]["revoked_at"], json!(earlier.to_rfc3339()));
    assert_eq!(all["consents"][0]["version"], 3, "each revocation that moved `revoked_at`");
    assert_eq!(all["revocations"].as_array().unwrap().len(), 2);
    let during = history(Some(t0 + Duration::hours(12))).await;
    assert_eq!(during.ok()["consents"][0]["id"], json!(given));
    let before = history(Some(t0 - Duration::hours(1))).await;
    assert!(before.ok()["consents"].as_array().unwrap().is_empty());
    let after = history(Some(earlier + Duration::hours(1))).await;
    assert!(after.ok()["consents"].as_array().unwrap().is_empty(), "revoked by then");

    // Synced to the organisation's devices, the consent at its last version.
    other_phone.pull(&app).await;
    let held = other_phone.record("consent", given).expect("the consent reaches other devices");
    assert_eq!(
        (held["version"].as_i64(), &held["revoked_at"]),
        (Some(3), &json!(earlier.to_rfc3339()))
    );
    assert_eq!(other_phone.records("consent_revocation").len(), 2);

    // Reads of the history are audited as reads of the person's record.
    let audit = app.get("/v1/audit-events", &admin).await;
    let read = audit.ok()["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "person.consents_read" && e["target_id"] == json!(mo));
    assert!(read, "{}", audit.text);

    // Another organisation sees none of it.
    let stranger = app.other_organisation("elsewhere").await;
    app.get(&format!("/v1/persons/{mo}/consents"), &stranger)
        .await
        .assert_problem(404, "not_found");
    app.get(&format!("/v1/consents/{given}"), &stranger).await.assert_problem(404, "not_found");
    let theirs = app
        .post(
            &format!("/v1/consents/{given}/revocations"),
            &stranger,
            json!({ "id": Uuid::now_v7(), "how": "verbal", "occurred_at": at(later) }),
        )
        .await;
    theirs.assert_problem(404, "not_found");
}

#[tokio::test]
async fn a_consent_says_what_it_covers_coherently() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login("admin@demo.outpost.test").await;
    let worker = app.login("worker1@demo.outpost.test").await;
    let riverside = partner(&app, &admin, "Riverside DAS").await;
    let mo = person(&app, &worker).await;
    let t0 = now() - Duration::hours(1);
    let field_of =
        |answer: &Answer| answer.assert_problem(422, "validation_failed")["field"].clone();

    let no_partner = json!({ "person_id": mo, "purposes": ["referral_sharing"], "how": "verbal", "occurred_at": at(t0) });
    assert_eq!(field_of(&consent(&app, &worker, no_partner).await), "partner_service_ids");
    let stray = json!({ "person_id": mo, "purposes": ["direct_care"], "partner_service_ids": [riverside],
                        "how": "verbal", "occurred_at": at(t0) });
    assert_eq!(field_of(&consent(&app, &worker, stray).await), "partner_service_ids");
    let twice = json!({ "person_id": mo, "purposes": ["direct_care", "direct_care"], "how": "verbal",
                        "occurred_at": at(t0) });
    assert_eq!(field_of(&consent(&app, &worker, twice).await), "purposes[1]");
    let none = json!({ "person_id": mo, "purposes": [], "how": "verbal", "occurred_at": at(t0) });
    assert_eq!(field_of(&consent(&app, &worker, none).await), "purposes");
    let mut backwards = sharing(mo, &[riverside], t0);
    backwards["expires_at"] = json!(at(t0 - Duration::hours(1)));
    assert_eq!(field_of(&consent(&app, &worker, backwards).await), "expires_at");
    let unknown = sharing(mo, &[Uuid::now_v7()], t0);
    let refused = consent(&app, &worker, unknown).await;
    assert_eq!(refused.assert_problem(422, "unknown_reference")["field"], "partner_service_ids[0]");

    let given = consent(&app, &worker, sharing(mo, &[riverside], t0)).await;
    let id = given.ok()["id"].as_str().unwrap().to_owned();
    let early = app
        .post(
            &format!("/v1/consents/{id}/revocations"),
            &worker,
            json!({ "id": Uuid::now_v7(), "how": "verbal", "occurred_at": at(t0 - Duration::minutes(5)) }),
        )
        .await;
    assert_eq!(early.assert_problem(422, "validation_failed")["field"], "occurred_at");
}
