//! A simulated phone: it queues mutations offline, pushes them, and pulls
//! the feed into a local store, as the real app does. Tests compare devices'
//! stores with each other and with the server.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{Answer, Auth, TestApp};

/// A device's local copy: (entity, id) to (version, record).
pub type Store = BTreeMap<(String, String), (i64, Value)>;

/// A simulated device of one signed-in user.
pub struct Device {
    /// The session token.
    pub token: String,
    /// The device's id.
    pub id: Uuid,
    /// The last cursor the device holds.
    pub cursor: Option<String>,
    /// The local store.
    pub store: Store,
    /// Mutations recorded but not yet acknowledged.
    pub outbox: Vec<Value>,
    /// Every change received, in order: (entity, id, op, version).
    pub received: Vec<(String, String, String, i64)>,
}

impl Device {
    /// Signs `email` in on a new device.
    pub async fn sign_in(app: &TestApp, email: &str) -> Self {
        let id = Uuid::now_v7();
        let token = app.login_on_device(email, id).await;
        Self {
            token,
            id,
            cursor: None,
            store: Store::new(),
            outbox: Vec::new(),
            received: Vec::new(),
        }
    }

    /// Records a create offline; answers the new record's id.
    pub fn create(&mut self, entity: &str, fields: Value) -> Uuid {
        let id = Uuid::now_v7();
        self.outbox.push(mutation(entity, id, "create", None, fields));
        id
    }

    /// Records an update offline, from the version in the local store.
    pub fn update(&mut self, entity: &str, id: Uuid, fields: Value) {
        let base = self.store.get(&(entity.to_owned(), id.to_string())).map(|(v, _)| *v);
        self.outbox.push(mutation(entity, id, "update", base, fields));
    }

    /// Records a delete offline.
    pub fn delete(&mut self, entity: &str, id: Uuid) {
        self.outbox.push(mutation(entity, id, "delete", None, json!({})));
    }

    /// Pushes the outbox in one batch; on an answer, the outbox empties.
    pub async fn push(&mut self, app: &TestApp) -> Vec<Value> {
        let answer = self.push_raw(app, self.outbox.clone()).await;
        let results = answer.ok()["results"].as_array().expect("results").clone();
        self.outbox.clear();
        results
    }

    /// Pushes `mutations` and answers the raw response.
    pub async fn push_raw(&self, app: &TestApp, mutations: Vec<Value>) -> Answer {
        app.call(
            Method::POST,
            "/v1/sync/push",
            Auth::Bearer(&self.token),
            Some(json!({ "mutations": mutations })),
        )
        .await
    }

    /// Pulls one page; answers it raw.
    pub async fn pull_page(&self, app: &TestApp, limit: u32) -> Answer {
        let path = match &self.cursor {
            Some(c) => format!("/v1/sync/pull?limit={limit}&cursor={c}"),
            None => format!("/v1/sync/pull?limit={limit}"),
        };
        app.get(&path, &self.token).await
    }

    /// Pulls until `has_more` is false, applying every change.
    pub async fn pull(&mut self, app: &TestApp) {
        self.pull_with_limit(app, 100).await;
    }

    /// Pulls with a page size, applying every change.
    pub async fn pull_with_limit(&mut self, app: &TestApp, limit: u32) {
        loop {
            let answer = self.pull_page(app, limit).await;
            let page = answer.ok().clone();
            self.apply(&page);
            if !page["has_more"].as_bool().expect("has_more") {
                break;
            }
        }
    }

    /// Applies a pulled page to the local store.
    pub fn apply(&mut self, page: &Value) {
        for change in page["changes"].as_array().expect("changes") {
            let key = (
                change["entity"].as_str().unwrap().to_owned(),
                change["id"].as_str().unwrap().to_owned(),
            );
            let version = change["version"].as_i64().unwrap();
            let op = change["op"].as_str().unwrap().to_owned();
            self.received.push((key.0.clone(), key.1.clone(), op.clone(), version));
            match op.as_str() {
                "upsert" => {
                    self.store.insert(key, (version, change["record"].clone()));
                }
                _ => {
                    self.store.remove(&key);
                }
            }
        }
        self.cursor = Some(page["cursor"].as_str().expect("cursor").to_owned());
    }

    /// The local records of one kind.
    pub fn records(&self, entity: &str) -> Vec<&Value> {
        self.store.iter().filter(|((e, _), _)| e == entity).map(|(_, (_, r))| r).collect()
    }

    /// One local record.
    pub fn record(&self, entity: &str, id: Uuid) -> Option<&Value> {
        self.store.get(&(entity.to_owned(), id.to_string())).map(|(_, r)| r)
    }
}

/// A mutation as the wire carries it.
pub fn mutation(entity: &str, id: Uuid, op: &str, base: Option<i64>, fields: Value) -> Value {
    json!({
        "mutation_id": Uuid::now_v7(),
        "entity": entity,
        "id": id,
        "op": op,
        "base_version": base,
        "fields": fields,
    })
}

/// A typical street contact with kit lines.
pub fn contact_fields(site_id: Option<&str>, person_id: Option<Uuid>) -> Value {
    json!({
        "occurred_at": "2026-11-20T23:15:00Z",
        "site_id": site_id,
        "person_id": person_id,
        "contact_type": "street_outreach",
        "living_situation": "rough_sleeping",
        "interventions": ["harm_reduction_advice", "nps_information"],
        "substances": [{ "substance": "Spice", "known_by": "self_reported" }],
        "note": "Seen by the arches, wants a hostel place.",
        "kit_lines": [
            { "item": "foil", "quantity": 10 },
            {
                "item": "naloxone_nasal", "quantity": 1, "for_others": 0,
                "naloxone": { "supply": "first", "recipient": "person_at_risk", "trained": "now" }
            }
        ]
    })
}
