//! Site CRUD.

use outpost_tests::spawn_app;
use serde_json::json;

#[tokio::test]
async fn a_manager_creates_edits_and_archives_a_site() {
    let app = spawn_app().await;
    app.load_demo().await;
    let manager = app.login("manager@demo.outpost.test").await;
    let created = app
        .post(
            "/v1/sites",
            &manager,
            json!({ "name": "  Night Van  ", "kind": "van", "area": "North" }),
        )
        .await;
    assert_eq!(created.status.as_u16(), 201);
    let site = created.body.clone();
    assert_eq!(site["name"], "Night Van");
    assert_eq!(site["kind"], "van");
    let id = site["id"].as_str().unwrap();

    let edited = app
        .patch(
            &format!("/v1/sites/{id}"),
            &manager,
            json!({ "area": null, "kind": "outreach_team" }),
        )
        .await;
    let edited = edited.ok();
    assert!(edited["area"].is_null());
    assert_eq!(edited["kind"], "outreach_team");
    assert_eq!(edited["name"], "Night Van");

    assert!(app.delete(&format!("/v1/sites/{id}"), &manager).await.ok()["archived_at"].is_string());
    let listed = app.get("/v1/sites", &manager).await;
    assert!(listed.ok()["items"].as_array().unwrap().iter().all(|s| s["id"] != id));
    let all = app.get("/v1/sites?include_archived=true", &manager).await;
    assert!(all.ok()["items"].as_array().unwrap().iter().any(|s| s["id"] == id));
    // Archived sites still answer by id.
    app.get(&format!("/v1/sites/{id}"), &manager).await.ok();
}

#[tokio::test]
async fn site_input_is_validated() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login("admin@demo.outpost.test").await;
    let blank = app.post("/v1/sites", &admin, json!({ "name": "   ", "kind": "hostel" })).await;
    assert_eq!(blank.assert_problem(422, "validation_failed")["field"], "name");
    let long =
        app.post("/v1/sites", &admin, json!({ "name": "x".repeat(201), "kind": "hostel" })).await;
    // Over the schema's maxLength: refused as the body is read.
    assert_eq!(long.assert_problem(400, "invalid_body")["field"], "name");
    app.post("/v1/sites", &admin, json!({ "name": "A", "kind": "castle" }))
        .await
        .assert_problem(400, "invalid_body");
}
