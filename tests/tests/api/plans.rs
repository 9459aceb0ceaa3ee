//! The lookups on sync's hot paths, as the server builds them: never
//! another organisation's rows, each id once, and planned as index probes
//! on a database without statistics (a fresh one, or one whose autovacuum
//! is off or behind): no full scan of a table, and no scan of the whole
//! organisation through another index. The benchmark
//! (`outpost-sync-bench`) prints the same plans at any size (`--preload`).

use outpost_entity::{contact, kit_line, organisation, sync_mutation, user};
use outpost_tests::{
    demo::demo_site,
    device::{Device, contact_fields},
    outpost_api::{caller::Actor, domain::Role, records::lookup::ByKeys, sync::pull},
    spawn_app,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter,
    QueryTrait, Statement,
};
use uuid::Uuid;

/// The plan of `statement`, one line per step.
async fn plan(db: &DatabaseConnection, statement: Statement) -> String {
    let backend = db.get_database_backend();
    let explain = match backend {
        DbBackend::Postgres => format!("EXPLAIN (COSTS OFF) {}", statement.sql),
        _ => format!("EXPLAIN QUERY PLAN {}", statement.sql),
    };
    let values = statement.values.map(|v| v.0).unwrap_or_default();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, explain, values))
        .await
        .expect("explain");
    rows.iter()
        .map(|row| match backend {
            DbBackend::Postgres => row.try_get_by_index::<String>(0).expect("a plan line"),
            _ => row.try_get::<String>("", "detail").expect("a plan line"),
        })
        // Id lists make some lines very long.
        .map(|line| line.chars().take(200).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts a plan reads `table` only through `index` (Postgres) or an
/// index search (SQLite), never by a full scan.
#[track_caller]
fn assert_probes(plan: &str, backend: DbBackend, table: &str, index: &str) {
    match backend {
        DbBackend::Postgres => {
            assert!(!plan.contains("Seq Scan"), "a full scan of {table}:\n{plan}");
            assert!(
                // `Index Scan using idx on table`, `Bitmap Index Scan on idx`
                plan.contains(&format!("using {index} on {table}"))
                    || plan.contains(&format!("Index Scan on {index}")),
                "{table} not read through {index}:\n{plan}"
            );
        }
        _ => {
            assert!(!plan.contains(&format!("SCAN {table}")), "a full scan of {table}:\n{plan}");
            assert!(
                plan.contains(&format!("SEARCH {table} USING")),
                "{table} not searched:\n{plan}"
            );
        }
    }
}

#[tokio::test]
async fn hot_lookups_probe_an_index_per_key_without_statistics() {
    let app = spawn_app().await;
    app.load_demo().await;
    let mut phone = Device::sign_in(&app, "worker1@demo.outpost.test").await;
    let site = demo_site(&app, &phone.token).await;
    // Enough rows that a full scan and a probe per key differ; no ANALYZE.
    for _ in 0..3 {
        for _ in 0..100 {
            phone.create("contact", contact_fields(Some(&site), None));
        }
        phone.push(&app).await;
    }
    let db = &app.state.db;
    let backend = db.get_database_backend();
    let worker = user::Entity::find()
        .filter(user::Column::Email.eq("worker1@demo.outpost.test"))
        .one(db)
        .await
        .expect("read")
        .expect("the worker");
    let org = worker.organisation_id;
    let ids: Vec<Uuid> =
        contact::Entity::find().all(db).await.expect("read").iter().map(|c| c.id).collect();
    assert_eq!(ids.len(), 300);
    let mutation_ids: Vec<Uuid> = sync_mutation::Entity::find()
        .all(db)
        .await
        .expect("read")
        .iter()
        .map(|m| m.mutation_id)
        .collect();

    // A pull page's contacts, and their kit lines.
    let contacts = ByKeys::<contact::Entity>::new(contact::Column::Id)
        .in_organisation(contact::Column::OrganisationId, org)
        .statement(backend, &ids);
    assert_probes(&plan(db, contacts).await, backend, "contacts", "contacts_pkey");
    let lines = ByKeys::<kit_line::Entity>::new(kit_line::Column::ContactId)
        .in_organisation(kit_line::Column::OrganisationId, org)
        .ordered_by(kit_line::Column::Position)
        .statement(backend, &ids);
    assert_probes(&plan(db, lines).await, backend, "kit_lines", "idx_kit_lines_contact");
    // A push's check of its mutations against the log, and of its creates.
    let logged = ByKeys::<sync_mutation::Entity>::new(sync_mutation::Column::MutationId)
        .keyed_within_organisation(sync_mutation::Column::OrganisationId, org)
        .statement(backend, &mutation_ids[..100]);
    assert_probes(&plan(db, logged).await, backend, "sync_mutations", "sync_mutations_pkey");
    let existing = ByKeys::<contact::Entity>::new(contact::Column::Id)
        .columns(vec![
            contact::Column::Id,
            contact::Column::OrganisationId,
            contact::Column::Version,
        ])
        .statement(backend, &ids[..100]);
    assert_probes(&plan(db, existing).await, backend, "contacts", "contacts_pkey");

    // A worker's page of the feed: a range of its primary key.
    let actor = Actor {
        organisation_id: org,
        user_id: Some(worker.id),
        device_id: None,
        api_key_id: None,
        role: Some(Role::Worker),
        site_ids: vec![site.parse().expect("a site id")],
    };
    let page = pull::feed_page(&actor, 100, 300, 1000).build(backend);
    assert_probes(&plan(db, page).await, backend, "sync_changes", "sync_changes_pkey");
}

#[tokio::test]
async fn an_id_given_twice_reads_its_rows_once() {
    let app = spawn_app().await;
    app.load_demo().await;
    let mut phone = Device::sign_in(&app, "worker1@demo.outpost.test").await;
    let site = demo_site(&app, &phone.token).await;
    let id = phone.create("contact", contact_fields(Some(&site), None));
    phone.push(&app).await;
    let db = &app.state.db;
    let org = contact::Entity::find_by_id(id)
        .one(db)
        .await
        .expect("read")
        .expect("pushed")
        .organisation_id;
    let lines = ByKeys::<kit_line::Entity>::new(kit_line::Column::ContactId)
        .in_organisation(kit_line::Column::OrganisationId, org)
        .ordered_by(kit_line::Column::Position)
        .models(db, &[id, id])
        .await
        .expect("read");
    let positions: Vec<i16> = lines.iter().map(|l| l.position).collect();
    assert_eq!(positions, vec![0, 1], "each kit line once, in order");
}

#[tokio::test]
async fn lookups_never_return_another_organisations_rows() {
    let app = spawn_app().await;
    app.load_demo().await;
    app.other_organisation("elsewhere").await;
    let mut phone = Device::sign_in(&app, "worker1@demo.outpost.test").await;
    let site = demo_site(&app, &phone.token).await;
    let id = phone.create("contact", contact_fields(Some(&site), None));
    phone.push(&app).await;
    let db = &app.state.db;
    let own = contact::Entity::find_by_id(id)
        .one(db)
        .await
        .expect("read")
        .expect("pushed")
        .organisation_id;
    let other = organisation::Entity::find()
        .filter(organisation::Column::Slug.eq("elsewhere"))
        .one(db)
        .await
        .expect("read")
        .expect("the other organisation")
        .id;
    let logged = sync_mutation::Entity::find()
        .filter(sync_mutation::Column::RecordId.eq(id))
        .one(db)
        .await
        .expect("read")
        .expect("logged")
        .mutation_id;

    for (org, expected) in [(own, (1, 2, 1, 2)), (other, (0, 0, 0, 0))] {
        let contacts = ByKeys::<contact::Entity>::new(contact::Column::Id)
            .in_organisation(contact::Column::OrganisationId, org)
            .models(db, &[id])
            .await
            .expect("read");
        let lines = ByKeys::<kit_line::Entity>::new(kit_line::Column::ContactId)
            .in_organisation(kit_line::Column::OrganisationId, org)
            .models(db, &[id])
            .await
            .expect("read");
        let log = ByKeys::<sync_mutation::Entity>::new(sync_mutation::Column::MutationId)
            .keyed_within_organisation(sync_mutation::Column::OrganisationId, org)
            .models(db, &[logged])
            .await
            .expect("read");
        // The organisation's column not among those selected.
        let line_ids: Vec<Uuid> = ByKeys::<kit_line::Entity>::new(kit_line::Column::ContactId)
            .in_organisation(kit_line::Column::OrganisationId, org)
            .columns(vec![kit_line::Column::Id])
            .tuples(db, &[id])
            .await
            .expect("read");
        let found = (contacts.len(), lines.len(), log.len(), line_ids.len());
        assert_eq!(found, expected, "organisation {org} (own: {})", org == own);
    }
}

/// The server's Postgres connections never JIT-compile: a pull page's
/// lookups, costed without statistics, crossed `jit_above_cost`, and
/// compiling them took a third of Postgres's time in the benchmark's full
/// pull. (SQLite has no JIT.)
#[tokio::test]
async fn server_connections_never_jit_compile() {
    let app = spawn_app().await;
    let db = &app.state.db;
    if db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    // Every connection of the pool: hold several at once.
    let mut held = Vec::new();
    for _ in 0..3 {
        let txn = sea_orm::TransactionTrait::begin(db).await.expect("a connection");
        let row = txn
            .query_one_raw(Statement::from_string(DbBackend::Postgres, "SHOW jit"))
            .await
            .expect("show jit")
            .expect("a row");
        assert_eq!(row.try_get_by_index::<String>(0).expect("jit"), "off");
        held.push(txn);
    }
}
