//! The unique keys a client can run into answer 409 with their code, also
//! when two requests pass the check before the insert at once; every key
//! of `db::UNIQUE_KEYS` is recognised on this backend, and any other key
//! (a bug of ours, never a client's doing) is not taken for one.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::future::join_all;
use outpost_entity::{kit_item, organisation, substance, substance_name, user};
use outpost_tests::{
    Answer, TestApp,
    outpost_api::db::{UNIQUE_KEYS, unique_key_taken},
    spawn_app,
};
use sea_orm::{ActiveValue::Set, DbErr, EntityTrait, IntoActiveModel};
use serde_json::{Value, json};
use uuid::Uuid;

use super::support::{ADMIN, assert_consistent};

/// Rounds of each race: one round seldom lands both checks in the same
/// instant.
const ROUNDS: usize = 3;

/// Two POSTs of `body(round)` to `path` at once, round after round: one
/// 201 and one 409 `code_taken` naming `code` each time.
async fn two_at_once(app: &TestApp, token: &str, path: &str, body: impl Fn(usize) -> Value) {
    let mut codes = BTreeSet::new();
    for round in 0..ROUNDS {
        let body = body(round);
        codes.insert(body["code"].as_str().expect("code").to_owned());
        let answers: Vec<Answer> =
            join_all((0..2).map(|_| app.post(path, token, body.clone()))).await;
        let mut statuses: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).collect();
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [201, 409],
            "{path} round {round}: {:?}",
            answers.iter().map(|a| &a.text).collect::<Vec<_>>()
        );
        let taken = answers.iter().find(|a| a.status == 409).expect("a 409");
        assert_eq!(taken.assert_problem(409, "code_taken")["field"], "code", "{}", taken.text);
    }
    let listed = app.get(path, token).await;
    let items = listed.ok()["items"].as_array().expect("items");
    for code in codes {
        let copies = items.iter().filter(|i| i["code"] == json!(code)).count();
        assert_eq!(copies, 1, "{path}: {code} stored {copies} times");
    }
}

/// Two kit items with one code at once: one created, one 409 `code_taken`
/// naming `code`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_kit_items_with_one_code_at_once_make_one() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login(ADMIN).await;
    two_at_once(&app, &admin, "/v1/kit-items", |round| {
        json!({ "code": format!("twin_pipe_{round}"), "name": "Twin pipe", "category": "foil_and_smoking", "unit": "each" })
    })
    .await;
    assert_consistent(&app).await;
}

/// Two substances with one code at once: one created, one 409
/// `code_taken` naming `code`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_substances_with_one_code_at_once_make_one() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login(ADMIN).await;
    two_at_once(&app, &admin, "/v1/substances", |round| {
        json!({ "code": format!("twin_{round}"), "name": format!("Twin {round}"), "category": "other", "aliases": [] })
    })
    .await;
    assert_consistent(&app).await;
}

/// The key `err` ran into, as `unique_key_taken` reads it: its code.
#[track_caller]
fn taken(err: Result<impl std::fmt::Debug, DbErr>) -> Option<&'static str> {
    let err = err.expect_err("the insert breaks a unique key");
    unique_key_taken(&err).map(|k| k.code)
}

/// Inserts straight into the database a row that repeats a unique key, for
/// every key of `db::UNIQUE_KEYS`: `unique_key_taken` answers that key's
/// code on this backend. A row that repeats a primary key no client can
/// choose (an account's or organisation's id) is no `UNIQUE_KEYS` key: it
/// answers `None`, so it stays a 500 rather than a made-up 409.
#[tokio::test]
async fn every_listed_unique_key_is_recognised_and_no_other() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login(ADMIN).await;
    let created = app
        .post("/v1/substances", &admin, json!({ "code": "xylazine", "name": "Xylazine", "category": "depressant", "aliases": ["tranq"] }))
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    let created = app
        .post("/v1/kit-items", &admin, json!({ "code": "pipe_glass", "name": "Glass pipe", "category": "foil_and_smoking", "unit": "each" }))
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    let db = &app.state.db;
    let mut seen: BTreeMap<&'static str, &'static str> = BTreeMap::new();

    let account = user::Entity::find().one(db).await.unwrap().expect("an account");
    let mut twin = account.clone().into_active_model();
    twin.id = Set(Uuid::now_v7());
    let code = taken(user::Entity::insert(twin).exec_without_returning(db).await);
    assert_eq!(code, Some("email_taken"), "users: the email");
    seen.insert("users_email_key", "email_taken");

    let name = substance_name::Entity::find().one(db).await.unwrap().expect("a street name");
    let twin = name.clone().into_active_model();
    let code = taken(substance_name::Entity::insert(twin).exec_without_returning(db).await);
    assert_eq!(code, Some("alias_taken"), "substance_names: {}", name.name_key);
    seen.insert("substance_names_pkey", "alias_taken");

    let held = substance::Entity::find().one(db).await.unwrap().expect("a substance");
    let mut twin = held.clone().into_active_model();
    twin.id = Set(Uuid::now_v7());
    let code = taken(substance::Entity::insert(twin).exec_without_returning(db).await);
    assert_eq!(code, Some("code_taken"), "substances: {}", held.code);
    seen.insert("uq_substances_code", "code_taken");

    let item = kit_item::Entity::find().one(db).await.unwrap().expect("a kit item");
    let mut twin = item.clone().into_active_model();
    twin.id = Set(Uuid::now_v7());
    let code = taken(kit_item::Entity::insert(twin).exec_without_returning(db).await);
    assert_eq!(code, Some("code_taken"), "kit_items: {}", item.code);
    seen.insert("uq_kit_items_code", "code_taken");

    let org = organisation::Entity::find().one(db).await.unwrap().expect("an organisation");
    let mut twin = org.clone().into_active_model();
    twin.id = Set(Uuid::now_v7());
    let code = taken(organisation::Entity::insert(twin).exec_without_returning(db).await);
    assert_eq!(code, Some("slug_taken"), "organisations: {}", org.slug);
    seen.insert("organisations_slug_key", "slug_taken");

    // Every key of the table was exercised, with the code it lists.
    let listed: BTreeMap<&str, &str> = UNIQUE_KEYS.iter().map(|k| (k.postgres, k.code)).collect();
    assert_eq!(listed, seen, "a key of db::UNIQUE_KEYS this test does not exercise");

    // Keys no client chooses: not taken for a listed one.
    let mut same_id = account.clone().into_active_model();
    same_id.email = Set(format!("twin-{}@demo.outpost.test", Uuid::now_v7().simple()));
    let code = taken(user::Entity::insert(same_id).exec_without_returning(db).await);
    assert_eq!(code, None, "users' primary key is no client's doing");
    let mut same_id = org.clone().into_active_model();
    same_id.slug = Set(format!("twin-{}", Uuid::now_v7().simple()));
    let code = taken(organisation::Entity::insert(same_id).exec_without_returning(db).await);
    assert_eq!(code, None, "organisations' primary key is no client's doing");
}
