//! `outpost admin check` (ops::consistency): passes on a database the
//! API wrote, and each check fails once the rule it guards is broken with
//! raw SQL, so none can pass vacuously.

use outpost_api::ops::consistency;
use outpost_tests::{
    TestApp,
    db::{exec, query},
    device::Device,
    device::contact_fields,
    spawn_app,
};
use sea_orm::Value;
use serde_json::json;
use uuid::Uuid;

/// The id of the organisation called `slug`.
async fn org_id(app: &TestApp, slug: &str) -> Uuid {
    let rows = query(app, "SELECT id FROM organisations WHERE slug = ?", vec![slug.into()]).await;
    rows.first().unwrap().try_get::<Uuid>("", "id").unwrap()
}

async fn check(app: &TestApp) -> consistency::Report {
    consistency::run(&app.state.db).await.unwrap()
}

/// Records of every synced kind, live and deleted, with revisions and a
/// status step.
async fn record_a_night(app: &TestApp) {
    let mut phone = Device::sign_in(app, "worker1@demo.outpost.test").await;
    let mut desk = Device::sign_in(app, "manager@demo.outpost.test").await;
    let sites = app.get("/v1/sites", &phone.token).await;
    let site = sites.ok()["items"][0]["id"].as_str().unwrap().to_owned();

    let person = phone.create("person", json!({ "alias": "Jay", "name_quality": "street_name" }));
    let gone = phone.create("person", json!({ "alias": "Sky" }));
    phone.create("contact", contact_fields(Some(&site), Some(person)));
    let wrong = phone.create("contact", contact_fields(Some(&site), None));
    let incident = json!({
        "occurred_at": "2026-11-21T02:40:00Z",
        "site_id": site,
        "incident_type": "suspected_overdose",
        "severity": "serious",
        "people": [{ "person_id": person }, { "unknown_party": "friend" }],
        "substances": ["Spice"],
        "naloxone_doses": 1,
        "outcome": "recovered_on_site"
    });
    phone.create("incident", incident.clone());
    let mistaken = phone.create("incident", incident);
    let referral = json!({
        "person_id": person,
        "service_type": "housing",
        "reason": "Sleeping out, wants a hostel place.",
        "consent_to_share": true,
        "urgency": "soon",
        "site_id": site
    });
    let sent = phone.create("referral", referral.clone());
    // A step in the same batch as its referral moves the referral to
    // version 2 in that batch.
    phone.create(
        "referral_step",
        json!({ "referral_id": sent, "status": "sent", "occurred_at": "2026-11-21T03:10:00Z" }),
    );
    let withdrawn = phone.create("referral", referral);
    let consent = phone.create(
        "consent",
        json!({ "person_id": person, "purposes": ["direct_care"], "how": "verbal",
                "occurred_at": "2026-11-21T02:50:00Z" }),
    );
    phone.create(
        "consent_revocation",
        json!({ "consent_id": consent, "how": "verbal", "occurred_at": "2026-11-21T03:20:00Z" }),
    );
    for r in phone.push(app).await {
        assert_eq!(r["status"], "applied", "{r}");
    }
    phone.pull(app).await;
    desk.pull(app).await;

    phone.update("person", person, json!({ "alias": "Jaybird" }));
    phone.update("referral", sent, json!({ "urgency": "urgent" }));
    phone.delete("contact", wrong);
    phone.delete("incident", mistaken);
    phone.delete("referral", withdrawn);
    for r in phone.push(app).await {
        assert_eq!(r["status"], "applied", "{r}");
    }
    desk.update("person", person, json!({ "alias": "J" }));
    desk.delete("person", gone);
    let results = desk.push(app).await;
    assert!(
        results
            .iter()
            .all(|r| ["applied", "merged", "conflict"].contains(&r["status"].as_str().unwrap())),
        "{results:?}"
    );
    stock_a_night(app, &mut phone, &mut desk).await;
}

/// A receipt, a transfer, a stocktake, and a receipt from before the count
/// that reaches the server after it (booked with its correction).
async fn stock_a_night(app: &TestApp, phone: &mut Device, desk: &mut Device) {
    let (van, bag) = (outpost_api::ops::demo::DEMO_VAN, outpost_api::ops::demo::DEMO_BAG);
    let entry = |kind: &str, at: &str, location: &str, quantity: i64| {
        json!({
            "kind": kind, "occurred_at": at, "location_id": location,
            "item_code": "foil", "quantity": quantity,
        })
    };
    phone.create("stock_entry", entry("receipt", "2026-11-20T18:00:00Z", bag, 20));
    let mut transfer = entry("transfer", "2026-11-20T19:00:00Z", van, 5);
    transfer["to_location_id"] = json!(bag);
    desk.create("stock_entry", transfer);
    desk.create("stock_entry", entry("stocktake", "2026-11-21T06:00:00Z", bag, 22));
    for r in desk.push(app).await.into_iter().chain(phone.push(app).await) {
        assert_eq!(r["status"], "applied", "{r}");
    }
    phone.create("stock_entry", entry("receipt", "2026-11-20T21:00:00Z", bag, 3));
    // Kit handed out from the bag, once by mistake.
    let mut contact = contact_fields(None, None);
    contact["stock_location_id"] = json!(bag);
    phone.create("contact", contact.clone());
    let mistaken = phone.create("contact", contact);
    for r in phone.push(app).await {
        assert_eq!(r["status"], "applied", "{r}");
    }
    phone.delete("contact", mistaken);
    for r in phone.push(app).await {
        assert_eq!(r["status"], "applied", "{r}");
    }
    let threshold = json!({ "location_id": bag, "item_code": "foil", "minimum": 100 });
    app.post("/v1/stock/thresholds", &desk.token, threshold).await.ok();
}

#[tokio::test]
async fn a_database_written_through_the_api_is_consistent() {
    let app = spawn_app().await;
    app.load_demo().await;
    record_a_night(&app).await;
    let report = check(&app).await;
    assert!(report.is_consistent(), "{report}");
}

#[tokio::test]
async fn every_check_fails_when_its_rule_is_broken() {
    let app = spawn_app().await;
    app.load_demo().await;
    record_a_night(&app).await;
    let before = check(&app).await;
    assert!(before.is_consistent(), "{before}");

    let other_admin = app.other_organisation("elsewhere").await;
    let other = org_id(&app, "elsewhere").await;
    let other_site = app
        .post("/v1/sites", &other_admin, json!({ "name": "Elsewhere hub", "kind": "day_centre" }))
        .await
        .ok()["id"]
        .as_str()
        .unwrap()
        .parse::<Uuid>()
        .unwrap();
    let stranger = Uuid::now_v7();
    let o = || Value::from(other);
    let s = || Value::from(stranger);

    // (statement, values, the checks it must break)
    let corruptions: Vec<(&str, Vec<Value>, &[&str])> = vec![
        (
            "UPDATE referrals SET status = 'closed' WHERE status = 'sent'",
            vec![],
            &["referrals.status_follows_steps"],
        ),
        ("UPDATE referral_steps SET flag = 'made up'", vec![], &["referrals.steps_flagged"]),
        ("UPDATE consents SET revoked_at = NULL", vec![], &["consents.revoked_at_earliest"]),
        (
            "INSERT INTO webhook_deliveries (id, organisation_id, endpoint_id, event, payload, \
             status, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, 'referral_sent', \
             '{}', 'failed', 1, '2026-12-01T00:00:00+00:00', '2026-12-01T00:00:00+00:00')",
            vec![s(), o(), Value::from(Uuid::now_v7())],
            &["tenancy.webhook_deliveries.endpoint_id"],
        ),
        (
            "INSERT INTO webhook_attempts (id, organisation_id, delivery_id, attempted_at, \
             latency_ms) VALUES (?, ?, ?, '2026-12-01T00:00:00+00:00', 5)",
            vec![s(), o(), Value::from(Uuid::now_v7())],
            &["tenancy.webhook_attempts.delivery_id"],
        ),
        (
            // An inbox row for a referral that was never sent to its holder.
            "INSERT INTO referral_shares (organisation_id, referral_id, referrer_organisation_id, \
             partner_service_id, person_id, identifiable, version, shared_at) \
             VALUES (?, ?, ?, ?, ?, false, 1, '2026-12-01T00:00:00+00:00')",
            vec![o(), s(), o(), s(), s()],
            &["sharing.live_shares_linked"],
        ),
        ("UPDATE kit_lines SET organisation_id = ?", vec![o()], &["tenancy.kit_lines.contact_id"]),
        (
            "UPDATE referral_steps SET organisation_id = ?",
            vec![o()],
            &[
                "tenancy.referral_steps.referral_id",
                "tenancy.referral_steps.recorded_by",
                "feed.live_record_entry.referral_step",
                "feed.entry_record.referral_step",
            ],
        ),
        (
            "UPDATE consents SET organisation_id = ?",
            vec![o()],
            &[
                "tenancy.consents.person_id",
                "tenancy.consents.recorded_by",
                "tenancy.consent_revocations.consent_id",
                "feed.live_record_entry.consent",
                "feed.entry_record.consent",
            ],
        ),
        (
            "UPDATE consent_revocations SET person_id = ?",
            vec![s()],
            &["tenancy.consent_revocations.person_id"],
        ),
        (
            "UPDATE consent_revocations SET organisation_id = ?",
            vec![o()],
            &["feed.live_record_entry.consent_revocation", "feed.entry_record.consent_revocation"],
        ),
        ("UPDATE contacts SET site_id = ?", vec![s()], &["tenancy.contacts.site_id"]),
        ("UPDATE incidents SET site_id = ?", vec![s()], &["tenancy.incidents.site_id"]),
        ("UPDATE referrals SET site_id = ?", vec![s()], &["tenancy.referrals.site_id"]),
        (
            "UPDATE referrals SET partner_service_id = ?",
            vec![s()],
            &["tenancy.referrals.partner_service_id"],
        ),
        ("UPDATE persons SET created_by = ?", vec![s()], &["tenancy.persons.created_by"]),
        (
            "UPDATE contacts SET recorded_by = ?, device_id = ?",
            vec![s(), s()],
            &["tenancy.contacts.recorded_by", "tenancy.contacts.device_id"],
        ),
        (
            "UPDATE incidents SET recorded_by = ?, device_id = ?",
            vec![s(), s()],
            &["tenancy.incidents.recorded_by", "tenancy.incidents.device_id"],
        ),
        ("UPDATE referrals SET recorded_by = ?", vec![s()], &["tenancy.referrals.recorded_by"]),
        (
            "UPDATE user_sites SET site_id = ? WHERE (user_id, site_id) IN \
             (SELECT user_id, site_id FROM user_sites LIMIT 1)",
            vec![Value::from(other_site)],
            &["tenancy.user_sites"],
        ),
        (
            "UPDATE contacts SET worker_ids = ?",
            vec![format!("[\"{stranger}\"]").into()],
            &["tenancy.contacts.worker_ids"],
        ),
        (
            "UPDATE incidents SET people = ?",
            vec![format!("[{{\"person_id\": \"{stranger}\"}}]").into()],
            &["tenancy.incidents.people"],
        ),
        (
            "INSERT INTO sync_conflicts (id, organisation_id, entity, record_id, fields, \
             base_version, server_version, mutation_id, status, version, created_at, updated_at) \
             SELECT ?, id, 'person', ?, '{}', 1, 2, ?, 'open', 1, created_at, created_at \
             FROM organisations WHERE slug = 'elsewhere'",
            vec![Uuid::now_v7().into(), s(), Uuid::now_v7().into()],
            &["tenancy.sync_conflicts"],
        ),
        (
            "UPDATE record_revisions SET organisation_id = ? WHERE entity = 'referral'",
            vec![o()],
            &["tenancy.record_revisions.referral"],
        ),
        (
            // Moving the people away breaks everything that points at them.
            "UPDATE persons SET organisation_id = ?",
            vec![o()],
            &[
                "tenancy.contacts.person_id",
                "tenancy.referrals.person_id",
                "tenancy.record_revisions.person",
                "feed.live_record_entry.person",
                "feed.tombstone_entry.person",
                "feed.entry_record.person",
            ],
        ),
        (
            "UPDATE sync_counters SET horizon_seq = last_seq + 1",
            vec![],
            &["feed.horizon_within_counter"],
        ),
        (
            "INSERT INTO sync_changes (organisation_id, seq, entity, record_id, op, version, \
             visibility, site_id, owner_user_id, audience_user_id, changed_at) \
             SELECT organisation_id, seq + 100000, entity, record_id, op, version, visibility, \
             site_id, owner_user_id, audience_user_id, changed_at FROM sync_changes \
             WHERE entity = 'contact'",
            vec![],
            &["feed.one_entry_per_record", "feed.seq_within_counter"],
        ),
        (
            "UPDATE sync_changes SET op = 'evict' WHERE entity = 'kit_item' \
             AND audience_user_id IS NULL",
            vec![],
            &["feed.ops"],
        ),
        (
            "UPDATE sync_changes SET version = version + 7 \
             WHERE entity IN ('contact', 'incident', 'referral')",
            vec![],
            &[
                "feed.live_record_entry.contact",
                "feed.live_record_entry.incident",
                "feed.live_record_entry.referral",
                "feed.tombstone_entry.contact",
                "feed.tombstone_entry.incident",
                "feed.tombstone_entry.referral",
            ],
        ),
        (
            "UPDATE sync_changes SET record_id = ? WHERE entity IN ('contact', 'incident', \
             'referral')",
            vec![s()],
            &[
                "feed.entry_record.contact",
                "feed.entry_record.incident",
                "feed.entry_record.referral",
            ],
        ),
        (
            "UPDATE record_revisions SET version = version + 100",
            vec![],
            &[
                "revisions.first.person",
                "revisions.first.referral",
                "revisions.within_version.person",
                "revisions.within_version.referral",
                "revisions.field_versions.person",
                "revisions.field_versions.referral",
            ],
        ),
        ("UPDATE sync_mutations SET result = 'not json'", vec![], &["sync_mutations.result"]),
        (
            // A street name written onto a second substance behind the
            // key's back (as concurrent creates once could).
            "UPDATE substances SET aliases = '[\"Spice\"]' WHERE code = 'heroin'",
            vec![],
            &["substances.names_unique", "substances.names_keyed"],
        ),
        (
            "DELETE FROM substance_names WHERE name_key = 'rock'",
            vec![],
            &["substances.names_keyed"],
        ),
        ("UPDATE stock_levels SET on_hand = on_hand + 1", vec![], &["stock.on_hand_is_ledger_sum"]),
        (
            "DELETE FROM stock_movements WHERE cause = 'reversal'",
            vec![],
            &["stock.deleted_contacts_reversed"],
        ),
        ("DELETE FROM stock_movements WHERE cause = 'issue'", vec![], &["stock.contacts_issued"]),
        (
            "UPDATE contacts SET stock_location_id = ? WHERE stock_location_id IS NOT NULL",
            vec![s()],
            &["tenancy.contacts.stock_location_id"],
        ),
        (
            "UPDATE stock_movements SET absorbed_by = ? WHERE cause = 'correction'",
            vec![s()],
            &["stock.corrections_absorbed"],
        ),
        ("DELETE FROM stock_movements WHERE cause = 'entry'", vec![], &["stock.entries_booked"]),
        (
            "UPDATE stock_movements SET location_id = ?",
            vec![s()],
            &["tenancy.stock_movements.location_id"],
        ),
        (
            "UPDATE stock_levels SET location_id = ? WHERE location_id = \
             (SELECT location_id FROM stock_levels LIMIT 1)",
            vec![s()],
            &["tenancy.stock_levels.location_id"],
        ),
        (
            "UPDATE stock_entries SET location_id = ?, site_id = ?, recorded_by = ?",
            vec![s(), s(), s()],
            &[
                "tenancy.stock_entries.location_id",
                "tenancy.stock_entries.site_id",
                "tenancy.stock_entries.recorded_by",
            ],
        ),
        (
            "UPDATE stock_entries SET to_location_id = ? WHERE kind = 'transfer'",
            vec![s()],
            &["tenancy.stock_entries.to_location_id"],
        ),
        ("UPDATE stock_thresholds SET below = NOT below", vec![], &["stock.thresholds_below"]),
        (
            "UPDATE stock_thresholds SET site_id = ?",
            vec![s()],
            &["tenancy.stock_thresholds.site_id"],
        ),
        ("UPDATE stock_entries SET device_id = ?", vec![s()], &["tenancy.stock_entries.device_id"]),
        (
            "UPDATE devices SET stock_location_id = ?",
            vec![s()],
            &["tenancy.devices.stock_location_id"],
        ),
        (
            "UPDATE stock_thresholds SET location_id = ?",
            vec![s()],
            &["tenancy.stock_thresholds.location_id"],
        ),
        ("UPDATE stock_locations SET site_id = ?", vec![s()], &["tenancy.stock_locations.site_id"]),
        (
            "UPDATE sync_changes SET record_id = ? WHERE entity = 'stock_entry'",
            vec![s()],
            &["feed.entry_record.stock_entry", "feed.live_record_entry.stock_entry"],
        ),
    ];

    let mut broken = std::collections::BTreeSet::new();
    for (sql, values, checks) in corruptions {
        let was = check(&app).await;
        exec(&app, sql, values).await;
        let now = check(&app).await;
        for name in checks {
            let (b, a) = (was.violations(name), now.violations(name));
            assert!(a.is_some(), "no check called {name}");
            assert!(a > b, "{sql} should break {name} ({b:?} -> {a:?})\n{now}");
            broken.insert(name.to_string());
        }
    }
    // A row of an organisation that does not exist. Postgres has no key
    // to refuse it on these tables; SQLite keeps its keys, so there the
    // check is broken with their enforcement off for a moment.
    let sqlite = app.state.db.get_database_backend() == sea_orm::DbBackend::Sqlite;
    if sqlite {
        exec(&app, "PRAGMA foreign_keys = OFF", vec![]).await;
    }
    for table in consistency::organisation_unkeyed() {
        let name = format!("tenancy.{table}.organisation");
        let was = check(&app).await.violations(&name);
        // One organisation's rows, all of them (a key may pair the
        // organisation with a number).
        let sql = format!(
            "UPDATE {table} SET organisation_id = ? WHERE organisation_id = \
             (SELECT organisation_id FROM {table} LIMIT 1)"
        );
        exec(&app, &sql, vec![s()]).await;
        let now = check(&app).await.violations(&name);
        assert!(now > was, "{sql} should break {name} ({was:?} -> {now:?})");
        broken.insert(name);
    }
    if sqlite {
        exec(&app, "PRAGMA foreign_keys = ON", vec![]).await;
    }

    let report = check(&app).await;
    assert!(!report.is_consistent());
    // Every check was broken on purpose, except the one the primary key
    // (organisation_id, seq) makes impossible to break.
    let never: Vec<&str> = report
        .checks
        .iter()
        .map(|c| c.name.as_str())
        .filter(|n| !broken.contains(*n) && *n != "feed.unique_seq")
        .collect();
    assert!(never.is_empty(), "checks no corruption broke: {never:?}");
}
