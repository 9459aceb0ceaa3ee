//! Pull cursors at the HTTP edge (sync.md, guarantees 6 and 7): whatever a
//! device sends as `cursor` — garbage, a cut or damaged cursor, a cursor
//! re-encoded with another organisation, number or role, another
//! organisation's real cursor — the answer is a problem with a stable code
//! the device can act on, never a server error and never another
//! organisation's data.
//!
//! Each probe is checked against a model of the cursor written here, apart
//! from the server's: `c1.{organisation id, 32 lowercase hex}.{change
//! number, plain decimal}.{role}` in unpadded base64url. Not that, or
//! another organisation, or a number past the organisation's counter: 422
//! `invalid_cursor`. Below the tombstone horizon: 410 `cursor_expired`.
//! Another role: 410 `scope_changed`. Otherwise a page of the caller's own
//! changes.

use std::collections::BTreeSet;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use outpost_tests::{
    Answer, TestApp,
    device::{Device, contact_fields},
    outpost_api::sync::{feed, retention},
    spawn_app,
};
use proptest::{
    prelude::*,
    test_runner::{Config, TestRunner},
};
use serde_json::{Value, json};
use uuid::Uuid;

const CASES: u32 = 64;

/// Someone who pulls.
#[derive(Clone)]
struct Caller {
    token: String,
    organisation_id: Uuid,
    role: &'static str,
    /// A cursor this caller was served.
    cursor: String,
}

/// A server with two organisations that have changes, deletions purged
/// past a horizon in the first, and callers of both.
struct World {
    app: TestApp,
    /// worker1, manager (demo organisation), and the other organisation's
    /// admin.
    callers: Vec<Caller>,
    /// Record ids per organisation.
    records: Vec<(Uuid, BTreeSet<String>)>,
    /// `(last_seq, horizon)` per organisation, as the probes began.
    counters: Vec<(Uuid, (i64, i64))>,
}

impl World {
    async fn new() -> World {
        let app = spawn_app().await;
        app.load_demo().await;

        let mut worker = Device::sign_in(&app, "worker1@demo.outpost.test").await;
        let mut ours = BTreeSet::new();
        ours.insert(worker.create("person", json!({ "alias": "Rae" })).to_string());
        ours.insert(worker.create("contact", contact_fields(None, None)).to_string());
        let gone = worker.create("contact", contact_fields(None, None));
        worker.push(&app).await;
        worker.delete("contact", gone);
        worker.push(&app).await;
        // The deletion is purged: the horizon moves past the early numbers.
        retention::purge_tombstones(&app.state.db, chrono::Duration::zero()).await.unwrap();
        ours.insert(worker.create("person", json!({ "alias": "Lee" })).to_string());
        worker.push(&app).await;
        worker.pull(&app).await;
        let mut manager = Device::sign_in(&app, "manager@demo.outpost.test").await;
        manager.pull(&app).await;

        let other_token = app.other_organisation("elsewhere").await;
        let mut other = Device {
            token: other_token,
            ..Device::sign_in(&app, "worker2@demo.outpost.test").await
        };
        let mut theirs = BTreeSet::new();
        theirs.insert(other.create("person", json!({ "alias": "Mo" })).to_string());
        theirs.insert(other.create("person", json!({ "alias": "Ana" })).to_string());
        for result in other.push(&app).await {
            assert_eq!(result["status"], "applied", "{result}");
        }
        other.pull(&app).await;

        let caller = |device: &Device, role| {
            let cursor = device.cursor.clone().expect("a cursor after a pull");
            let (organisation_id, _, _) = parse(cursor.as_bytes()).expect("a well-formed cursor");
            Caller { token: device.token.clone(), organisation_id, role, cursor }
        };
        let callers =
            vec![caller(&worker, "worker"), caller(&manager, "manager"), caller(&other, "admin")];
        let (demo, elsewhere) = (callers[0].organisation_id, callers[2].organisation_id);
        assert_ne!(demo, elsewhere);
        assert_eq!(callers[1].organisation_id, demo);

        let mut counters = Vec::new();
        for org in [demo, elsewhere] {
            counters.push((org, feed::counter(&app.state.db, org).await.unwrap()));
        }
        let (last, horizon) = counters[0].1;
        assert!(0 < horizon && horizon < last, "a horizon inside the feed: {horizon} of {last}");
        World { app, callers, records: vec![(demo, ours), (elsewhere, theirs)], counters }
    }

    fn counter(&self, org: Uuid) -> (i64, i64) {
        self.counters.iter().find(|(o, _)| *o == org).map(|(_, c)| *c).unwrap_or((0, 0))
    }

    /// What the server must answer `caller` for `cursor`.
    fn expected(&self, caller: &Caller, cursor: &[u8]) -> Expected {
        // No parameter may carry NUL (the server's one input rule).
        if cursor.contains(&0) {
            return Expected::Nul;
        }
        let Some((org, seq, role)) = parse(cursor) else { return Expected::Invalid };
        let (last, horizon) = self.counter(caller.organisation_id);
        if org != caller.organisation_id || seq > last {
            Expected::Invalid
        } else if seq < horizon {
            // Also when the role differs: either reason sends the device
            // back to the start.
            Expected::Gone(if role == caller.role {
                &["cursor_expired"]
            } else {
                &["cursor_expired", "scope_changed"]
            })
        } else if role != caller.role {
            Expected::Gone(&["scope_changed"])
        } else {
            Expected::Page
        }
    }

    /// Sends `cursor` as `caller` and checks the answer.
    async fn probe(&self, caller: &Caller, cursor: &[u8]) {
        let path = format!("/v1/sync/pull?limit=50&cursor={}", escape(cursor));
        let answer =
            self.app.raw(|c, base| c.get(format!("{base}{path}")).bearer_auth(&caller.token)).await;
        let shown = String::from_utf8_lossy(cursor);
        assert!(
            !answer.status.is_server_error(),
            "{shown:?} made the server fail: {} {}",
            answer.status,
            answer.text
        );
        match self.expected(caller, cursor) {
            Expected::Invalid => problem(&answer, 422, "invalid_cursor", &shown),
            Expected::Nul => problem(&answer, 422, "invalid_text", &shown),
            Expected::Gone(codes) => {
                let code = answer.body["code"].as_str().unwrap_or("");
                let code = if codes.contains(&code) { code } else { codes[0] };
                problem(&answer, 410, code, &shown)
            }
            Expected::Page => self.own_page(caller, &answer, &shown),
        }
    }

    /// A page holds only the caller's organisation's records and a cursor
    /// of that organisation.
    fn own_page(&self, caller: &Caller, answer: &Answer, shown: &str) {
        let page = answer.ok();
        let cursor = page["cursor"].as_str().expect("a cursor");
        let (org, _, role) = parse(cursor.as_bytes()).expect("a well-formed cursor");
        assert_eq!((org, role.as_str()), (caller.organisation_id, caller.role), "{shown:?}");
        for change in page["changes"].as_array().expect("changes") {
            let id = change["id"].as_str().expect("an id");
            for (owner, ids) in &self.records {
                assert!(
                    *owner == caller.organisation_id || !ids.contains(id),
                    "{shown:?} served another organisation's record {id}: {change}"
                );
            }
        }
    }
}

#[derive(Debug)]
enum Expected {
    Invalid,
    /// A NUL anywhere in a parameter: 422 `invalid_text`.
    Nul,
    Gone(&'static [&'static str]),
    Page,
}

#[track_caller]
fn problem(answer: &Answer, status: u16, code: &str, shown: &str) {
    assert_eq!(
        (answer.status.as_u16(), answer.body["code"].as_str()),
        (status, Some(code)),
        "cursor {shown:?}: {}",
        answer.text
    );
    answer.assert_problem(status, code);
}

/// The model: the cursor's parts, when `cursor` is one spelt as the server
/// spells it.
fn parse(cursor: &[u8]) -> Option<(Uuid, i64, String)> {
    let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let parts: Vec<&str> = payload.split('.').collect();
    let [version, org, seq, role] = parts[..] else { return None };
    let canonical_id =
        org.len() == 32 && org.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let canonical_seq = seq == "0"
        || (!seq.starts_with('0') && !seq.is_empty() && seq.bytes().all(|b| b.is_ascii_digit()));
    if version != "c1" || !canonical_id || !canonical_seq || role.is_empty() {
        return None;
    }
    Some((Uuid::parse_str(org).ok()?, seq.parse().ok()?, role.to_owned()))
}

fn encode(org: Uuid, seq: i64, role: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("c1.{}.{seq}.{role}", org.simple()))
}

/// Percent-encodes bytes for a query string (any bytes, even not UTF-8).
fn escape(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Sends `CASES` probes from `strategy` (a caller and a cursor) to one
/// server, checking each against the model; proptest shrinks a failure to
/// a small cursor.
fn run<S: Strategy<Value = (usize, Vec<u8>)>>(strategy: impl FnOnce(&World) -> S) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let world = runtime.block_on(World::new());
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        max_shrink_iters: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let outcome = runner.run(&strategy(&world), |(who, cursor)| {
        runtime.block_on(world.probe(&world.callers[who], &cursor));
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
    // Probing wrote nothing to the feed: the model's counters still hold.
    for (org, counter) in &world.counters {
        assert_eq!(runtime.block_on(feed::counter(&world.app.state.db, *org)).unwrap(), *counter);
    }
    drop(world);
}

fn caller_index() -> impl Strategy<Value = usize> {
    0..3usize
}

/// Garbage, and real cursors cut short or with bits flipped.
#[test]
fn malformed_cursors_are_refused_with_a_stable_code() {
    run(|world| {
        let cursors: Vec<Vec<u8>> =
            world.callers.iter().map(|c| c.cursor.clone().into_bytes()).collect();
        let real = prop::sample::select(cursors);
        let truncated = (real.clone(), any::<prop::sample::Index>()).prop_map(|(c, cut)| {
            let keep = cut.index(c.len());
            c[..keep].to_vec()
        });
        let flipped =
            (real.clone(), prop::collection::vec((any::<prop::sample::Index>(), 0..8u8), 1..4))
                .prop_map(|(mut c, flips)| {
                    for (at, bit) in flips {
                        let at = at.index(c.len());
                        c[at] ^= 1 << bit;
                    }
                    c
                });
        // A damaged payload, encoded again: the base64 is sound, the inside
        // is not (or is, differently).
        let flipped_inside =
            (real, prop::collection::vec((any::<prop::sample::Index>(), 0..8u8), 1..3)).prop_map(
                |(c, flips)| {
                    let mut payload = URL_SAFE_NO_PAD.decode(&c).expect("a real cursor decodes");
                    for (at, bit) in flips {
                        let at = at.index(payload.len());
                        payload[at] ^= 1 << bit;
                    }
                    URL_SAFE_NO_PAD.encode(payload).into_bytes()
                },
            );
        let garbage = prop_oneof![
            ".{1,300}".prop_map(String::into_bytes),
            prop::collection::vec(any::<u8>(), 1..200),
            prop::collection::vec(any::<u8>(), 1..150)
                .prop_map(|b| URL_SAFE_NO_PAD.encode(b).into_bytes()),
            "[A-Za-z0-9_=+/-]{1,250}".prop_map(String::into_bytes),
        ];
        (caller_index(), prop_oneof![garbage, truncated, flipped, flipped_inside])
    });
}

/// Cursors re-encoded with another organisation, a number past the counter
/// or below the horizon, another role; and other organisations' real
/// cursors.
#[test]
fn forged_cursors_are_refused_and_never_serve_another_organisation() {
    run(|world| {
        let callers: Vec<(Uuid, &'static str)> =
            world.callers.iter().map(|c| (c.organisation_id, c.role)).collect();
        let orgs: Vec<Uuid> = world.records.iter().map(|(org, _)| *org).collect();
        let (last, horizon) = world.counter(orgs[0]);
        let org = prop_oneof![
            // The caller's own organisation, the other one, or none.
            3 => Just(None),
            1 => prop::sample::select(orgs).prop_map(Some),
            1 => any::<u128>().prop_map(|n| Some(Uuid::from_u128(n))),
        ];
        let seq = prop_oneof![
            // Past the counter, near and far.
            (last + 1)..(last + 10),
            (last + 1)..i64::MAX,
            Just(i64::MAX),
            // Inside the feed, and below the horizon.
            horizon..=last,
            0..horizon,
        ];
        let role = prop_oneof![
            // The caller's own role, or another.
            2 => Just(None),
            2 => prop::sample::select(vec!["worker", "manager", "admin", "integrator", "coordinator"])
                .prop_map(|r| Some(r.to_owned())),
            1 => "[a-z_]{1,12}".prop_map(Some),
        ];
        let forged = (caller_index(), org, seq, role).prop_map(move |(who, org, seq, role)| {
            let (own_org, own_role) = callers[who];
            let role = role.unwrap_or_else(|| own_role.to_owned());
            (who, encode(org.unwrap_or(own_org), seq, &role).into_bytes())
        });
        // Another caller's real cursor (from the other organisation, or the
        // same organisation under another role), or one's own.
        let cursors: Vec<Vec<u8>> =
            world.callers.iter().map(|c| c.cursor.clone().into_bytes()).collect();
        let real = (caller_index(), prop::sample::select(cursors));
        prop_oneof![3 => forged, 1 => real]
    });
}

/// The plain cases, named: another organisation's cursor both ways, a
/// number one past the counter, a cursor moved to another organisation,
/// another role's cursor, one below the horizon, an empty one, one at and
/// one past the length limit, and the counter itself.
#[tokio::test]
async fn the_named_forgeries() {
    let world = World::new().await;
    let [worker, manager, other] = [&world.callers[0], &world.callers[1], &world.callers[2]];
    for (caller, cursor) in
        [(worker, &other.cursor), (other, &worker.cursor), (manager, &other.cursor)]
    {
        let answer = world.app.get(&format!("/v1/sync/pull?cursor={cursor}"), &caller.token).await;
        answer.assert_problem(422, "invalid_cursor");
    }
    let (last, horizon) = world.counter(worker.organisation_id);
    let ahead = encode(worker.organisation_id, last + 1, "worker");
    let answer = world.app.get(&format!("/v1/sync/pull?cursor={ahead}"), &worker.token).await;
    answer.assert_problem(422, "invalid_cursor");
    // Re-encoded into the other organisation, where the number is in range:
    // a cursor of that organisation, for its own callers only.
    let moved = encode(other.organisation_id, 0, "worker");
    let answer = world.app.get(&format!("/v1/sync/pull?cursor={moved}"), &worker.token).await;
    answer.assert_problem(422, "invalid_cursor");
    let answer =
        world.app.get(&format!("/v1/sync/pull?cursor={}", &worker.cursor), &manager.token).await;
    answer.assert_problem(410, "scope_changed");
    let old = encode(worker.organisation_id, horizon - 1, "worker");
    let answer = world.app.get(&format!("/v1/sync/pull?cursor={old}"), &worker.token).await;
    answer.assert_problem(410, "cursor_expired");
    let answer = world.app.get("/v1/sync/pull?cursor=", &worker.token).await;
    answer.assert_problem(422, "invalid_cursor");
    // At most 512 characters, as the parameter's schema says: longer does
    // not fit it (400); at the limit it is read and refused as not ours.
    let at_limit = "A".repeat(512);
    let answer = world.app.get(&format!("/v1/sync/pull?cursor={at_limit}"), &worker.token).await;
    answer.assert_problem(422, "invalid_cursor");
    let over = "A".repeat(513);
    let answer = world.app.get(&format!("/v1/sync/pull?cursor={over}"), &worker.token).await;
    assert_eq!(answer.assert_problem(400, "invalid_parameter")["field"], "cursor");
    let at = encode(worker.organisation_id, last, "worker");
    let page = world.app.get(&format!("/v1/sync/pull?cursor={at}"), &worker.token).await;
    assert_eq!(page.ok()["changes"], json!([]), "nothing after the counter");
    assert_eq!(page.ok()["cursor"], Value::String(at));
}
