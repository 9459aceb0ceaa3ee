//! Naloxone supply detail on kit lines (issue 13): required where it
//! matters, consistent, and each refusal names its field.

use outpost_tests::{
    device::{Device, contact_fields},
    spawn_app,
};
use serde_json::{Value, json};

const WORKER1: &str = "worker1@demo.outpost.test";

/// A contact handing out one kit of `item` with `naloxone` as its detail
/// (left out when null).
fn contact(item: &str, naloxone: Value) -> Value {
    let mut fields = contact_fields(None, None);
    let mut line = json!({ "item": item, "quantity": 1 });
    if !naloxone.is_null() {
        line["naloxone"] = naloxone;
    }
    fields["kit_lines"] = json!([line]);
    fields
}

#[tokio::test]
async fn every_consistent_supply_is_recorded_and_every_other_refused_by_field() {
    let app = spawn_app().await;
    app.load_demo().await;
    let mut phone = Device::sign_in(&app, WORKER1).await;
    let overdose = phone.create(
        "incident",
        json!({
            "occurred_at": "2026-11-20T22:00:00Z",
            "incident_type": "naloxone_administered",
            "severity": "serious",
            "naloxone_doses": 1,
        }),
    );
    for r in phone.push(&app).await {
        assert_eq!(r["status"], "applied", "{r}");
    }
    let accepted = [
        json!({ "supply": "first", "recipient": "person_at_risk", "trained": "now" }),
        json!({ "supply": "first", "recipient": "service", "trained": "not_trained" }),
        json!({ "supply": "repeat", "repeat_reason": "lost", "recipient": "family_or_friend",
                "trained": "before" }),
        json!({ "supply": "repeat", "repeat_reason": "used_on_overdose", "recipient": "worker",
                "trained": "before", "incident_id": overdose }),
        json!({ "supply": "repeat", "repeat_reason": "used_on_overdose",
                "recipient": "person_at_risk", "trained": "now" }),
        json!({ "supply": "repeat", "repeat_reason": "confiscated", "recipient": "person_at_risk",
                "trained": "before", "incident_id": null }),
    ];
    let ids: Vec<_> = accepted
        .iter()
        .map(|n| phone.create("contact", contact("naloxone_injectable", n.clone())))
        .collect();
    for r in phone.push(&app).await {
        assert_eq!(r["status"], "applied", "{r}");
    }
    phone.pull(&app).await;
    for (id, sent) in ids.iter().zip(&accepted) {
        let line = &phone.record("contact", *id).unwrap()["kit_lines"][0];
        assert_eq!(line["naloxone"]["supply"], sent["supply"], "{line}");
        assert_eq!(line["naloxone"]["recipient"], sent["recipient"], "{line}");
        assert_eq!(line["naloxone"]["trained"], sent["trained"], "{line}");
    }
    let line = &phone.record("contact", ids[3]).unwrap()["kit_lines"][0];
    assert_eq!(line["naloxone"]["incident_id"], json!(overdose), "{line}");
    let plain = phone.create("contact", contact("foil", Value::Null));
    phone.push(&app).await;
    phone.pull(&app).await;
    assert!(phone.record("contact", plain).unwrap()["kit_lines"][0]["naloxone"].is_null());

    let at = "kit_lines[0].naloxone";
    let refused = [
        ("naloxone_nasal", Value::Null, at.to_owned()),
        (
            "naloxone_nasal",
            json!({ "recipient": "person_at_risk", "trained": "now" }),
            format!("{at}.supply"),
        ),
        (
            "naloxone_nasal",
            json!({ "supply": "first", "trained": "now" }),
            format!("{at}.recipient"),
        ),
        (
            "naloxone_nasal",
            json!({ "supply": "first", "recipient": "worker" }),
            format!("{at}.trained"),
        ),
        (
            "naloxone_nasal",
            json!({ "supply": "repeat", "recipient": "worker", "trained": "now" }),
            format!("{at}.repeat_reason"),
        ),
        (
            "naloxone_nasal",
            json!({ "supply": "first", "repeat_reason": "lost", "recipient": "worker",
                    "trained": "now" }),
            format!("{at}.repeat_reason"),
        ),
        (
            "naloxone_nasal",
            json!({ "supply": "repeat", "repeat_reason": "lost", "recipient": "worker",
                    "trained": "now", "incident_id": overdose }),
            format!("{at}.incident_id"),
        ),
        (
            "naloxone_nasal",
            json!({ "supply": "repeat", "repeat_reason": "used_on_overdose",
                    "recipient": "worker", "trained": "now",
                    "incident_id": uuid::Uuid::now_v7() }),
            format!("{at}.incident_id"),
        ),
        (
            "foil",
            json!({ "supply": "first", "recipient": "worker", "trained": "now" }),
            at.to_owned(),
        ),
        (
            "naloxone_nasal",
            json!({ "supply": "third", "recipient": "worker", "trained": "now" }),
            format!("{at}.supply"),
        ),
    ];
    for (item, naloxone, _) in &refused {
        phone.create("contact", contact(item, naloxone.clone()));
    }
    let results = phone.push(&app).await;
    for (r, (item, naloxone, field)) in results.iter().zip(&refused) {
        assert_eq!(r["status"], "rejected", "{item} {naloxone}: {r}");
        assert_eq!(r["problem"]["field"], field.as_str(), "{item} {naloxone}: {r}");
    }

    // A pack holding a naloxone kit hands one out: it needs the detail too.
    let admin = app.login("admin@demo.outpost.test").await;
    let pack = json!({
        "code": "overdose_pack", "name": "Overdose pack", "category": "other", "unit": "pack",
        "components": [{ "code": "naloxone_nasal", "quantity": 1 }, { "code": "swab", "quantity": 2 }],
    });
    app.post("/v1/kit-items", &admin, pack).await.ok();
    let detail = json!({ "supply": "first", "recipient": "person_at_risk", "trained": "now" });
    phone.create("contact", contact("overdose_pack", Value::Null));
    phone.create("contact", contact("overdose_pack", detail));
    let results = phone.push(&app).await;
    assert_eq!(results[0]["problem"]["field"], at, "{}", results[0]);
    assert_eq!(results[1]["status"], "applied", "{}", results[1]);
}
