//! Reference data: the kit catalogue, substances and partner services that
//! every organisation starts with, edited by admins, read by everyone, and
//! put on the change feed for devices.

use outpost_api::{
    records::reference::{catalogue::Catalogue, render as records_json},
    sync::EntityKind,
};
use outpost_entity::sync_change;
use outpost_tests::{Auth, TestApp, spawn_app};
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

async fn organisation_id(app: &TestApp, token: &str) -> Uuid {
    app.get("/v1/organisation", token).await.ok()["id"].as_str().unwrap().parse().unwrap()
}

fn find<'a>(list: &'a Value, key: &str, value: &str) -> Option<&'a Value> {
    list["items"].as_array().unwrap().iter().find(|i| i[key] == value)
}

/// The feed entries of one record.
async fn feed_of(app: &TestApp, org: Uuid, record: &str) -> Vec<sync_change::Model> {
    sync_change::Entity::find()
        .filter(sync_change::Column::OrganisationId.eq(org))
        .filter(sync_change::Column::RecordId.eq(record.parse::<Uuid>().unwrap()))
        .all(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_new_organisation_starts_with_the_default_catalogue_and_substances() {
    let app = spawn_app().await;
    app.load_demo().await;
    let worker = app.login("worker1@demo.outpost.test").await;

    let kit = app.get("/v1/kit-items", &worker).await;
    let kit = kit.ok();
    for code in ["syringe_1ml_29g", "swab", "sharps_bin_5l", "naloxone_nasal", "info_pack_nps"] {
        let item = find(kit, "code", code).unwrap_or_else(|| panic!("{code} missing"));
        assert_eq!(item["version"], 1);
        assert_eq!(item["components"], json!([]));
    }
    let pack = find(kit, "code", "injecting_pack_basic").expect("the basic pack");
    assert_eq!(pack["category"], "injecting_equipment");
    assert!(
        pack["components"].as_array().unwrap().contains(&json!({"code": "swab", "quantity": 10}))
    );
    assert_eq!(find(kit, "code", "naloxone_injectable").unwrap()["category"], "naloxone");

    let substances = app.get("/v1/substances", &worker).await;
    let spice = find(substances.ok(), "code", "synthetic_cannabinoid").expect("NPS");
    assert_eq!(spice["category"], "synthetic_cannabinoid");
    assert!(spice["aliases"].as_array().unwrap().contains(&json!("Black Mamba")));
    assert_eq!(app.get("/v1/partner-services", &worker).await.ok()["items"], json!([]));

    // The lookup the sync engine validates with.
    let org = organisation_id(&app, &worker).await;
    let catalogue = Catalogue::load(&app.state.db, org).await.unwrap();
    assert_eq!(catalogue.substance_code(" mamba "), Some("synthetic_cannabinoid"));
    assert_eq!(catalogue.substance_code("Pound Shop Brown"), Some("synthetic_cannabinoid"));
    assert_eq!(catalogue.substance_code("gear"), Some("heroin"));
    assert_eq!(catalogue.substance_code("unheard of"), None);
    assert!(catalogue.has_kit_item("citric_acid"));
    assert_eq!(catalogue.pack_components("injecting_pack_basic").len(), 6);

    // Devices get the defaults from the feed.
    let id = pack["id"].as_str().unwrap();
    let entries = feed_of(&app, org, id).await;
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].entity.as_str(), entries[0].version), ("kit_item", 1));
}

#[tokio::test]
async fn an_admin_creates_edits_and_archives_kit_items_and_packs() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login("admin@demo.outpost.test").await;
    let org = organisation_id(&app, &admin).await;

    let created = app
        .post(
            "/v1/kit-items",
            &admin,
            json!({ "code": " Pipe_Glass ", "name": "  Glass pipe ", "category": "foil_and_smoking", "unit": "each" }),
        )
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    let pipe = created.body.clone();
    assert_eq!(
        (pipe["code"].as_str(), pipe["name"].as_str()),
        (Some("pipe_glass"), Some("Glass pipe"))
    );
    assert_eq!(pipe["version"], 1);
    let pipe_id = pipe["id"].as_str().unwrap();

    // The change feed has it, in the same transaction.
    let entries = feed_of(&app, org, pipe_id).await;
    assert_eq!(entries.len(), 1, "one feed entry for the new item");
    assert_eq!(entries[0].entity, "kit_item");
    assert_eq!(entries[0].op, "upsert");
    assert_eq!(entries[0].version, 1);

    let pack = app
        .post(
            "/v1/kit-items",
            &admin,
            json!({
                "code": "smoking_pack", "name": "Smoking pack", "category": "foil_and_smoking",
                "unit": "pack",
                "components": [{ "code": "pipe_glass", "quantity": 1 }, { "code": "foil", "quantity": 2 }]
            }),
        )
        .await;
    assert_eq!(pack.status.as_u16(), 201, "{}", pack.text);
    let pack_id = pack.body["id"].as_str().unwrap().to_owned();

    let edited =
        app.patch(&format!("/v1/kit-items/{pipe_id}"), &admin, json!({ "unit": "box of 5" })).await;
    let edited = edited.ok();
    assert_eq!((edited["unit"].as_str(), edited["version"].as_i64()), (Some("box of 5"), Some(2)));
    assert_eq!(edited["code"], "pipe_glass");
    let entries = feed_of(&app, org, pipe_id).await;
    assert_eq!(entries.len(), 1, "the feed keeps the latest change only");
    assert_eq!(entries[0].version, 2);

    // An item inside an active pack stays until the pack goes.
    app.post(&format!("/v1/kit-items/{pipe_id}/archive"), &admin, json!({}))
        .await
        .assert_problem(409, "item_in_pack");
    let archived = app.post(&format!("/v1/kit-items/{pack_id}/archive"), &admin, json!({})).await;
    let archived = archived.ok();
    assert!(archived["archived_at"].is_string());
    assert_eq!(archived["version"], 2);
    let archived = app.post(&format!("/v1/kit-items/{pipe_id}/archive"), &admin, json!({})).await;
    assert_eq!(archived.ok()["version"], 3);
    assert_eq!(feed_of(&app, org, pipe_id).await[0].version, 3);
    // Archiving again changes nothing.
    let again = app.post(&format!("/v1/kit-items/{pipe_id}/archive"), &admin, json!({})).await;
    assert_eq!(again.ok()["version"], 3);

    let listed = app.get("/v1/kit-items", &admin).await;
    assert!(find(listed.ok(), "id", pipe_id).is_none());
    let all = app.get("/v1/kit-items?include_archived=true", &admin).await;
    assert!(find(all.ok(), "id", pipe_id).is_some());
    let got = app.get(&format!("/v1/kit-items/{pipe_id}"), &admin).await;
    let got = got.ok().clone();

    // The sync pull renders the record exactly as the REST view.
    let rendered =
        records_json(&app.state.db, org, EntityKind::KitItem, &[pipe_id.parse().unwrap()])
            .await
            .unwrap();
    assert_eq!(rendered, vec![(pipe_id.parse().unwrap(), got)]);
    let catalogue = Catalogue::load(&app.state.db, org).await.unwrap();
    assert!(!catalogue.has_kit_item("pipe_glass"));
    assert!(catalogue.pack_components("smoking_pack").is_empty());
}

#[tokio::test]
async fn an_admin_manages_substances_and_partner_services() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login("admin@demo.outpost.test").await;
    let org = organisation_id(&app, &admin).await;

    let created = app
        .post(
            "/v1/substances",
            &admin,
            json!({ "code": "xylazine", "name": "Xylazine", "category": "depressant", "aliases": [" tranq "] }),
        )
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    assert_eq!(created.body["aliases"], json!(["tranq"]));
    let id = created.body["id"].as_str().unwrap().to_owned();
    let edited = app
        .patch(
            &format!("/v1/substances/{id}"),
            &admin,
            json!({ "aliases": ["tranq", "tranq dope"] }),
        )
        .await;
    assert_eq!(edited.ok()["version"], 2);
    let catalogue = Catalogue::load(&app.state.db, org).await.unwrap();
    assert_eq!(catalogue.substance_code("TRANQ DOPE"), Some("xylazine"));
    assert_eq!(feed_of(&app, org, &id).await[0].entity, "substance");

    app.post(&format!("/v1/substances/{id}/archive"), &admin, json!({})).await.ok();
    let catalogue = Catalogue::load(&app.state.db, org).await.unwrap();
    assert_eq!(catalogue.substance_code("tranq"), None);
    // An archived substance's street names are free again.
    let reused = app
        .post(
            "/v1/substances",
            &admin,
            json!({ "code": "xylazine_combo", "name": "Xylazine mix", "category": "other", "aliases": ["Tranq"] }),
        )
        .await;
    assert_eq!(reused.status.as_u16(), 201, "{}", reused.text);

    let service = app
        .post(
            "/v1/partner-services",
            &admin,
            json!({
                "name": "Riverside Drug and Alcohol Service", "service_type": "drug_alcohol_treatment",
                "contact_route": "0161 000 0000", "opening_hours": "Mon-Fri 9-5", "area": "Central"
            }),
        )
        .await;
    assert_eq!(service.status.as_u16(), 201, "{}", service.text);
    let service_id = service.body["id"].as_str().unwrap().to_owned();
    let edited = app
        .patch(
            &format!("/v1/partner-services/{service_id}"),
            &admin,
            json!({ "area": null, "service_type": "housing" }),
        )
        .await;
    let edited = edited.ok();
    assert!(edited["area"].is_null());
    assert_eq!(edited["service_type"], "housing");
    assert_eq!(edited["contact_route"], "0161 000 0000");
    assert_eq!(edited["version"], 2);
    let uuid: Uuid = service_id.parse().unwrap();
    assert!(Catalogue::load(&app.state.db, org).await.unwrap().has_partner_service(uuid));
    let archived =
        app.post(&format!("/v1/partner-services/{service_id}/archive"), &admin, json!({})).await;
    assert_eq!(archived.ok()["version"], 3);
    assert!(!Catalogue::load(&app.state.db, org).await.unwrap().has_partner_service(uuid));
    let entries = feed_of(&app, org, &service_id).await;
    assert_eq!((entries[0].entity.as_str(), entries[0].version), ("partner_service", 3));
}

#[tokio::test]
async fn workers_and_managers_read_but_cannot_write_reference_data() {
    let app = spawn_app().await;
    app.load_demo().await;
    let worker = app.login("worker1@demo.outpost.test").await;
    let manager = app.login("manager@demo.outpost.test").await;
    let item = json!({ "code": "new_item", "name": "New", "category": "other", "unit": "each" });
    for token in [&worker, &manager] {
        for path in ["/v1/kit-items", "/v1/substances", "/v1/partner-services"] {
            app.get(path, token).await.ok();
        }
        app.post("/v1/kit-items", token, item.clone()).await.assert_problem(403, "forbidden");
        app.post("/v1/substances", token, json!({ "code": "x", "name": "X", "category": "other" }))
            .await
            .assert_problem(403, "forbidden");
        app.post("/v1/partner-services", token, json!({ "name": "GP", "service_type": "gp" }))
            .await
            .assert_problem(403, "forbidden");
    }
    let kit = app.get("/v1/kit-items", &worker).await;
    let swab = find(kit.ok(), "code", "swab").unwrap()["id"].as_str().unwrap().to_owned();
    app.patch(&format!("/v1/kit-items/{swab}"), &worker, json!({ "name": "Swab" }))
        .await
        .assert_problem(403, "forbidden");
    app.post(&format!("/v1/kit-items/{swab}/archive"), &worker, json!({}))
        .await
        .assert_problem(403, "forbidden");

    // An integrator's key with directory:read reads the catalogue too.
    let admin = app.login("admin@demo.outpost.test").await;
    let created = app
        .post("/v1/api-keys", &admin, json!({ "name": "Council", "scopes": ["directory:read"] }))
        .await;
    let key = created.ok()["key"].as_str().unwrap().to_owned();
    app.call(Method::GET, "/v1/substances", Auth::ApiKey(&key), None).await.ok();
    app.call(Method::POST, "/v1/kit-items", Auth::ApiKey(&key), Some(item))
        .await
        .assert_problem(403, "forbidden");
}

#[tokio::test]
async fn reference_input_is_validated_and_names_the_field() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login("admin@demo.outpost.test").await;
    let pack = |components: Value| json!({ "code": "my_pack", "name": "Pack", "category": "injecting_equipment", "unit": "pack", "components": components });
    let unknown = app
        .post("/v1/kit-items", &admin, pack(json!([{ "code": "no_such_thing", "quantity": 1 }])))
        .await;
    assert_eq!(unknown.assert_problem(422, "validation_failed")["field"], "components[0].code");
    let nested = app
        .post(
            "/v1/kit-items",
            &admin,
            pack(json!([{ "code": "swab", "quantity": 1 }, { "code": "injecting_pack_basic", "quantity": 1 }])),
        )
        .await;
    assert_eq!(nested.assert_problem(422, "validation_failed")["field"], "components[1].code");
    let zero =
        app.post("/v1/kit-items", &admin, pack(json!([{ "code": "swab", "quantity": 0 }]))).await;
    assert_eq!(zero.assert_problem(422, "validation_failed")["field"], "components[0].quantity");
    let duplicate = app
        .post(
            "/v1/kit-items",
            &admin,
            json!({ "code": "swab", "name": "Another swab", "category": "other", "unit": "each" }),
        )
        .await;
    duplicate.assert_problem(409, "code_taken");
    let bad_code = app
        .post(
            "/v1/kit-items",
            &admin,
            json!({ "code": "2ml syringe", "name": "S", "category": "other", "unit": "each" }),
        )
        .await;
    assert_eq!(bad_code.assert_problem(422, "validation_failed")["field"], "code");
    app.post(
        "/v1/kit-items",
        &admin,
        json!({ "code": "x", "name": "X", "category": "weapons", "unit": "each" }),
    )
    .await
    .assert_problem(400, "invalid_body");

    let substance = |aliases: Value| json!({ "code": "new_nps", "name": "New NPS", "category": "synthetic_cannabinoid", "aliases": aliases });
    let empty = app.post("/v1/substances", &admin, substance(json!(["zombie", "  "]))).await;
    assert_eq!(empty.assert_problem(422, "validation_failed")["field"], "aliases[1]");
    let long = app.post("/v1/substances", &admin, substance(json!(["x".repeat(61)]))).await;
    // Over the schema's maxLength: refused as the body is read.
    assert_eq!(long.assert_problem(400, "invalid_body")["field"], "aliases[0]");
    app.post("/v1/substances", &admin, substance(json!(["zombie", " SPICE "])))
        .await
        .assert_problem(409, "alias_taken");
    app.post("/v1/substances", &admin, substance(json!(["Heroin"])))
        .await
        .assert_problem(409, "alias_taken");
    app.post(
        "/v1/substances",
        &admin,
        json!({ "code": "heroin", "name": "Heroin again", "category": "opioid" }),
    )
    .await
    .assert_problem(409, "code_taken");

    let blank = app
        .post("/v1/partner-services", &admin, json!({ "name": " ", "service_type": "gp" }))
        .await;
    assert_eq!(blank.assert_problem(422, "validation_failed")["field"], "name");
}

#[tokio::test]
async fn another_organisations_reference_data_is_404_and_never_listed() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login("admin@demo.outpost.test").await;
    let other_admin = app.other_organisation("other-org").await;

    // The other organisation has its own defaults, with the same codes.
    let theirs = app.get("/v1/kit-items", &other_admin).await;
    let their_swab = find(theirs.ok(), "code", "swab").unwrap()["id"].as_str().unwrap().to_owned();
    let ours = app.get("/v1/kit-items", &admin).await;
    assert!(find(ours.ok(), "id", &their_swab).is_none());
    let all = app.get("/v1/kit-items?include_archived=true", &admin).await;
    assert!(find(all.ok(), "id", &their_swab).is_none());

    let path = format!("/v1/kit-items/{their_swab}");
    app.get(&path, &admin).await.assert_problem(404, "not_found");
    app.patch(&path, &admin, json!({ "name": "Mine now" })).await.assert_problem(404, "not_found");
    app.post(&format!("{path}/archive"), &admin, json!({})).await.assert_problem(404, "not_found");
    let service = app
        .post(
            "/v1/partner-services",
            &other_admin,
            json!({ "name": "Their GP", "service_type": "gp" }),
        )
        .await;
    let service_id = service.ok()["id"].as_str().unwrap().to_owned();
    app.get(&format!("/v1/partner-services/{service_id}"), &admin)
        .await
        .assert_problem(404, "not_found");

    // Neither the lookup nor the sync rendering crosses organisations.
    let org = organisation_id(&app, &admin).await;
    let id: Uuid = their_swab.parse().unwrap();
    assert!(records_json(&app.state.db, org, EntityKind::KitItem, &[id]).await.unwrap().is_empty());
    let catalogue = Catalogue::load(&app.state.db, org).await.unwrap();
    assert!(!catalogue.has_partner_service(service_id.parse().unwrap()));
}

#[tokio::test]
async fn site_changes_go_to_the_change_feed() {
    let app = spawn_app().await;
    app.load_demo().await;
    let manager = app.login("manager@demo.outpost.test").await;
    let org = organisation_id(&app, &manager).await;
    // The demo's own sites are on the feed too.
    let demo_sites = app.get("/v1/sites", &manager).await;
    for site in demo_sites.ok()["items"].as_array().unwrap() {
        let entries = feed_of(&app, org, site["id"].as_str().unwrap()).await;
        assert_eq!(entries.len(), 1, "{site}");
        assert_eq!(entries[0].entity, "site");
    }
    let created =
        app.post("/v1/sites", &manager, json!({ "name": "Night Van", "kind": "van" })).await;
    assert_eq!(created.status.as_u16(), 201);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let micros = |view: &Value| {
        chrono::DateTime::parse_from_rfc3339(view["updated_at"].as_str().unwrap())
            .unwrap()
            .timestamp_micros()
    };
    let entries = feed_of(&app, org, &id).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].entity, "site");
    assert_eq!(entries[0].version, micros(&created.body));

    let archived = app.delete(&format!("/v1/sites/{id}"), &manager).await;
    let entries = feed_of(&app, org, &id).await;
    assert_eq!(entries[0].version, micros(archived.ok()));
    let rendered =
        records_json(&app.state.db, org, EntityKind::Site, &[id.parse().unwrap()]).await.unwrap();
    assert_eq!(rendered[0].1, *archived.ok());
    assert!(
        records_json(&app.state.db, org, EntityKind::Person, &[id.parse().unwrap()])
            .await
            .unwrap()
            .is_empty()
    );
}
