//! Races: many clients sending the same thing at once. Whoever loses a race
//! on a unique key gets the answer a sequential client would have got
//! (`duplicate`, `409`), never a `5xx`, and the database holds each thing
//! once and passes `outpost admin check`.

use std::{
    collections::{BTreeMap, HashMap},
    time::Duration,
};

use futures_util::future::join_all;
use outpost_tests::{
    Answer, PASSWORD, TestApp,
    device::{Device, contact_fields},
    spawn_app,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::support::{ADMIN, MANAGER, WORKER1, WORKER2, assert_consistent, list_all};

const CLIENTS: usize = 20;
const PUSHES_PER_CLIENT: usize = 3;
const STORMS: usize = 3;
/// Creates per storm: half people, half (site-less) contacts.
const POOL: usize = 16;
/// However slow the machine, a storm ends.
const STORM_LIMIT: Duration = Duration::from_secs(30);

/// One create every client may send, with its canonical mutation id.
struct Create {
    entity: &'static str,
    id: Uuid,
    mutation_id: Uuid,
    fields: Value,
}

fn pool(storm: usize) -> Vec<Create> {
    (0..POOL)
        .map(|k| {
            let (entity, fields) = if k % 2 == 0 {
                ("person", json!({ "alias": format!("Storm {storm}.{k}") }))
            } else {
                ("contact", contact_fields(None, None))
            };
            Create { entity, id: Uuid::now_v7(), mutation_id: Uuid::now_v7(), fields }
        })
        .collect()
}

/// Client `client`'s push number `push`: about two thirds of the pool, in
/// an order of its own; half the creates reuse the canonical mutation id,
/// half carry a fresh one; one push in three repeats a mutation.
fn batch(pool: &[Create], client: usize, push: usize) -> Vec<Value> {
    let mut out = Vec::new();
    for n in 0..POOL {
        let k = (n + client * 5) % POOL;
        if (k + client + push) % 3 == 2 {
            continue;
        }
        let create = &pool[k];
        let mutation_id =
            if (k + client).is_multiple_of(2) { create.mutation_id } else { Uuid::now_v7() };
        out.push(json!({
            "mutation_id": mutation_id,
            "entity": create.entity,
            "id": create.id,
            "op": "create",
            "base_version": null,
            "fields": create.fields,
        }));
    }
    if push == 1 {
        out.push(out[0].clone());
    }
    out
}

/// Answers of one storm: statuses counted, and what went wrong.
#[derive(Default)]
struct Tally {
    statuses: BTreeMap<String, usize>,
    failures: Vec<String>,
}

impl Tally {
    fn count(&mut self, answer: &Answer) {
        if !answer.status.is_success() {
            self.failures.push(format!("{}: {}", answer.status, answer.text));
            return;
        }
        for result in answer.body["results"].as_array().into_iter().flatten() {
            let status = result["status"].as_str().unwrap_or("?").to_owned();
            let original = &result["original_status"];
            let accepted = status == "applied"
                || (status == "duplicate" && (original.is_null() || original == "applied"));
            if !accepted {
                self.failures.push(format!("not accepted: {result}"));
            }
            *self.statuses.entry(status).or_default() += 1;
        }
    }
}

/// Twenty devices push overlapping batches of the same creates (same record
/// ids, shared and fresh mutation ids) at once, storm after storm: every
/// mutation is `applied` or `duplicate`, never a 5xx or `id_taken`, and each
/// record is stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_devices_pushing_the_same_creates_store_each_once() {
    let app = spawn_app().await;
    app.load_demo().await;
    let emails = [WORKER1, WORKER2, MANAGER, ADMIN];
    let mut devices = Vec::new();
    for n in 0..CLIENTS {
        devices.push(Device::sign_in(&app, emails[n % emails.len()]).await);
    }

    let mut total = Tally::default();
    let mut pools = Vec::new();
    for storm in 0..STORMS {
        let pool = pool(storm);
        let clients = devices.iter().enumerate().map(|(client, device)| {
            let pool = &pool;
            let app = &app;
            async move {
                let mut answers = Vec::new();
                for push in 0..PUSHES_PER_CLIENT {
                    answers.push(device.push_raw(app, batch(pool, client, push)).await);
                }
                answers
            }
        });
        let answers = tokio::time::timeout(STORM_LIMIT, join_all(clients))
            .await
            .unwrap_or_else(|_| panic!("storm {storm} did not end within {STORM_LIMIT:?}"));
        let mut tally = Tally::default();
        for answer in answers.iter().flatten() {
            tally.count(answer);
        }
        assert!(
            tally.failures.is_empty(),
            "storm {storm}: {} failures, e.g. {:#?}",
            tally.failures.len(),
            &tally.failures[..tally.failures.len().min(5)]
        );
        for (status, n) in tally.statuses {
            *total.statuses.entry(status).or_default() += n;
        }
        pools.push(pool);
    }

    // Each record is stored once: the REST lists, the feed and the tables.
    let manager = app.login(MANAGER).await;
    let persons = list_all(&app, &manager, "/v1/persons").await;
    let contacts = list_all(&app, &manager, "/v1/contacts").await;
    let mut reader = Device::sign_in(&app, MANAGER).await;
    reader.pull(&app).await;
    let mut pulled: HashMap<(String, String), usize> = HashMap::new();
    for (entity, id, op, _) in &reader.received {
        if op == "upsert" {
            *pulled.entry((entity.clone(), id.clone())).or_default() += 1;
        }
    }
    for create in pools.iter().flatten() {
        let id = create.id.to_string();
        let listed = if create.entity == "person" { &persons } else { &contacts };
        let copies: Vec<&Value> = listed.iter().filter(|r| r["id"] == id).collect();
        assert_eq!(copies.len(), 1, "{} {id} listed {} times", create.entity, copies.len());
        if create.entity == "contact" {
            let lines = copies[0]["kit_lines"].as_array().map(Vec::len);
            assert_eq!(lines, Some(2), "kit lines of contact {id}");
        }
        let feed = pulled.get(&(create.entity.to_owned(), id.clone())).copied();
        assert_eq!(feed, Some(1), "{} {id} pulled", create.entity);
    }
    assert_eq!(persons.len(), STORMS * POOL / 2, "no other person was stored");
    assert_eq!(contacts.len(), STORMS * POOL / 2, "no other contact was stored");
    assert_consistent(&app).await;
    eprintln!(
        "abuse figures: storms: {STORMS} storms of {} pushes from {CLIENTS} devices, {} \
         mutations answered {:?}, 0 failures; {} records stored once each",
        CLIENTS * PUSHES_PER_CLIENT,
        total.statuses.values().sum::<usize>(),
        total.statuses,
        STORMS * POOL
    );
}

/// Status codes of `answers`, counted.
fn statuses(answers: &[Answer]) -> BTreeMap<u16, usize> {
    let mut out = BTreeMap::new();
    for answer in answers {
        *out.entry(answer.status.as_u16()).or_default() += 1;
    }
    out
}

/// The email check and the insert race: the losers must get the 409 a
/// sequential request gets, not the unique key's 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_accounts_with_one_email_at_once_make_one() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login(ADMIN).await;
    let email = "twin@demo.outpost.test";
    let body =
        json!({ "email": email, "display_name": "Twin", "role": "worker", "password": PASSWORD });
    let answers = join_all((0..10).map(|_| app.post("/v1/users", &admin, body.clone()))).await;
    let counted = statuses(&answers);
    assert_eq!(counted.get(&201), Some(&1), "exactly one created: {counted:?}");
    for answer in answers.iter().filter(|a| a.status != 201) {
        assert_eq!(answer.assert_problem(409, "email_taken")["field"], "email");
    }
    let users = list_users(&app, &admin).await;
    assert_eq!(users.iter().filter(|u| u["email"] == email).count(), 1);
}

async fn list_users(app: &TestApp, token: &str) -> Vec<Value> {
    app.get("/v1/users", token).await.ok()["items"].as_array().unwrap().clone()
}

fn device(id: Uuid) -> Value {
    json!({ "id": id, "name": "Shared phone", "platform": "android" })
}

/// Rounds of the device races: one round seldom lands two registrations
/// in the same instant; four stay within the login limit of one address
/// (60 a minute).
const LOGIN_ROUNDS: usize = 4;

/// A phone retrying its first login: every try registers (or finds) the
/// same device for the same user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_logins_registering_one_new_device_all_succeed() {
    let app = spawn_app().await;
    app.load_demo().await;
    let mut phones = Vec::new();
    for _ in 0..LOGIN_ROUNDS {
        let phone = Uuid::now_v7();
        let logins = (0..10).map(|_| app.try_login(WORKER1, PASSWORD, Some(device(phone))));
        let answers = join_all(logins).await;
        let counted = statuses(&answers);
        assert_eq!(counted, BTreeMap::from([(200, 10)]), "{:?}", first_failure(&answers));
        phones.push(phone.to_string());
    }
    let admin = app.login(ADMIN).await;
    let devices = app.get("/v1/devices", &admin).await;
    let registered = devices.ok()["items"].as_array().unwrap();
    for phone in &phones {
        let copies = registered.iter().filter(|d| d["id"] == *phone).count();
        assert_eq!(copies, 1, "device {phone} registered {copies} times");
    }
}

/// Two users claiming one new device id at once: one gets it, the other is
/// refused as a sequential login would be.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_registering_one_new_device_at_once_one_gets_it() {
    let app = spawn_app().await;
    app.load_demo().await;
    let app = &app;
    for _ in 0..LOGIN_ROUNDS {
        let phone = Uuid::now_v7();
        let attempts = (0..10).map(|n| {
            let email = if n % 2 == 0 { WORKER1 } else { WORKER2 };
            async move { (email, app.try_login(email, PASSWORD, Some(device(phone))).await) }
        });
        let answers = join_all(attempts).await;
        let mut by_user: HashMap<&str, Vec<u16>> = HashMap::new();
        for (email, answer) in &answers {
            assert!(answer.status.as_u16() < 500, "{email}: {} {}", answer.status, answer.text);
            if answer.status != 200 {
                answer.assert_problem(409, "device_registered_to_another_user");
            }
            by_user.entry(email).or_default().push(answer.status.as_u16());
        }
        let all = |status: u16| by_user.values().filter(|s| s.iter().all(|s| *s == status)).count();
        assert_eq!((all(200), all(409)), (1, 1), "one user gets the device: {by_user:?}");
    }
}

fn first_failure(answers: &[Answer]) -> Option<String> {
    answers.iter().find(|a| a.status != 200).map(|a| format!("{} {}", a.status, a.text))
}

/// A street name maps to one substance code: ten substances claiming it at
/// once leave exactly one holding it. Three rounds, each with a street name
/// of its own, since one round seldom lands two checks in the same instant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_substances_claiming_one_street_name_at_once_one_gets_it() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login(ADMIN).await;
    let aliases = ["Sparkle Cloud", "Moon Dust", "Blue Lagoon"];
    for (round, alias) in aliases.iter().enumerate() {
        let creates = (0..10).map(|n| {
            let body = json!({
                "code": format!("race_{round}_{n}"), "name": format!("Race {round}.{n}"),
                "category": "other", "aliases": [alias],
            });
            let (app, admin) = (&app, &admin);
            async move { app.post("/v1/substances", admin, body).await }
        });
        let answers = join_all(creates).await;
        let counted = statuses(&answers);
        assert_eq!(counted.get(&201), Some(&1), "{alias}: exactly one created: {counted:?}");
        for answer in answers.iter().filter(|a| a.status != 201) {
            answer.assert_problem(409, "alias_taken");
        }
    }
    let listed = app.get("/v1/substances", &admin).await;
    let items = listed.ok()["items"].as_array().unwrap();
    for alias in aliases {
        let named =
            |s: &&Value| s["aliases"].as_array().unwrap().iter().any(|a| a.as_str() == Some(alias));
        assert_eq!(items.iter().filter(named).count(), 1, "{alias} names one substance");
    }
    let races = items.iter().filter(|s| s["code"].as_str().unwrap().starts_with("race_"));
    assert_eq!(races.count(), aliases.len(), "the refused substances were not stored");
    assert_consistent(&app).await;
}
