//! The referral lifecycle (issue 14): every legal move and every illegal
//! one, steps out of order kept and flagged, what each move needs, the
//! times derived from the steps, deadlines, overdue referrals and the
//! expiry job (on two instances at once).

use chrono::{DateTime, Duration, SecondsFormat, Timelike, Utc};
use outpost_api::records::referral::deadline_job;
use outpost_tests::{Answer, TestApp, device::Device, spawn_app, spawn_app_with};
use serde_json::{Value, json};
use uuid::Uuid;

const ALL: [&str; 11] = [
    "draft",
    "sent",
    "acknowledged",
    "accepted",
    "declined",
    "appointment_booked",
    "attended",
    "did_not_attend",
    "closed",
    "withdrawn",
    "expired",
];

/// The moves the lifecycle allows, written out here apart from the
/// server's table (`expired` is the server's and has its own test).
const LEGAL: &[(&str, &[&str])] = &[
    ("draft", &["sent", "withdrawn"]),
    ("sent", &["acknowledged", "accepted", "declined", "withdrawn"]),
    ("acknowledged", &["accepted", "declined", "closed", "withdrawn"]),
    ("accepted", &["appointment_booked", "closed", "withdrawn"]),
    ("declined", &["closed"]),
    (
        "appointment_booked",
        &["appointment_booked", "attended", "did_not_attend", "closed", "withdrawn"],
    ),
    ("attended", &["appointment_booked", "closed"]),
    ("did_not_attend", &["appointment_booked", "closed", "withdrawn"]),
    ("closed", &[]),
    ("withdrawn", &[]),
    ("expired", &[]),
];

/// The steps after `draft` that reach each status.
fn path_to(status: &str) -> Vec<&'static str> {
    match status {
        "draft" => vec![],
        "sent" => vec!["sent"],
        "acknowledged" => vec!["sent", "acknowledged"],
        "accepted" => vec!["sent", "accepted"],
        "declined" => vec!["sent", "declined"],
        "appointment_booked" => vec!["sent", "accepted", "appointment_booked"],
        "attended" => vec!["sent", "accepted", "appointment_booked", "attended"],
        "did_not_attend" => vec!["sent", "accepted", "appointment_booked", "did_not_attend"],
        "closed" => vec!["sent", "accepted", "closed"],
        "withdrawn" => vec!["withdrawn"],
        other => panic!("no path to {other}"),
    }
}

/// Now, to the second (as the steps below are written).
fn whole_seconds_now() -> DateTime<Utc> {
    Utc::now().with_nanosecond(0).unwrap()
}

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// What a step of `status` must carry.
fn step_body(status: &str, occurred_at: DateTime<Utc>) -> Value {
    let mut body =
        json!({ "id": Uuid::now_v7(), "status": status, "occurred_at": at(occurred_at) });
    match status {
        "declined" => body["reason"] = json!("No beds this week"),
        "closed" => body["outcome"] = json!("engaged_with_service"),
        "appointment_booked" => body["appointment_at"] = json!(at(occurred_at + Duration::days(3))),
        _ => {}
    }
    body
}

/// A draft referral made at `made` (urgency as given).
async fn draft(app: &TestApp, token: &str, made: DateTime<Utc>, urgency: &str) -> Uuid {
    let person = Uuid::now_v7();
    app.post("/v1/persons", token, json!({ "id": person })).await.ok();
    let id = Uuid::now_v7();
    let created = app
        .post(
            "/v1/referrals",
            token,
            json!({
                "id": id,
                "person_id": person,
                "occurred_at": at(made),
                "service_type": "housing",
                "reason": "Sleeping out, wants a hostel place",
                "urgency": urgency,
                "consent_to_share": true
            }),
        )
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    id
}

async fn step(app: &TestApp, token: &str, referral: Uuid, body: Value) -> Answer {
    app.post(&format!("/v1/referrals/{referral}/steps"), token, body).await
}

/// Steps `path` one minute apart from `from`.
async fn walk_to(app: &TestApp, token: &str, referral: Uuid, from: DateTime<Utc>, path: &[&str]) {
    for (i, status) in path.iter().enumerate() {
        let body = step_body(status, from + Duration::minutes(i as i64 + 1));
        let answer = step(app, token, referral, body).await;
        assert_eq!(answer.status.as_u16(), 201, "{status}: {}", answer.text);
    }
}

#[tokio::test]
async fn every_move_is_taken_or_refused_as_the_lifecycle_says() {
    let app = spawn_app().await;
    app.load_demo().await;
    let worker = app.login("worker1@demo.outpost.test").await;
    let made = whole_seconds_now() - Duration::days(1);
    let mut checked = 0;
    for (from, legal) in LEGAL.iter().filter(|(from, _)| *from != "expired") {
        for to in ALL.iter().filter(|to| **to != "expired") {
            let referral = draft(&app, &worker, made, "routine").await;
            walk_to(&app, &worker, referral, made, &path_to(from)).await;
            let answer =
                step(&app, &worker, referral, step_body(to, made + Duration::hours(1))).await;
            let status = app.get(&format!("/v1/referrals/{referral}"), &worker).await;
            if legal.contains(to) {
                assert_eq!(answer.status.as_u16(), 201, "{from} -> {to}: {}", answer.text);
                assert_eq!(status.ok()["status"], *to, "{from} -> {to}");
            } else {
                let problem = answer.assert_problem(409, "illegal_step");
                let detail = problem["detail"].as_str().unwrap();
                assert!(
                    detail.contains(&format!("`{to}`")) && detail.contains(&format!("`{from}`")),
                    "{from} -> {to}: the refusal names both: {detail}"
                );
                assert_eq!(problem["field"], "status", "{from} -> {to}");
                assert_eq!(status.ok()["status"], *from, "{from} -> {to}: unchanged");
            }
            checked += 1;
        }
    }
    // Expired, by the server's job: final too.
    for to in ALL.iter().filter(|to| **to != "expired") {
        let old = whole_seconds_now() - Duration::days(3);
        let referral = draft(&app, &worker, old, "emergency").await;
        walk_to(&app, &worker, referral, old, &["sent"]).await;
        deadline_job::run(&app.state.db, app.state.clock.now()).await.unwrap();
        let after_expiry = whole_seconds_now() + Duration::minutes(5);
        let answer = step(&app, &worker, referral, step_body(to, after_expiry)).await;
        let detail = answer.assert_problem(409, "illegal_step")["detail"].as_str().unwrap();
        assert!(detail.contains(&format!("`{to}` cannot follow `expired`")), "{detail}");
        checked += 1;
    }
    assert_eq!(checked, 110);
}

#[tokio::test]
async fn the_issue_s_examples_are_refused_and_nobody_but_the_server_expires() {
    let app = spawn_app().await;
    app.load_demo().await;
    let worker = app.login("worker1@demo.outpost.test").await;
    let made = whole_seconds_now() - Duration::hours(5);

    let closed = draft(&app, &worker, made, "urgent").await;
    walk_to(&app, &worker, closed, made, &["sent", "accepted", "closed"]).await;
    let again = step(&app, &worker, closed, step_body("sent", made + Duration::hours(1))).await;
    let detail = again.assert_problem(409, "illegal_step")["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("`sent` cannot follow `closed`"), "{detail}");

    let fresh = draft(&app, &worker, made, "urgent").await;
    let attended =
        step(&app, &worker, fresh, step_body("attended", made + Duration::hours(1))).await;
    let detail =
        attended.assert_problem(409, "illegal_step")["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("`attended` cannot follow `draft`"), "{detail}");

    // From a phone, the same move is kept and flagged, never dropped: it
    // acted on what it held offline. It moves nothing.
    let mut phone = Device::sign_in(&app, "worker1@demo.outpost.test").await;
    let mut fields = step_body("attended", made + Duration::hours(2));
    fields.as_object_mut().unwrap().remove("id");
    fields["referral_id"] = json!(fresh);
    let kept = phone.create("referral_step", fields);
    let results = phone.push(&app).await;
    assert_eq!(results[0]["status"], "applied", "{results:?}");
    phone.pull(&app).await;
    let held = phone.record("referral_step", kept).unwrap();
    assert_eq!(held["flag"], "`attended` cannot follow `draft`");
    let view = app.get(&format!("/v1/referrals/{fresh}"), &worker).await;
    assert_eq!(view.ok()["status"], "draft");

    let sent = draft(&app, &worker, made, "urgent").await;
    walk_to(&app, &worker, sent, made, &["sent"]).await;
    let expired = step(&app, &worker, sent, step_body("expired", made + Duration::hours(1))).await;
    assert_eq!(expired.assert_problem(403, "forbidden")["field"], "status");

    // A referral begins as a draft or sent, nothing else.
    let person = Uuid::now_v7();
    app.post("/v1/persons", &worker, json!({ "id": person })).await.ok();
    let accepted_at_birth = app
        .post(
            "/v1/referrals",
            &worker,
            json!({
                "id": Uuid::now_v7(),
                "person_id": person,
                "service_type": "gp",
                "reason": "Register with a GP",
                "status": "accepted",
                "consent_to_share": true
            }),
        )
        .await;
    accepted_at_birth.assert_problem(409, "illegal_step");
}

#[tokio::test]
async fn each_move_carries_what_it_needs_and_nothing_it_does_not() {
    let app = spawn_app().await;
    app.load_demo().await;
    let worker = app.login("worker1@demo.outpost.test").await;
    let made = whole_seconds_now() - Duration::hours(5);
    let referral = draft(&app, &worker, made, "soon").await;
    walk_to(&app, &worker, referral, made, &["sent"]).await;
    let later = made + Duration::hours(1);

    let mut declined = step_body("declined", later);
    declined.as_object_mut().unwrap().remove("reason");
    assert_eq!(
        step(&app, &worker, referral, declined).await.assert_problem(422, "validation_failed")["field"],
        "reason"
    );

    let mut outcome_too_early = step_body("accepted", later);
    outcome_too_early["outcome"] = json!("engaged_with_service");
    assert_eq!(
        step(&app, &worker, referral, outcome_too_early)
            .await
            .assert_problem(422, "validation_failed")["field"],
        "outcome"
    );
    walk_to(&app, &worker, referral, later, &["accepted"]).await;

    let mut booked = step_body("appointment_booked", later + Duration::hours(1));
    booked.as_object_mut().unwrap().remove("appointment_at");
    assert_eq!(
        step(&app, &worker, referral, booked).await.assert_problem(422, "validation_failed")["field"],
        "appointment_at"
    );
    let mut closed = step_body("closed", later + Duration::hours(1));
    closed.as_object_mut().unwrap().remove("outcome");
    assert_eq!(
        step(&app, &worker, referral, closed).await.assert_problem(422, "validation_failed")["field"],
        "outcome"
    );
    let mut stray = step_body("closed", later + Duration::hours(1));
    stray["appointment_at"] = json!(at(later));
    assert_eq!(
        step(&app, &worker, referral, stray).await.assert_problem(422, "validation_failed")["field"],
        "appointment_at"
    );
    let closing = step_body("closed", later + Duration::hours(1));
    let stored = step(&app, &worker, referral, closing).await;
    assert_eq!(stored.status.as_u16(), 201, "{}", stored.text);
    assert_eq!(stored.body["outcome"], "engaged_with_service");
    assert_eq!(stored.body["flag"], Value::Null);
}

/// Two phones record steps offline on one referral; whichever syncs
/// first, the server ends with the same steps, flags and status.
#[tokio::test]
async fn two_phones_steps_give_the_same_result_whichever_syncs_first() {
    let app = spawn_app().await;
    app.load_demo().await;
    let worker = app.login("worker1@demo.outpost.test").await;
    let made = whole_seconds_now() - Duration::hours(3);
    let mut outcomes = Vec::new();
    for declined_first in [true, false] {
        let referral = draft(&app, &worker, made, "routine").await;
        walk_to(&app, &worker, referral, made, &["sent"]).await;
        let mut a = Device::sign_in(&app, "worker1@demo.outpost.test").await;
        let mut b = Device::sign_in(&app, "manager@demo.outpost.test").await;
        let recorded = |status: &str, minutes: i64| {
            let mut fields = step_body(status, made + Duration::minutes(minutes));
            fields.as_object_mut().unwrap().remove("id");
            fields["referral_id"] = json!(referral);
            fields
        };
        a.create("referral_step", recorded("declined", 63));
        b.create("referral_step", recorded("accepted", 65));
        let (first, second) = if declined_first { (&mut a, &mut b) } else { (&mut b, &mut a) };
        assert_eq!(first.push(&app).await[0]["status"], "applied");
        assert_eq!(second.push(&app).await[0]["status"], "applied");
        let steps = app.get(&format!("/v1/referrals/{referral}/steps"), &worker).await;
        let steps: Vec<(Value, Value)> = steps.ok()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["status"].clone(), s["flag"].clone()))
            .collect();
        let status =
            app.get(&format!("/v1/referrals/{referral}"), &worker).await.ok()["status"].clone();
        outcomes.push((steps, status));
    }
    assert_eq!(outcomes[0], outcomes[1]);
    assert_eq!(outcomes[0].1, "declined");
    assert_eq!(outcomes[0].0[3], (json!("accepted"), json!("`accepted` cannot follow `declined`")));
}

#[tokio::test]
async fn times_to_answer_accept_and_first_appointment_come_from_the_steps() {
    let app = spawn_app().await;
    app.load_demo().await;
    let worker = app.login("worker1@demo.outpost.test").await;
    let made = whole_seconds_now() - Duration::days(2);
    let referral = draft(&app, &worker, made, "urgent").await;
    let sent = made + Duration::minutes(10);
    for (status, at_time) in [
        ("sent", sent),
        ("acknowledged", sent + Duration::minutes(45)),
        ("accepted", sent + Duration::hours(3)),
        ("appointment_booked", sent + Duration::hours(4)),
    ] {
        let answer = step(&app, &worker, referral, step_body(status, at_time)).await;
        assert_eq!(answer.status.as_u16(), 201, "{}", answer.text);
    }
    let view = app.get(&format!("/v1/referrals/{referral}"), &worker).await;
    let view = view.ok();
    assert_eq!(view["sent_at"], json!(sent.to_rfc3339()));
    assert_eq!(view["seconds_to_acknowledgement"], 45 * 60);
    assert_eq!(view["seconds_to_acceptance"], 3 * 3600);
    // The booking's appointment is three days after it was booked.
    let appointment = sent + Duration::hours(4) + Duration::days(3);
    assert_eq!(view["first_appointment_at"], json!(appointment.to_rfc3339()));
    assert_eq!(view["seconds_to_first_appointment"], (appointment - sent).num_seconds());
    // Urgent: 24 hours to respond, expiry after 7 days (the defaults).
    assert_eq!(view["respond_by"], json!((sent + Duration::hours(24)).to_rfc3339()));
    assert_eq!(view["expires_at"], json!((sent + Duration::days(7)).to_rfc3339()));
}

#[tokio::test]
async fn a_step_synced_late_is_placed_in_time_and_what_no_longer_follows_is_flagged() {
    let app = spawn_app().await;
    app.load_demo().await;
    let worker = app.login("worker1@demo.outpost.test").await;
    let manager = app.login("manager@demo.outpost.test").await;
    let made = whole_seconds_now() - Duration::hours(6);
    let referral = draft(&app, &worker, made, "routine").await;
    let mut phone = Device::sign_in(&app, "worker1@demo.outpost.test").await;
    phone.pull(&app).await;

    // The day centre records sent and accepted; a phone offline since had
    // recorded a withdrawal between the two.
    walk_to(&app, &worker, referral, made, &["sent"]).await;
    let accepted = step_body("accepted", made + Duration::hours(2));
    let accepted_id: Uuid = accepted["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(step(&app, &worker, referral, accepted).await.status.as_u16(), 201);
    phone.pull(&app).await;
    assert_eq!(phone.record("referral_step", accepted_id).unwrap()["version"], 1);

    let mut late_phone = Device::sign_in(&app, "worker1@demo.outpost.test").await;
    let mut withdrawal = step_body("withdrawn", made + Duration::hours(1));
    withdrawal.as_object_mut().unwrap().remove("id");
    withdrawal["referral_id"] = json!(referral);
    withdrawal["reason"] = json!("Found a place himself");
    let withdrawal_id = late_phone.create("referral_step", withdrawal);
    let results = late_phone.push(&app).await;
    assert_eq!(results[0]["status"], "applied", "{results:?}");

    // Kept, in time order; the acceptance no longer follows and is flagged.
    let steps = app.get(&format!("/v1/referrals/{referral}/steps"), &worker).await;
    let steps = steps.ok()["items"].as_array().unwrap().clone();
    let statuses: Vec<&str> = steps.iter().map(|s| s["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["draft", "sent", "withdrawn", "accepted"]);
    let flags: Vec<&Value> = steps.iter().map(|s| &s["flag"]).collect();
    assert_eq!(flags[..3], [&Value::Null, &Value::Null, &Value::Null]);
    assert_eq!(flags[3], "`accepted` cannot follow `withdrawn`");
    assert_eq!(steps[3]["version"], 2, "a flag is a new version of the step");
    let view = app.get(&format!("/v1/referrals/{referral}"), &worker).await;
    assert_eq!(view.ok()["status"], "withdrawn");
    assert_eq!(
        view.ok()["seconds_to_acceptance"],
        Value::Null,
        "a flagged step counts for nothing"
    );

    // The phone that held the acceptance receives it flagged.
    phone.pull(&app).await;
    let held = phone.record("referral_step", accepted_id).unwrap();
    assert_eq!((held["version"].as_i64(), held["flag"].as_str()), (Some(2), flags[3].as_str()));
    assert!(phone.record("referral_step", withdrawal_id).is_some());

    // Managers see it among the flagged steps; workers may not look.
    let flagged = app.get("/v1/referrals/flagged-steps", &manager).await;
    let ids: Vec<&str> = flagged.ok()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [accepted_id.to_string()]);
    app.get("/v1/referrals/flagged-steps", &worker).await.assert_problem(403, "forbidden");
    let stranger = app.other_organisation("elsewhere").await;
    let theirs = app.get("/v1/referrals/flagged-steps", &stranger).await;
    assert!(theirs.ok()["items"].as_array().unwrap().is_empty(), "another organisation sees none");

    // A step that came late but follows keeps nothing flagged.
    let calm = draft(&app, &worker, made, "routine").await;
    walk_to(&app, &worker, calm, made, &["sent"]).await;
    let answer = step(&app, &worker, calm, step_body("accepted", made + Duration::hours(3))).await;
    assert_eq!(answer.status.as_u16(), 201);
    let ack = step(&app, &worker, calm, step_body("acknowledged", made + Duration::hours(2))).await;
    assert_eq!(ack.status.as_u16(), 201, "{}", ack.text);
    let steps = app.get(&format!("/v1/referrals/{calm}/steps"), &worker).await;
    assert!(steps.ok()["items"].as_array().unwrap().iter().all(|s| s["flag"].is_null()));
}

#[tokio::test]
async fn deadlines_are_the_organisation_s_and_admins_set_them() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login("admin@demo.outpost.test").await;
    let worker = app.login("worker1@demo.outpost.test").await;
    let listed = app.get("/v1/referral-deadlines", &worker).await;
    let emergency = &listed.ok()["items"][0];
    assert_eq!(
        (&emergency["urgency"], &emergency["respond_within_minutes"], &emergency["version"]),
        (&json!("emergency"), &json!(120), &json!(0))
    );
    let body = json!({ "respond_within_minutes": 30, "expire_after_minutes": 600 });
    app.call(
        reqwest::Method::PUT,
        "/v1/referral-deadlines/urgent",
        outpost_tests::Auth::Bearer(&worker),
        Some(body.clone()),
    )
    .await
    .assert_problem(403, "forbidden");
    let backwards = json!({ "respond_within_minutes": 600, "expire_after_minutes": 30 });
    let refused = app
        .call(
            reqwest::Method::PUT,
            "/v1/referral-deadlines/urgent",
            outpost_tests::Auth::Bearer(&admin),
            Some(backwards),
        )
        .await;
    assert_eq!(refused.assert_problem(422, "validation_failed")["field"], "expire_after_minutes");
    let set = app
        .call(
            reqwest::Method::PUT,
            "/v1/referral-deadlines/urgent",
            outpost_tests::Auth::Bearer(&admin),
            Some(body),
        )
        .await;
    assert_eq!(
        (&set.ok()["respond_within_minutes"], &set.ok()["version"]),
        (&json!(30), &json!(1))
    );

    // A referral sent now takes them; another organisation keeps its own.
    let made = whole_seconds_now() - Duration::hours(1);
    let referral = draft(&app, &worker, made, "urgent").await;
    walk_to(&app, &worker, referral, made, &["sent"]).await;
    let view = app.get(&format!("/v1/referrals/{referral}"), &worker).await;
    let sent = made + Duration::minutes(1);
    assert_eq!(view.ok()["respond_by"], json!((sent + Duration::minutes(30)).to_rfc3339()));
    assert_eq!(view.ok()["expires_at"], json!((sent + Duration::minutes(600)).to_rfc3339()));
    let stranger = app.other_organisation("elsewhere").await;
    let theirs = app.get("/v1/referral-deadlines", &stranger).await;
    assert_eq!(theirs.ok()["items"][1]["respond_within_minutes"], 24 * 60);
}

#[tokio::test]
async fn overdue_referrals_are_listed_with_how_late_and_reach_the_referrer_s_devices() {
    let app = spawn_app().await;
    app.load_demo().await;
    let worker = app.login("worker1@demo.outpost.test").await;
    let manager = app.login("manager@demo.outpost.test").await;
    let made = whole_seconds_now() - Duration::minutes(40);
    // Emergency: two hours to respond. Sent 39 minutes ago.
    let waiting = draft(&app, &worker, made, "emergency").await;
    walk_to(&app, &worker, waiting, made, &["sent"]).await;
    let answered = draft(&app, &worker, made, "emergency").await;
    walk_to(&app, &worker, answered, made, &["sent", "acknowledged"]).await;
    let mut phone = Device::sign_in(&app, "worker1@demo.outpost.test").await;
    phone.pull(&app).await;
    assert_eq!(phone.record("referral", waiting).unwrap()["overdue_at"], Value::Null);

    let overdue = app.get("/v1/referrals/overdue", &manager).await;
    assert!(overdue.ok()["items"].as_array().unwrap().is_empty(), "{}", overdue.text);
    let run = deadline_job::run(&app.state.db, app.state.clock.now()).await.unwrap();
    assert_eq!(run, deadline_job::DeadlineRun::default());

    // Two hours later, by the server's clock.
    app.state.clock.advance(Duration::hours(2));
    let overdue = app.get("/v1/referrals/overdue", &manager).await;
    let items = overdue.ok()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1, "only the one unanswered: {}", overdue.text);
    assert_eq!(items[0]["referral"]["id"], json!(waiting));
    let late = items[0]["late_by_seconds"].as_i64().unwrap();
    assert!((38 * 60..=42 * 60).contains(&late), "39 minutes late, give or take: {late}");
    app.get("/v1/referrals/overdue", &worker).await.assert_problem(403, "forbidden");

    let run = deadline_job::run(&app.state.db, app.state.clock.now()).await.unwrap();
    assert_eq!(run, deadline_job::DeadlineRun { overdue: 1, ..Default::default() });
    phone.pull(&app).await;
    let held = phone.record("referral", waiting).unwrap();
    assert!(held["overdue_at"].is_string(), "the referrer's phone learns it is overdue: {held}");
    assert_eq!(held["status"], "sent");
    let run = deadline_job::run(&app.state.db, app.state.clock.now()).await.unwrap();
    assert_eq!(run, deadline_job::DeadlineRun::default(), "once only");
}

#[tokio::test]
async fn the_expiry_job_on_two_instances_at_once_expires_each_referral_once() {
    let app = spawn_app().await;
    app.load_demo().await;
    let other = app.spawn_sibling().await;
    let worker = app.login("worker1@demo.outpost.test").await;
    let made = whole_seconds_now() - Duration::days(3);
    let mut referrals = Vec::new();
    for i in 0..24 {
        let referral = draft(&app, &worker, made, "urgent").await;
        let path: &[&str] = if i % 2 == 0 { &["sent"] } else { &["sent", "acknowledged"] };
        walk_to(&app, &worker, referral, made, path).await;
        referrals.push(referral);
    }
    let accepted = draft(&app, &worker, made, "urgent").await;
    walk_to(&app, &worker, accepted, made, &["sent", "accepted"]).await;

    // Urgent referrals expire unanswered after 7 days.
    let later = app.state.clock.now() + Duration::days(5);
    let (a, b) = tokio::join!(
        deadline_job::run(&app.state.db, later),
        deadline_job::run(&other.state.db, later)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.expired + b.expired, 24, "{a:?} {b:?}");
    assert_eq!(
        a.overdue + b.overdue,
        12,
        "the twelve still `sent` were overdue first: {a:?} {b:?}"
    );
    for referral in &referrals {
        let steps = app.get(&format!("/v1/referrals/{referral}/steps"), &worker).await;
        let expired = steps.ok()["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["status"] == "expired")
            .count();
        assert_eq!(expired, 1, "{}", steps.text);
        let view = app.get(&format!("/v1/referrals/{referral}"), &worker).await;
        assert_eq!(view.ok()["status"], "expired");
    }
    let view = app.get(&format!("/v1/referrals/{accepted}"), &worker).await;
    assert_eq!(view.ok()["status"], "accepted", "an answered referral does not expire");
    let report = outpost_api::ops::consistency::run(&app.state.db).await.unwrap();
    let broken: Vec<_> = report.checks.iter().filter(|c| c.violations > 0).collect();
    assert!(broken.is_empty(), "{broken:?}");
}

#[tokio::test]
async fn the_server_runs_the_deadline_job_by_itself() {
    let app = spawn_app_with(|config| config.referral_deadlines_every_secs = 1).await;
    app.load_demo().await;
    let worker = app.login("worker1@demo.outpost.test").await;
    let made = whole_seconds_now() - Duration::days(3);
    let referral = draft(&app, &worker, made, "emergency").await;
    walk_to(&app, &worker, referral, made, &["sent"]).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let view = app.get(&format!("/v1/referrals/{referral}"), &worker).await;
        if view.ok()["status"] == "expired" {
            assert!(view.ok()["overdue_at"].is_string());
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not expired within 15 s: {}", view.text);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
