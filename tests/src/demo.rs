//! The demo organisation (`outpost_api::ops::demo`, loaded with
//! [`TestApp::load_demo`]) as the tests use it: its accounts and a site.

use crate::TestApp;

/// The demo admin.
pub const ADMIN: &str = "admin@demo.outpost.test";
/// The demo manager.
pub const MANAGER: &str = "manager@demo.outpost.test";
/// A demo worker.
pub const WORKER1: &str = "worker1@demo.outpost.test";
/// Another demo worker, at a site `WORKER1` does not work at.
pub const WORKER2: &str = "worker2@demo.outpost.test";

/// The id of the first site `GET /v1/sites` lists for `token`.
pub async fn demo_site(app: &TestApp, token: &str) -> String {
    let sites = app.get("/v1/sites", token).await;
    sites.ok()["items"][0]["id"].as_str().unwrap().to_owned()
}
