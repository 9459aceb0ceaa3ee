//! Reads go on while a write holds the database. On SQLite a pull reads
//! its feed and records through read-only connections beside the one
//! writer (WAL lets them), so phones pulling contacts do not queue behind a
//! push, nor behind each other on one connection. (A page with people's
//! records still writes its audit entry through the writer.) On Postgres
//! both come from one pool, so this holds there by construction; it is the
//! SQLite run that fails without the read pool.

use std::time::Duration;

use outpost_tests::{
    demo::{WORKER1, demo_site},
    device::{Device, contact_fields},
    spawn_app,
};
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};

#[tokio::test]
async fn a_pull_is_answered_while_a_write_transaction_holds_the_writer() {
    let app = spawn_app().await;
    app.load_demo().await;
    let mut phone = Device::sign_in(&app, WORKER1).await;
    let site = demo_site(&app, &phone.token).await;
    let id = phone.create("contact", contact_fields(Some(&site), None));
    phone.push(&app).await;
    // Signed in before: signing in writes a session.
    let mut other = Device::sign_in(&app, WORKER1).await;

    // A write in progress, holding the writer (SQLite's only one) and the
    // write lock until it ends.
    let db = &app.state.db;
    let write = db.begin().await.expect("begin");
    write
        .execute_raw(Statement::from_string(
            db.get_database_backend(),
            "UPDATE sync_counters SET horizon_seq = horizon_seq",
        ))
        .await
        .expect("a write");

    let pulled = tokio::time::timeout(Duration::from_secs(5), other.pull(&app)).await;
    write.rollback().await.expect("rollback");
    assert!(pulled.is_ok(), "the pull waited for the write to end");
    assert!(other.record("contact", id).is_some(), "the pull has the contact");
}
