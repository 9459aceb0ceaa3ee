//! What the fault tests share: batches of contacts to push, pushing with
//! retries, and counting what the database holds.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use outpost_entity::{contact, kit_line};
use outpost_tests::{
    Answer,
    device::{contact_fields, mutation},
    faults::{Outcome, Remote},
    outpost_api::{config::Config, db},
};
use reqwest::Method;
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use uuid::Uuid;

/// Kit lines in every contact of [`contact_batch`].
pub const KIT_LINES_PER_CONTACT: usize = 2;

/// A batch of `n` new street contacts (each with two kit lines), and their
/// ids.
pub fn contact_batch(n: usize) -> (Vec<Value>, Vec<Uuid>) {
    let ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
    let mutations =
        ids.iter().map(|id| mutation("contact", *id, "create", None, contact_fields(None, None)));
    (mutations.collect(), ids)
}

/// The push body for `mutations`.
pub fn push_body(mutations: &[Value]) -> Value {
    json!({ "mutations": mutations })
}

/// Asserts a push answer accepted every mutation: applied, or answered
/// `duplicate` of an earlier applied one. Answers how many were duplicates.
#[track_caller]
pub fn assert_all_accepted(answer: &Answer) -> usize {
    let results = answer.ok()["results"].as_array().expect("results");
    let mut duplicates = 0;
    for result in results {
        match result["status"].as_str() {
            Some("applied") => {}
            Some("duplicate") if result["original_status"] == "applied" => duplicates += 1,
            _ => panic!("a mutation was not accepted: {result}"),
        }
    }
    duplicates
}

/// A 503 that tells the client to come back: `Retry-After` and the stable
/// problem code. Answers the seconds to wait.
#[track_caller]
pub fn retry_after(answer: &Answer) -> u64 {
    answer.assert_problem(503, "service_unavailable");
    answer
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("a 503 without a Retry-After header: {:?}", answer.headers))
}

/// Sends a request until it is answered with a 2xx, honouring 503
/// `Retry-After`; any other failure fails the test. Answers the answer and
/// how many 503s it took.
pub async fn until_done(
    remote: &Remote,
    method: Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> (Answer, usize) {
    let mut unavailable = 0;
    for _ in 0..60 {
        match remote.send(method.clone(), path, Some(token), body).await {
            Outcome::Answered(answer) if answer.status.is_success() => {
                return (answer, unavailable);
            }
            Outcome::Answered(answer) if answer.status.as_u16() == 503 => {
                unavailable += 1;
                tokio::time::sleep(Duration::from_secs(retry_after(&answer))).await;
            }
            Outcome::Answered(answer) => {
                panic!("{method} {path}: {} {}", answer.status, answer.text)
            }
            Outcome::Dropped { reason, .. } => {
                panic!("{method} {path}: the server must stay up: {reason}")
            }
        }
    }
    panic!("{method} {path}: still unavailable after 60 tries");
}

/// What the database holds: each contact's id with its number of kit lines.
/// Read straight from the tables, behind the API, so nothing the server
/// answers can hide a duplicate.
pub async fn stored_contacts(config: &Config) -> HashMap<Uuid, usize> {
    let db = db::connect(&config.effective_database_url(), 1).await.expect("open the database");
    let contacts = contact::Entity::find().all(&db).await.expect("contacts");
    let lines = kit_line::Entity::find().all(&db).await.expect("kit lines");
    db.close().await.ok();
    let mut stored: HashMap<Uuid, usize> = contacts.iter().map(|c| (c.id, 0)).collect();
    for line in lines {
        *stored.entry(line.contact_id).or_default() += 1;
    }
    stored
}

/// Tally of a run: what was sent, what is stored, duplicates and losses.
pub struct Tally {
    /// Contacts sent (each once, perhaps resent).
    pub sent: HashSet<Uuid>,
    /// The database after the run.
    pub stored: HashMap<Uuid, usize>,
}

impl Tally {
    /// Contacts sent but not stored.
    pub fn losses(&self) -> usize {
        self.sent.iter().filter(|id| !self.stored.contains_key(id)).count()
    }

    /// Contacts stored that were not sent, plus kit lines beyond the ones
    /// sent (a contact applied twice would double them).
    pub fn duplicates(&self) -> usize {
        let extra_contacts = self.stored.keys().filter(|id| !self.sent.contains(id)).count();
        let extra_lines: usize =
            self.stored.values().map(|n| n.saturating_sub(KIT_LINES_PER_CONTACT)).sum();
        extra_contacts + extra_lines
    }

    /// "N mutations sent, M stored, duplicates D, losses L", for the figures.
    pub fn summary(&self) -> String {
        format!(
            "{} mutations sent, {} stored, duplicates {}, losses {}",
            self.sent.len(),
            self.stored.len(),
            self.duplicates(),
            self.losses()
        )
    }

    /// Asserts nothing was lost or duplicated and every contact has exactly
    /// its kit lines.
    #[track_caller]
    pub fn assert_exact(&self) {
        assert_eq!(self.losses(), 0, "contacts lost");
        assert_eq!(self.duplicates(), 0, "contacts or kit lines duplicated");
        for id in &self.sent {
            assert_eq!(self.stored[id], KIT_LINES_PER_CONTACT, "kit lines of {id}");
        }
    }
}
