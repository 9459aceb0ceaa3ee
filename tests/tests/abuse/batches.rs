//! Concurrency at scale and at the edges of a record's life: large batches
//! racing over the same records (on Postgres, a lock per id once filled
//! the shared lock table: 500s), and a conflict resolved while its person
//! is erased (the two once locked the record and the conflict in opposite
//! orders).

use std::{collections::BTreeMap, time::Duration};

use futures_util::future::join_all;
use outpost_tests::{
    Answer, TestApp,
    db::query,
    device::{Device, mutation},
    spawn_app, spawn_app_with,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::support::{
    ADMIN, MANAGER, WORKER1, WORKER2, assert_consistent, list_all, raise_person_conflict,
};

/// Pushes at once, two by two the same.
const PUSHES: usize = 12;
/// Pushes at once, all different: as many as two instances' connection
/// pools (16 each by default) run side by side.
const WIDE: usize = 24;
/// Creates per push: the most one push may carry.
const BATCH: usize = 500;
/// However slow the machine, a wave of pushes ends.
const WAVE_LIMIT: Duration = Duration::from_secs(40);

/// A push from each device at once, push `n` carrying the creates
/// of set `n / copies` under mutation ids of its own. Asserts no 5xx and
/// every mutation `applied` or `duplicate`, each record applied exactly
/// once; answers the statuses counted.
async fn wave(
    app: &TestApp,
    devices: &[Device],
    sets: &[Vec<(Uuid, Value)>],
    copies: usize,
) -> BTreeMap<String, usize> {
    let pushes = devices.iter().enumerate().map(|(n, device)| {
        let batch: Vec<Value> = sets[n / copies]
            .iter()
            .map(|(id, fields)| mutation("person", *id, "create", None, fields.clone()))
            .collect();
        device.push_raw(app, batch)
    });
    let answers: Vec<Answer> = tokio::time::timeout(WAVE_LIMIT, join_all(pushes))
        .await
        .unwrap_or_else(|_| panic!("{} pushes did not end within {WAVE_LIMIT:?}", devices.len()));

    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for answer in &answers {
        if !answer.status.is_success() {
            let text = &answer.text[..answer.text.len().min(300)];
            failures.push(format!("{}: {text}", answer.status));
            continue;
        }
        for result in answer.body["results"].as_array().expect("results") {
            let status = result["status"].as_str().unwrap_or("?").to_owned();
            let original = &result["original_status"];
            let accepted = status == "applied"
                || (status == "duplicate" && (original.is_null() || original == "applied"));
            if !accepted {
                failures.push(format!("not accepted: {result}"));
            }
            *statuses.entry(status).or_default() += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{copies} copies of each set: {} failures, e.g. {:#?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    let records = sets.len() * BATCH;
    let copied = records * (copies - 1);
    assert_eq!(statuses.get("applied"), Some(&records), "each record applied once: {statuses:?}");
    assert_eq!(statuses.get("duplicate").copied().unwrap_or(0), copied, "{statuses:?}");
    statuses
}

/// `count` sets of `BATCH` new people.
fn sets(wave: &str, count: usize) -> Vec<Vec<(Uuid, Value)>> {
    (0..count)
        .map(|set| {
            (0..BATCH)
                .map(|k| (Uuid::now_v7(), json!({ "alias": format!("{wave} {set}.{k}") })))
                .collect()
        })
        .collect()
}

/// Twelve pushes of 500 person creates at once, where pushes 2k and 2k+1
/// carry the same records (ids and fields) under different mutation ids,
/// from different devices; then 24 at once with 500 new records each (a
/// lock per id on Postgres: 24,000 locks in flight, past its shared lock
/// table): no 5xx, every mutation `applied` or `duplicate` (each record
/// applied exactly once), each person stored once, and `outpost admin
/// check` passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_batches_at_once_store_each_record_once() {
    let app = spawn_app_with(|config| config.database_max_connections = 32).await;
    app.load_demo().await;
    let emails = [WORKER1, WORKER2, MANAGER, ADMIN];
    let mut devices = Vec::new();
    for n in 0..WIDE {
        devices.push(Device::sign_in(&app, emails[n % emails.len()]).await);
    }
    let shared = sets("Shared", PUSHES / 2);
    let shared_statuses = wave(&app, &devices[..PUSHES], &shared, 2).await;
    let own = sets("Own", WIDE);
    let own_statuses = wave(&app, &devices, &own, 1).await;

    let total = (shared.len() + own.len()) * BATCH;
    let stored =
        query(&app, "SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS d FROM persons", vec![]).await;
    let (n, d): (i64, i64) =
        (stored[0].try_get("", "n").expect("n"), stored[0].try_get("", "d").expect("d"));
    assert_eq!((n, d), (total as i64, total as i64), "persons stored");
    let manager = app.login(MANAGER).await;
    let listed = list_all(&app, &manager, "/v1/persons").await;
    let mut ids: Vec<&str> = listed.iter().map(|p| p["id"].as_str().expect("id")).collect();
    ids.sort_unstable();
    let mut expected: Vec<String> =
        shared.iter().chain(&own).flatten().map(|(id, _)| id.to_string()).collect();
    expected.sort_unstable();
    assert_eq!(ids, expected, "the persons listed are the ones pushed, once each");
    assert_consistent(&app).await;
    eprintln!(
        "abuse figures: large batches: {PUSHES} pushes of {BATCH} creates at once, two by two \
         the same: {shared_statuses:?}; then {WIDE} all different: {own_statuses:?}; {total} \
         persons stored once each"
    );
}

/// Rounds of the race below: one round seldom lands both in the same
/// instant.
const ROUNDS: usize = 20;

/// A conflict on a person is resolved `take_mine` (by its raiser or a
/// manager) while a manager erases the person (by push or over REST), at
/// once, round after round: neither answer is a 5xx, the conflict ends
/// resolved (whichever came first), and `outpost admin check` passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolving_a_conflict_while_its_person_is_erased_ends_in_answers() {
    let app = spawn_app().await;
    app.load_demo().await;
    let mut phone = Device::sign_in(&app, WORKER1).await;
    let mut desk = Device::sign_in(&app, MANAGER).await;
    let eraser = Device::sign_in(&app, MANAGER).await;
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for round in 0..ROUNDS {
        let (person, conflict, _, _) = raise_person_conflict(
            &app,
            &mut phone,
            &mut desk,
            &format!("Round {round}"),
            &format!("Theirs {round}"),
            &format!("Mine {round}"),
        )
        .await;
        let resolver = if round % 2 == 0 { &phone.token } else { &desk.token };
        let by_push = round % 4 < 2;
        let path = format!("/v1/sync/conflicts/{conflict}/resolve");
        let resolve = app.post(&path, resolver, json!({ "resolution": "take_mine" }));
        let erase = async {
            if by_push {
                let batch = vec![mutation("person", person, "delete", None, json!({}))];
                eraser.push_raw(&app, batch).await
            } else {
                app.delete(&format!("/v1/persons/{person}"), &eraser.token).await
            }
        };
        let (resolved, erased) = tokio::join!(resolve, erase);
        for (what, answer) in [("resolve", &resolved), ("erase", &erased)] {
            assert!(
                answer.status.as_u16() < 500,
                "round {round}, {what}: {} {}",
                answer.status,
                answer.text
            );
        }
        assert!(erased.status.is_success(), "round {round}: the erasure: {}", erased.text);
        if by_push {
            let result = &erased.body["results"][0];
            assert_eq!(result["status"], "applied", "round {round}: {result}");
        }
        if !resolved.status.is_success() {
            let code = resolved.body["code"].as_str().unwrap_or("?");
            assert!(
                resolved.status == 409 && ["already_resolved", "record_deleted"].contains(&code),
                "round {round}: {} {}",
                resolved.status,
                resolved.text
            );
        }
        let seen = app.get(&format!("/v1/sync/conflicts/{conflict}"), &desk.token).await;
        assert_eq!(seen.ok()["status"], "resolved", "round {round}: {}", seen.text);
        let how = seen.body["resolution"].as_str().unwrap_or("?").to_owned();
        assert!(["take_mine", "record_deleted"].contains(&how.as_str()), "round {round}: {how}");
        let gone = app.get(&format!("/v1/persons/{person}"), &desk.token).await;
        assert!(!gone.text.contains(&format!("Mine {round}")), "round {round}: {}", gone.text);
        let answered = match resolved.body["code"].as_str() {
            Some(code) => format!("{} {code}", resolved.status.as_u16()),
            None => resolved.status.as_u16().to_string(),
        };
        *outcomes.entry(format!("{answered} / {how}")).or_default() += 1;
    }
    assert_consistent(&app).await;
    eprintln!(
        "abuse figures: resolve vs erase: {ROUNDS} rounds, (resolve answer / resolution): {outcomes:?}"
    );
}
