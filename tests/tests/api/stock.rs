//! Stock (issue 13): locations, the append-only ledger and on-hand derived
//! from it, exact whatever order phones sync in. Each test fails without
//! the rule it names.

use std::collections::BTreeMap;

use outpost_api::ops::demo::{DEMO_BAG, DEMO_STREET_TEAM, DEMO_VAN};
use outpost_tests::{
    TestApp,
    device::{Device, contact_fields},
    spawn_app,
};
use proptest::prelude::*;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

const WORKER1: &str = "worker1@demo.outpost.test";
const WORKER2: &str = "worker2@demo.outpost.test";
const MANAGER: &str = "manager@demo.outpost.test";

/// A ledger entry's fields.
fn entry(kind: &str, minute: u32, location: &str, item: &str, quantity: i64) -> Value {
    json!({
        "kind": kind,
        "occurred_at": format!("2026-11-20T{:02}:{:02}:00Z", 10 + minute / 60, minute % 60),
        "location_id": location,
        "item_code": item,
        "quantity": quantity,
    })
}

fn transfer(minute: u32, from: &str, to: &str, item: &str, quantity: i64) -> Value {
    let mut e = entry("transfer", minute, from, item, quantity);
    e["to_location_id"] = json!(to);
    e
}

/// On-hand of `item` at `location`, as the REST list shows it (0 when the
/// ledger never touched it).
async fn on_hand(app: &TestApp, token: &str, location: &str, item: &str) -> i64 {
    let page =
        app.get(&format!("/v1/stock/levels?location_id={location}&item_code={item}"), token).await;
    page.ok()["items"].as_array().unwrap().first().map_or(0, |l| l["on_hand"].as_i64().unwrap())
}

async fn push_all(app: &TestApp, device: &mut Device) -> Vec<Value> {
    let results = device.push(app).await;
    for r in &results {
        assert!(["applied", "duplicate"].contains(&r["status"].as_str().unwrap()), "{r}");
    }
    results
}

async fn demo() -> TestApp {
    let app = spawn_app().await;
    app.load_demo().await;
    app
}

#[tokio::test]
async fn receipts_transfers_and_write_offs_move_on_hand() {
    let app = demo().await;
    let manager = app.login(MANAGER).await;
    let mut desk = Device::sign_in(&app, MANAGER).await;
    desk.create("stock_entry", entry("receipt", 0, DEMO_VAN, "foil", 40));
    desk.create("stock_entry", transfer(5, DEMO_VAN, DEMO_BAG, "foil", 15));
    let mut write_off = entry("write_off", 10, DEMO_BAG, "foil", 2);
    write_off["reason"] = json!("damaged");
    desk.create("stock_entry", write_off);
    push_all(&app, &mut desk).await;
    assert_eq!(on_hand(&app, &manager, DEMO_VAN, "foil").await, 25);
    assert_eq!(on_hand(&app, &manager, DEMO_BAG, "foil").await, 13);
}

#[tokio::test]
async fn a_pack_is_stocked_as_its_components() {
    let app = demo().await;
    let manager = app.login(MANAGER).await;
    let mut desk = Device::sign_in(&app, MANAGER).await;
    desk.create("stock_entry", entry("receipt", 0, DEMO_VAN, "injecting_pack_basic", 3));
    push_all(&app, &mut desk).await;
    assert_eq!(on_hand(&app, &manager, DEMO_VAN, "syringe_1ml_29g").await, 30);
    assert_eq!(on_hand(&app, &manager, DEMO_VAN, "swab").await, 30);
    assert_eq!(on_hand(&app, &manager, DEMO_VAN, "injecting_pack_basic").await, 0);
    // Counting a pack is refused: its components are what is counted.
    desk.create("stock_entry", entry("stocktake", 5, DEMO_VAN, "injecting_pack_basic", 1));
    let results = desk.push(&app).await;
    assert_eq!(results[0]["status"], "rejected", "{}", results[0]);
    assert_eq!(results[0]["problem"]["field"], "item_code", "{}", results[0]);
}

#[tokio::test]
async fn a_stocktake_books_the_difference_and_absorbs_what_arrives_late() {
    let app = demo().await;
    let manager = app.login(MANAGER).await;
    let mut phone = Device::sign_in(&app, WORKER1).await;
    let mut desk = Device::sign_in(&app, MANAGER).await;
    phone.create("stock_entry", entry("receipt", 0, DEMO_BAG, "foil", 20));
    push_all(&app, &mut phone).await;
    // Offline on the phone: three more received at 10:30, before the count.
    phone.create("stock_entry", entry("receipt", 30, DEMO_BAG, "foil", 3));
    // The manager counts 22 at 11:00; the ledger held 20 then.
    let count = desk.create("stock_entry", entry("stocktake", 60, DEMO_BAG, "foil", 22));
    push_all(&app, &mut desk).await;
    let stocktake = app.get(&format!("/v1/stock/entries/{count}"), &manager).await;
    assert_eq!(stocktake.ok()["difference"], 2, "{}", stocktake.text);
    assert_eq!(on_hand(&app, &manager, DEMO_BAG, "foil").await, 22);
    // The late receipt was in the bag when it was counted: on-hand stays
    // what was counted.
    push_all(&app, &mut phone).await;
    assert_eq!(on_hand(&app, &manager, DEMO_BAG, "foil").await, 22);
    // A receipt after the count adds to it.
    phone.create("stock_entry", entry("receipt", 90, DEMO_BAG, "foil", 5));
    push_all(&app, &mut phone).await;
    assert_eq!(on_hand(&app, &manager, DEMO_BAG, "foil").await, 27);
}

#[tokio::test]
async fn a_count_that_arrives_late_counts_from_its_own_moment() {
    let app = demo().await;
    let manager = app.login(MANAGER).await;
    let mut phone = Device::sign_in(&app, WORKER1).await;
    let mut desk = Device::sign_in(&app, MANAGER).await;
    desk.create("stock_entry", entry("stocktake", 30, DEMO_BAG, "foil", 10));
    phone.create("stock_entry", entry("receipt", 0, DEMO_BAG, "foil", 4));
    phone.create("stock_entry", entry("receipt", 45, DEMO_BAG, "foil", 6));
    // The receipts arrive first; the 10:30 count an hour later.
    push_all(&app, &mut phone).await;
    assert_eq!(on_hand(&app, &manager, DEMO_BAG, "foil").await, 10);
    push_all(&app, &mut desk).await;
    assert_eq!(on_hand(&app, &manager, DEMO_BAG, "foil").await, 16);
}

#[tokio::test]
async fn the_same_batch_pushed_twice_or_racing_is_booked_once() {
    let app = demo().await;
    let manager = app.login(MANAGER).await;
    let mut desk = Device::sign_in(&app, MANAGER).await;
    desk.create("stock_entry", entry("receipt", 0, DEMO_VAN, "foil", 7));
    desk.create("stock_entry", transfer(5, DEMO_VAN, DEMO_BAG, "foil", 2));
    let batch = json!({ "mutations": desk.outbox.clone() });
    // Two copies at once (a retry racing the original), then a third.
    let (a, b) = tokio::join!(
        app.post("/v1/sync/push", &desk.token, batch.clone()),
        app.post("/v1/sync/push", &desk.token, batch.clone()),
    );
    let c = app.post("/v1/sync/push", &desk.token, batch).await;
    for answer in [&a, &b, &c] {
        for r in answer.ok()["results"].as_array().unwrap() {
            assert!(["applied", "duplicate"].contains(&r["status"].as_str().unwrap()), "{r}");
        }
    }
    assert_eq!(on_hand(&app, &manager, DEMO_VAN, "foil").await, 5);
    assert_eq!(on_hand(&app, &manager, DEMO_BAG, "foil").await, 2);
}

#[tokio::test]
async fn workers_record_receipts_and_only_managers_the_rest() {
    let app = demo().await;
    let mut phone = Device::sign_in(&app, WORKER1).await;
    phone.create("stock_entry", entry("receipt", 0, DEMO_BAG, "foil", 1));
    phone.create("stock_entry", transfer(1, DEMO_BAG, DEMO_VAN, "foil", 1));
    phone.create("stock_entry", entry("stocktake", 2, DEMO_BAG, "foil", 1));
    let mut write_off = entry("write_off", 3, DEMO_BAG, "foil", 1);
    write_off["reason"] = json!("expired");
    phone.create("stock_entry", write_off);
    let results = phone.push(&app).await;
    assert_eq!(results[0]["status"], "applied", "{}", results[0]);
    for r in &results[1..] {
        assert_eq!(r["status"], "rejected", "{r}");
        assert_eq!(r["problem"]["code"], "forbidden", "{r}");
        assert_eq!(r["problem"]["field"], "kind", "{r}");
    }
    // A worker of other sites does not see these locations at all.
    let mut other = Device::sign_in(&app, WORKER2).await;
    other.create("stock_entry", entry("receipt", 0, DEMO_BAG, "foil", 1));
    let results = other.push(&app).await;
    assert_eq!(results[0]["problem"]["code"], "unknown_reference", "{}", results[0]);
    assert_eq!(results[0]["problem"]["field"], "location_id", "{}", results[0]);
}

#[tokio::test]
async fn each_entry_rule_names_its_field() {
    let app = demo().await;
    let mut desk = Device::sign_in(&app, MANAGER).await;
    let cases = [
        (entry("write_off", 0, DEMO_VAN, "foil", 1), "reason"),
        (entry("transfer", 0, DEMO_VAN, "foil", 1), "to_location_id"),
        (transfer(0, DEMO_VAN, DEMO_VAN, "foil", 1), "to_location_id"),
        (
            {
                let mut e = entry("receipt", 0, DEMO_VAN, "foil", 1);
                e["to_location_id"] = json!(DEMO_BAG);
                e
            },
            "to_location_id",
        ),
        (entry("receipt", 0, DEMO_VAN, "foil", 0), "quantity"),
        (entry("receipt", 0, DEMO_VAN, "unicorn_horn", 1), "item_code"),
        (entry("receipt", 0, &Uuid::now_v7().to_string(), "foil", 1), "location_id"),
    ];
    for (fields, _) in &cases {
        desk.create("stock_entry", fields.clone());
    }
    let results = desk.push(&app).await;
    for (r, (fields, field)) in results.iter().zip(&cases) {
        assert_eq!(r["status"], "rejected", "{fields}: {r}");
        assert_eq!(r["problem"]["field"], *field, "{fields}: {r}");
    }
}

#[tokio::test]
async fn locations_are_managed_with_if_match_and_reach_their_site_only() {
    let app = demo().await;
    let manager = app.login(MANAGER).await;
    let worker1 = app.login(WORKER1).await;
    let mut phone1 = Device::sign_in(&app, WORKER1).await;
    let mut phone2 = Device::sign_in(&app, WORKER2).await;
    phone1.pull(&app).await;
    phone2.pull(&app).await;

    let body = json!({ "site_id": DEMO_STREET_TEAM, "kind": "bag", "name": "Night bag 2" });
    app.post("/v1/stock/locations", &worker1, body.clone()).await.assert_problem(403, "forbidden");
    let created = app.post("/v1/stock/locations", &manager, body).await;
    assert_eq!(created.status.as_u16(), 201);
    let id = created.ok()["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/stock/locations/{id}");

    // The street team's worker sees it; the other worker does not.
    phone1.pull(&app).await;
    phone2.pull(&app).await;
    let uuid: Uuid = id.parse().unwrap();
    assert!(phone1.record("stock_location", uuid).is_some(), "worker1 did not receive it");
    assert!(phone2.record("stock_location", uuid).is_none(), "worker2 received another site's bag");
    let worker2 = app.login(WORKER2).await;
    app.get(&path, &worker2).await.assert_problem(404, "not_found");

    // Edits need the current version.
    let edit = json!({ "name": "Night bag 2 (spare)" });
    let answer = app
        .call(Method::PATCH, &path, outpost_tests::Auth::Bearer(&manager), Some(edit.clone()))
        .await;
    answer.assert_problem(400, "if_match_required");
    let stale = app
        .raw(|client, base| {
            client
                .patch(format!("{base}{path}"))
                .bearer_auth(&manager)
                .header("If-Match", "\"7\"")
                .json(&edit)
        })
        .await;
    stale.assert_problem(412, "version_mismatch");
    let archived = app
        .raw(|client, base| {
            client
                .patch(format!("{base}{path}"))
                .bearer_auth(&manager)
                .header("If-Match", "\"1\"")
                .json(&json!({ "archived": true }))
        })
        .await;
    assert_eq!(archived.ok()["version"], 2);
    assert_eq!(archived.headers["etag"], "\"2\"");
    // An archived location takes no more entries.
    phone1.create("stock_entry", entry("receipt", 0, &id, "foil", 1));
    let results = phone1.push(&app).await;
    assert_eq!(results[0]["problem"]["field"], "location_id", "{}", results[0]);
}

#[tokio::test]
async fn entries_reach_their_sites_devices_and_no_others() {
    let app = demo().await;
    let mut desk = Device::sign_in(&app, MANAGER).await;
    let mut phone1 = Device::sign_in(&app, WORKER1).await;
    let mut phone2 = Device::sign_in(&app, WORKER2).await;
    let id = desk.create("stock_entry", entry("receipt", 0, DEMO_VAN, "foil", 9));
    push_all(&app, &mut desk).await;
    phone1.pull(&app).await;
    phone2.pull(&app).await;
    assert!(phone1.record("stock_entry", id).is_some());
    assert!(phone2.record("stock_entry", id).is_none());
    let worker2 = app.login(WORKER2).await;
    app.get(&format!("/v1/stock/entries/{id}"), &worker2).await.assert_problem(404, "not_found");
    let listed = app.get("/v1/stock/levels", &worker2).await;
    assert_eq!(listed.ok()["items"], json!([]), "{}", listed.text);
}

#[tokio::test]
async fn the_ledger_lists_by_filter_in_pages() {
    let app = demo().await;
    let manager = app.login(MANAGER).await;
    let mut desk = Device::sign_in(&app, MANAGER).await;
    for minute in 0..5 {
        desk.create("stock_entry", entry("receipt", minute, DEMO_VAN, "foil", 1));
    }
    desk.create("stock_entry", entry("receipt", 9, DEMO_BAG, "swab", 1));
    push_all(&app, &mut desk).await;
    let page = app
        .get(&format!("/v1/stock/entries?location_id={DEMO_VAN}&item_code=foil&limit=3"), &manager)
        .await;
    let page = page.ok().clone();
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    let after = page["next_after"].as_str().unwrap();
    let rest = app
        .get(
            &format!("/v1/stock/entries?location_id={DEMO_VAN}&item_code=foil&after={after}"),
            &manager,
        )
        .await;
    assert_eq!(rest.ok()["items"].as_array().unwrap().len(), 2);
    assert!(rest.ok()["next_after"].is_null());
    let swabs = app.get("/v1/stock/entries?kind=receipt&item_code=swab", &manager).await;
    assert_eq!(swabs.ok()["items"].as_array().unwrap().len(), 1);
    let late = app.get("/v1/stock/entries?occurred_from=2026-11-20T10:03:00Z", &manager).await;
    assert_eq!(late.ok()["items"].as_array().unwrap().len(), 3);
}

/// A contact handing out `kit` at `minute` from `location`.
fn contact(minute: u32, location: &str, kit: Value) -> Value {
    let mut fields = contact_fields(None, None);
    fields["occurred_at"] = entry("receipt", minute, location, "foil", 1)["occurred_at"].clone();
    fields["kit_lines"] = kit;
    fields["stock_location_id"] = json!(location);
    fields
}

#[tokio::test]
async fn a_contacts_kit_is_booked_out_of_its_location_and_back_when_deleted() {
    let app = demo().await;
    let manager = app.login(MANAGER).await;
    let mut phone = Device::sign_in(&app, WORKER1).await;
    phone.create("stock_entry", entry("receipt", 0, DEMO_BAG, "foil", 20));
    let kit = json!([
        { "item": "foil", "quantity": 2 },
        { "item": "injecting_pack_basic", "quantity": 1 },
    ]);
    let handed = phone.create("contact", contact(10, DEMO_BAG, kit.clone()));
    // A contact with no location moves no stock.
    let mut elsewhere = contact(12, DEMO_BAG, kit);
    elsewhere["stock_location_id"] = Value::Null;
    phone.create("contact", elsewhere);
    push_all(&app, &mut phone).await;
    assert_eq!(on_hand(&app, &manager, DEMO_BAG, "foil").await, 18);
    // The pack's swabs were never received: on-hand goes negative, and
    // the contact is recorded all the same.
    assert_eq!(on_hand(&app, &manager, DEMO_BAG, "swab").await, -10);
    let pulled = app.get(&format!("/v1/contacts/{handed}"), &manager).await;
    assert_eq!(pulled.ok()["stock_location_id"], DEMO_BAG, "{}", pulled.text);

    phone.delete("contact", handed);
    push_all(&app, &mut phone).await;
    assert_eq!(on_hand(&app, &manager, DEMO_BAG, "foil").await, 20);
    assert_eq!(on_hand(&app, &manager, DEMO_BAG, "swab").await, 0);
    // Deleting it again puts nothing back twice.
    phone.delete("contact", handed);
    push_all(&app, &mut phone).await;
    assert_eq!(on_hand(&app, &manager, DEMO_BAG, "foil").await, 20);
}

#[tokio::test]
async fn contacts_synced_after_a_count_they_preceded_leave_it_standing() {
    let app = demo().await;
    let manager = app.login(MANAGER).await;
    let mut phone = Device::sign_in(&app, WORKER1).await;
    let mut desk = Device::sign_in(&app, MANAGER).await;
    phone.create("stock_entry", entry("receipt", 0, DEMO_BAG, "foil", 20));
    push_all(&app, &mut phone).await;
    // Offline all night: kit handed out at 10:30 and 11:30.
    let kit = json!([{ "item": "foil", "quantity": 2 }]);
    phone.create("contact", contact(30, DEMO_BAG, kit.clone()));
    phone.create("contact", contact(90, DEMO_BAG, kit.clone()));
    // The bag is counted at 11:00: 18 left (the 10:30 kit was gone).
    desk.create("stock_entry", entry("stocktake", 60, DEMO_BAG, "foil", 18));
    push_all(&app, &mut desk).await;
    assert_eq!(on_hand(&app, &manager, DEMO_BAG, "foil").await, 18);
    push_all(&app, &mut phone).await;
    assert_eq!(on_hand(&app, &manager, DEMO_BAG, "foil").await, 16);
    // The same night's batch, retried: nothing moves twice.
    phone.create("contact", contact(95, DEMO_BAG, kit));
    let batch = json!({ "mutations": phone.outbox.clone() });
    app.post("/v1/sync/push", &phone.token, batch).await.ok();
    push_all(&app, &mut phone).await;
    assert_eq!(on_hand(&app, &manager, DEMO_BAG, "foil").await, 14);
}

#[tokio::test]
async fn a_contact_cannot_book_kit_out_of_another_sites_location() {
    let app = demo().await;
    let mut phone = Device::sign_in(&app, WORKER2).await;
    phone.create("contact", contact(0, DEMO_BAG, json!([{ "item": "foil", "quantity": 1 }])));
    let results = phone.push(&app).await;
    assert_eq!(results[0]["problem"]["code"], "unknown_reference", "{}", results[0]);
    assert_eq!(results[0]["problem"]["field"], "stock_location_id", "{}", results[0]);
}

/// One ledger entry of the property test: (kind, minute, location, other
/// location, quantity). Kinds 0-3 are ledger entries, 4 a contact handing
/// out kit, 5 a contact deleted later.
type Planned = (usize, u32, usize, usize, i64);

/// On-hand as a stockroom would reckon it, apart from the server: the last
/// count (by time) and everything after it; no count, everything.
fn model(entries: &[Planned]) -> BTreeMap<usize, i64> {
    let mut out = BTreeMap::new();
    for location in 0..2 {
        let mut moves: Vec<(u32, Option<i64>, i64)> = Vec::new(); // (minute, count, delta)
        for &(kind, minute, at, other, q) in entries {
            match kind {
                0 if at == location => moves.push((minute, None, q)),
                1 if at == location => moves.push((minute, None, -q)),
                1 if other == location => moves.push((minute, None, q)),
                2 if at == location => moves.push((minute, Some(q), 0)),
                // A write-off, or a contact's kit (kind 5, deleted later,
                // moves nothing).
                3 | 4 if at == location => moves.push((minute, None, -q)),
                _ => {}
            }
        }
        let last_count = moves.iter().filter(|m| m.1.is_some()).max_by_key(|m| m.0).copied();
        let total = match last_count {
            Some((at, Some(count), _)) => {
                count + moves.iter().filter(|m| m.0 > at).map(|m| m.2).sum::<i64>()
            }
            _ => moves.iter().map(|m| m.2).sum(),
        };
        out.insert(location, total);
    }
    out
}

fn planned() -> impl Strategy<Value = Vec<Planned>> {
    prop::collection::vec((0..6usize, 0..2usize, 1..20i64), 1..12).prop_map(|raw| {
        // Distinct minutes: a count and a movement at the same instant is
        // a question for the stockroom, not for this test.
        raw.into_iter()
            .enumerate()
            .map(|(i, (kind, at, q))| (kind, (i as u32) * 7 % 97, at, 1 - at, q))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, max_shrink_iters: 16, ..ProptestConfig::default() })]

    #[test]
    fn on_hand_equals_the_ledger_and_a_model_whatever_the_arrival(
        entries in planned(),
        order in Just((0..12usize).collect::<Vec<_>>()).prop_shuffle(),
        batches in 1..4usize,
        retries in prop::collection::vec(any::<bool>(), 4),
    ) {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        runtime.block_on(arrive(entries, order, batches, retries));
    }
}

async fn arrive(entries: Vec<Planned>, order: Vec<usize>, batches: usize, retries: Vec<bool>) {
    let app = demo().await;
    let manager = app.login(MANAGER).await;
    let mut desk = Device::sign_in(&app, MANAGER).await;
    let locations = [DEMO_VAN, DEMO_BAG];
    let kinds = ["receipt", "transfer", "stocktake", "write_off"];
    let arrival: Vec<usize> = order.into_iter().filter(|i| *i < entries.len()).collect();
    let per_batch = arrival.len().div_ceil(batches);
    let mut mistaken = Vec::new();
    for (b, chunk) in arrival.chunks(per_batch.max(1)).enumerate() {
        for &i in chunk {
            let (kind, minute, at, other, q) = entries[i];
            if kind >= 4 {
                // A contact; kind 5 is deleted later (a mistaken record).
                let kit = json!([{ "item": "foil", "quantity": q }]);
                let id = desk.create("contact", contact(minute, locations[at], kit));
                if kind == 5 {
                    mistaken.push(id);
                }
                continue;
            }
            let mut fields = entry(kinds[kind], minute, locations[at], "foil", q);
            if kind == 1 {
                fields["to_location_id"] = json!(locations[other]);
            }
            if kind == 3 {
                fields["reason"] = json!("lost");
            }
            desk.create("stock_entry", fields);
        }
        let batch = json!({ "mutations": desk.outbox.clone() });
        if retries[b % retries.len()] {
            // A retry of the batch (the answer lost on the way).
            app.post("/v1/sync/push", &desk.token, batch).await.ok();
        }
        push_all(&app, &mut desk).await;
    }
    for id in mistaken {
        desk.delete("contact", id);
    }
    push_all(&app, &mut desk).await;
    let expected = model(&entries);
    for (i, location) in locations.iter().enumerate() {
        assert_eq!(
            on_hand(&app, &manager, location, "foil").await,
            expected[&i],
            "location {i}, entries {entries:?} in order {arrival:?}"
        );
    }
    let report = outpost_api::ops::consistency::run(&app.state.db).await.unwrap();
    assert!(report.is_consistent(), "{report}");
}

#[tokio::test]
async fn a_late_receipt_a_count_of_nothing_absorbed_leaves_the_ledger_consistent() {
    let app = demo().await;
    let manager = app.login(MANAGER).await;
    let mut desk = Device::sign_in(&app, MANAGER).await;
    // Counted none at 11:00; a receipt of 10:00 arrives after: it was
    // counted (as gone), so on-hand stays 0 and no figure moves at all.
    desk.create("stock_entry", entry("stocktake", 60, DEMO_VAN, "filter", 0));
    push_all(&app, &mut desk).await;
    desk.create("stock_entry", entry("receipt", 0, DEMO_VAN, "filter", 4));
    push_all(&app, &mut desk).await;
    assert_eq!(on_hand(&app, &manager, DEMO_VAN, "filter").await, 0);
    let report = outpost_api::ops::consistency::run(&app.state.db).await.unwrap();
    assert!(report.is_consistent(), "{report}");
}

#[tokio::test]
async fn a_count_racing_a_late_receipt_is_exact_either_way() {
    let app = demo().await;
    let manager = app.login(MANAGER).await;
    let mut desk = Device::sign_in(&app, MANAGER).await;
    let mut phone = Device::sign_in(&app, WORKER1).await;
    for (round, item) in ["foil", "swab", "filter", "cooker", "citric_acid"].iter().enumerate() {
        // A count at 11:00 and a receipt of 10:00 reach two instances at
        // the same moment: whichever commits first, the count stands.
        desk.create("stock_entry", entry("stocktake", 60, DEMO_BAG, item, 7));
        phone.create("stock_entry", entry("receipt", 0, DEMO_BAG, item, 3));
        let (count, receipt) = (
            json!({ "mutations": std::mem::take(&mut desk.outbox) }),
            json!({ "mutations": std::mem::take(&mut phone.outbox) }),
        );
        let (a, b) = tokio::join!(
            app.post("/v1/sync/push", &desk.token, count),
            app.post("/v1/sync/push", &phone.token, receipt),
        );
        for answer in [a, b] {
            assert_eq!(answer.ok()["results"][0]["status"], "applied", "{}", answer.text);
        }
        assert_eq!(on_hand(&app, &manager, DEMO_BAG, item).await, 7, "round {round}");
    }
}

#[tokio::test]
async fn low_stock_reaches_the_sites_devices_as_on_hand_crosses_the_minimum() {
    let app = demo().await;
    let manager = app.login(MANAGER).await;
    let worker1 = app.login(WORKER1).await;
    let mut phone1 = Device::sign_in(&app, WORKER1).await;
    let mut phone2 = Device::sign_in(&app, WORKER2).await;
    let mut desk = Device::sign_in(&app, MANAGER).await;
    let body = json!({ "location_id": DEMO_VAN, "item_code": "foil", "minimum": 10 });
    app.post("/v1/stock/thresholds", &worker1, body.clone()).await.assert_problem(403, "forbidden");
    let created = app.post("/v1/stock/thresholds", &manager, body.clone()).await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    let id: Uuid = created.ok()["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(created.ok()["below"], true, "an empty van is below its minimum");
    app.post("/v1/stock/thresholds", &manager, body).await.assert_problem(409, "threshold_exists");
    let pack =
        json!({ "location_id": DEMO_VAN, "item_code": "injecting_pack_basic", "minimum": 1 });
    let refused = app.post("/v1/stock/thresholds", &manager, pack).await;
    assert_eq!(refused.assert_problem(422, "validation_failed")["field"], "item_code");

    phone1.pull(&app).await;
    phone2.pull(&app).await;
    assert_eq!(phone1.record("stock_threshold", id).unwrap()["below"], true);
    assert!(phone2.record("stock_threshold", id).is_none(), "another site's devices got it");

    // Restocked: no longer low, and the devices learn it.
    desk.create("stock_entry", entry("receipt", 0, DEMO_VAN, "foil", 15));
    push_all(&app, &mut desk).await;
    phone1.pull(&app).await;
    let threshold = phone1.record("stock_threshold", id).unwrap().clone();
    assert_eq!(
        (threshold["below"].clone(), threshold["on_hand"].clone()),
        (json!(false), json!(15))
    );
    let low = app.get("/v1/stock/thresholds?below=true", &manager).await;
    assert_eq!(low.ok()["items"], json!([]), "{}", low.text);

    // Kit handed out takes it under again.
    let kit = json!([{ "item": "foil", "quantity": 6 }]);
    phone1.create("contact", contact(30, DEMO_VAN, kit));
    push_all(&app, &mut phone1).await;
    phone1.pull(&app).await;
    let threshold = phone1.record("stock_threshold", id).unwrap().clone();
    assert_eq!((threshold["below"].clone(), threshold["version"].clone()), (json!(true), json!(3)));
    let low = app.get("/v1/stock/thresholds?below=true", &worker1).await;
    assert_eq!(low.ok()["items"][0]["on_hand"], 9, "{}", low.text);

    // A new minimum needs the current version.
    let path = format!("/v1/stock/thresholds/{id}");
    let edit = |tag: &'static str| {
        let (manager, path) = (manager.clone(), path.clone());
        move |client: &reqwest::Client, base: String| {
            client
                .patch(format!("{base}{path}"))
                .bearer_auth(manager)
                .header("If-Match", tag)
                .json(&json!({ "minimum": 5 }))
        }
    };
    app.raw(edit("\"2\"")).await.assert_problem(412, "version_mismatch");
    let edited = app.raw(edit("\"3\"")).await;
    assert_eq!(edited.ok()["below"], false, "{}", edited.text);
    let report = outpost_api::ops::consistency::run(&app.state.db).await.unwrap();
    assert!(report.is_consistent(), "{report}");
}

#[tokio::test]
async fn a_contact_naming_no_location_takes_its_kit_from_the_devices_bag() {
    let app = demo().await;
    let manager = app.login(MANAGER).await;
    let mut phone = Device::sign_in(&app, WORKER1).await;
    let path = format!("/v1/devices/{}/stock-location", phone.id);
    let set = app.post(&path, &phone.token, json!({ "stock_location_id": DEMO_BAG })).await;
    assert_eq!(set.ok()["stock_location_id"], DEMO_BAG, "{}", set.text);
    let kit = json!([{ "item": "foil", "quantity": 3 }]);
    let mut fields = contact(10, DEMO_BAG, kit.clone());
    fields["stock_location_id"] = Value::Null;
    let from_bag = phone.create("contact", fields);
    // A contact that names a location takes it from there.
    phone.create("contact", contact(11, DEMO_VAN, kit));
    push_all(&app, &mut phone).await;
    assert_eq!(on_hand(&app, &manager, DEMO_BAG, "foil").await, -3);
    assert_eq!(on_hand(&app, &manager, DEMO_VAN, "foil").await, -3);
    let stored = app.get(&format!("/v1/contacts/{from_bag}"), &manager).await;
    assert_eq!(stored.ok()["stock_location_id"], DEMO_BAG, "{}", stored.text);

    // Only a location at the device's user's sites; only one's own device.
    let worker2 = Device::sign_in(&app, WORKER2).await;
    let theirs = format!("/v1/devices/{}/stock-location", worker2.id);
    let body = json!({ "stock_location_id": DEMO_BAG });
    app.post(&theirs, &phone.token, body.clone()).await.assert_problem(404, "not_found");
    let refused = app.post(&theirs, &worker2.token, body).await;
    assert_eq!(refused.assert_problem(422, "validation_failed")["field"], "stock_location_id");
}

#[tokio::test]
async fn a_count_from_a_phone_whose_clock_runs_ahead_counts_from_now() {
    let app = demo().await;
    let manager = app.login(MANAGER).await;
    let mut desk = Device::sign_in(&app, MANAGER).await;
    let at = |hours: i64| {
        (chrono::Utc::now() + chrono::Duration::hours(hours))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let mut count = entry("stocktake", 0, DEMO_BAG, "foil", 10);
    count["occurred_at"] = json!(at(12));
    desk.create("stock_entry", count);
    push_all(&app, &mut desk).await;
    // Kit received an hour from now was not there when the bag was
    // counted (now): it adds to the count, not into it.
    let mut receipt = entry("receipt", 0, DEMO_BAG, "foil", 5);
    receipt["occurred_at"] = json!(at(1));
    desk.create("stock_entry", receipt);
    push_all(&app, &mut desk).await;
    assert_eq!(on_hand(&app, &manager, DEMO_BAG, "foil").await, 15);
}

#[tokio::test]
async fn a_devices_bag_must_be_one_its_user_may_hand_kit_out_of() {
    let app = demo().await;
    let manager = app.login(MANAGER).await;
    let worker2 = Device::sign_in(&app, WORKER2).await;
    // The manager sees the street team's bag; worker2 does not work there.
    let path = format!("/v1/devices/{}/stock-location", worker2.id);
    let refused = app.post(&path, &manager, json!({ "stock_location_id": DEMO_BAG })).await;
    assert_eq!(refused.assert_problem(422, "validation_failed")["field"], "stock_location_id");
    let phone1 = Device::sign_in(&app, WORKER1).await;
    let path = format!("/v1/devices/{}/stock-location", phone1.id);
    let set = app.post(&path, &manager, json!({ "stock_location_id": DEMO_BAG })).await;
    assert_eq!(set.ok()["stock_location_id"], DEMO_BAG, "{}", set.text);
}

/// Edits and crossing pushes at the same moment leave `below` true to
/// on-hand and the ledger consistent. (The race is too narrow here to fail
/// reliably without the claims and row locks that guard it; this checks
/// the outcome, not the locking.)
#[tokio::test]
async fn a_threshold_edited_while_pushes_cross_it_stays_true_to_on_hand() {
    let app = demo().await;
    let manager = app.login(MANAGER).await;
    let mut phone = Device::sign_in(&app, WORKER1).await;
    let body = json!({ "location_id": DEMO_BAG, "item_code": "swab", "minimum": 5 });
    let created = app.post("/v1/stock/thresholds", &manager, body).await;
    let id = created.ok()["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/stock/thresholds/{id}");
    let mut version = 1;
    for round in 0..6 {
        // A receipt or an issue that crosses the minimum, while a manager
        // moves the minimum, at the same moment.
        let quantity = if round % 2 == 0 { 8 } else { 1 };
        let fields = if round % 2 == 0 {
            entry("receipt", round, DEMO_BAG, "swab", quantity)
        } else {
            contact(round, DEMO_BAG, json!([{ "item": "swab", "quantity": 6 }]))
        };
        let kind = if round % 2 == 0 { "stock_entry" } else { "contact" };
        phone.create(kind, fields);
        let batch = json!({ "mutations": std::mem::take(&mut phone.outbox) });
        let tag = format!("\"{version}\"");
        let minimum = json!({ "minimum": 4 + round });
        let edit = app.raw(|client, base| {
            client
                .patch(format!("{base}{path}"))
                .bearer_auth(&manager)
                .header("If-Match", tag.as_str())
                .json(&minimum)
        });
        let (pushed, edited) = tokio::join!(app.post("/v1/sync/push", &phone.token, batch), edit);
        assert_eq!(pushed.ok()["results"][0]["status"], "applied", "{}", pushed.text);
        // The edit wins, or finds the threshold moved on by the push (412).
        assert!(matches!(edited.status.as_u16(), 200 | 412), "{}", edited.text);
        version = app.get(&path, &manager).await.ok()["version"].as_i64().unwrap();
    }
    let report = outpost_api::ops::consistency::run(&app.state.db).await.unwrap();
    assert!(report.is_consistent(), "{report}");
    // Every version a device could hold names one state only: the feed
    // carries the latest, and its `below` is on-hand against the minimum.
    let threshold = app.get(&path, &manager).await.ok().clone();
    let below = threshold["on_hand"].as_i64() < threshold["minimum"].as_i64();
    assert_eq!(threshold["below"], below, "{threshold}");
}
