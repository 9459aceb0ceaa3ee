//! What the abuse tests share: the demo's people and places, push results,
//! and `outpost admin check` run in-process.

use std::collections::HashMap;

use outpost_tests::{Answer, TestApp, outpost_api::ops::consistency};
use serde_json::{Value, json};
use uuid::Uuid;

pub use outpost_tests::demo::{ADMIN, MANAGER, WORKER1, WORKER2};

/// worker1 works here (api/src/ops/demo.rs).
pub const WORKER1_SITE: &str = "Riverside Day Centre";
/// worker2 works here, worker1 does not.
pub const WORKER2_SITE: &str = "Harbour Hostel";

/// Valid NHS numbers (ten digits, modulus 11 check digit).
pub const NHS: [&str; 3] = ["9434765919", "9434765870", "4010232137"];

/// The organisation's sites, by name.
pub async fn sites(app: &TestApp, token: &str) -> HashMap<String, String> {
    let answer = app.get("/v1/sites", token).await;
    answer.ok()["items"]
        .as_array()
        .expect("sites")
        .iter()
        .map(|s| (s["name"].as_str().unwrap().to_owned(), s["id"].as_str().unwrap().to_owned()))
        .collect()
}

/// The id of the account with `email`, as an admin or manager sees it.
pub async fn user_id(app: &TestApp, token: &str, email: &str) -> String {
    let answer = app.get("/v1/users", token).await;
    let users = answer.ok()["items"].as_array().expect("users");
    let user = users.iter().find(|u| u["email"] == email).unwrap_or_else(|| panic!("{email}"));
    user["id"].as_str().unwrap().to_owned()
}

/// The results of a push answer, which must be a 200.
#[track_caller]
pub fn results(answer: &Answer) -> Vec<Value> {
    answer.ok()["results"].as_array().expect("results").clone()
}

/// Asserts a push result is a refusal with this code and field.
#[track_caller]
pub fn assert_rejected(result: &Value, code: &str, field: &str) {
    assert_eq!(result["status"], "rejected", "{result}");
    assert_eq!(result["problem"]["code"], code, "{result}");
    assert_eq!(result["problem"]["field"], field, "{result}");
}

/// A referral to housing for `person`, at `site`.
pub fn referral_fields(person: Uuid, site: &str) -> Value {
    json!({
        "person_id": person,
        "service_type": "housing",
        "reason": "Sleeping out, wants a hostel place.",
        "consent_to_share": true,
        "urgency": "soon",
        "site_id": site,
    })
}

/// A step that sends `referral`.
pub fn sent_step(referral: Uuid) -> Value {
    json!({ "referral_id": referral, "status": "sent", "occurred_at": "2026-11-21T03:10:00Z" })
}

/// A suspected overdose at `site`.
pub fn incident_fields(site: &str) -> Value {
    json!({
        "occurred_at": "2026-11-21T02:40:00Z",
        "site_id": site,
        "incident_type": "suspected_overdose",
        "severity": "serious",
        "naloxone_doses": 1,
        "outcome": "recovered_on_site",
    })
}

/// Runs `outpost admin check` on the app's database and asserts that no
/// rule is broken.
pub async fn assert_consistent(app: &TestApp) {
    let report = consistency::run(&app.state.db).await.expect("the check runs");
    let broken: Vec<_> = report.checks.iter().filter(|c| c.violations > 0).collect();
    assert!(broken.is_empty(), "outpost admin check found violations: {broken:#?}");
}

/// Every item of a keyset-paged list (`next_after`), in pages of 200.
pub async fn list_all(app: &TestApp, token: &str, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page_path = match &after {
            Some(a) => format!("{path}?limit=200&after={a}"),
            None => format!("{path}?limit=200"),
        };
        let answer = app.get(&page_path, token).await;
        items.extend(answer.ok()["items"].as_array().expect("items").iter().cloned());
        match answer.body["next_after"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => return items,
        }
    }
}

/// An answer read off a raw connection.
pub struct RawAnswer {
    pub status: u16,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl RawAnswer {
    pub fn content_type(&self) -> &str {
        self.headers.get("content-type").map_or("", String::as_str)
    }

    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// Sends `head` (request line and headers, without the blank line) and
/// `body` on a connection of its own, written by hand: for requests no
/// HTTP client library will send (a URI over 64 kB, a NUL in a header).
/// `None` when no whole answer came within ten seconds.
pub async fn raw_http(base: &str, head: &str, body: &str) -> Option<RawAnswer> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = base.trim_start_matches("http://");
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(address).await.ok()?;
        let request = format!(
            "{head}\r\nhost: {address}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        Some(answer)
    };
    let answer =
        tokio::time::timeout(std::time::Duration::from_secs(10), exchange).await.ok()??;
    let text = String::from_utf8_lossy(&answer);
    let (head, rest) = text.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: HashMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let body = if headers.get("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    Some(RawAnswer { status, headers, body })
}

/// The payload of a chunked body.
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        let (Some(chunk), Some(next)) = (after.get(..size), after.get(size..)) else { break };
        if size == 0 {
            break;
        }
        out.push_str(chunk);
        rest = next.trim_start_matches("\r\n");
    }
    out
}

/// Raises a conflict on a person: `phone` (its raiser) created it, `desk`
/// changed its alias to `theirs`, and `phone` then sends `mine` from
/// version 1. Answers the person, the conflict, the stale batch and its
/// first answer.
pub async fn raise_person_conflict(
    app: &TestApp,
    phone: &mut outpost_tests::device::Device,
    desk: &mut outpost_tests::device::Device,
    first: &str,
    theirs: &str,
    mine: &str,
) -> (Uuid, Uuid, Vec<Value>, Value) {
    use outpost_tests::device::mutation;
    let person = phone.create("person", json!({ "alias": first }));
    assert_eq!(phone.push(app).await[0]["status"], "applied");
    desk.outbox.push(mutation("person", person, "update", Some(1), json!({ "alias": theirs })));
    let applied = desk.push(app).await;
    assert_eq!(applied[0]["status"], "applied", "{}", applied[0]);
    let stale = vec![mutation("person", person, "update", Some(1), json!({ "alias": mine }))];
    let answer = phone.push_raw(app, stale.clone()).await;
    let result = results(&answer)[0].clone();
    assert_eq!(result["status"], "conflict", "{result}");
    let conflict = result["conflict_id"].as_str().expect("conflict_id").parse().unwrap();
    (person, conflict, stale, result)
}
