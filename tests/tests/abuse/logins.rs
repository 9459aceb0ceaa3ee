//! Login limits behind a proxy. The client address is the last hop of
//! `X-Forwarded-For` (the one our proxy saw; the hops before it are
//! whatever the client wrote), and an account may fail only so often from
//! all addresses together.

use outpost_tests::{PASSWORD, TestApp, spawn_app_with};
use serde_json::json;
use uuid::Uuid;

use super::support::WORKER1;

/// A login for `email` that came through the proxy with this
/// `X-Forwarded-For`.
async fn login_via(app: &TestApp, forwarded_for: &str, email: &str, password: &str) -> u16 {
    let body = json!({ "email": email, "password": password });
    let answer = app
        .raw(|c, base| {
            c.post(format!("{base}/v1/auth/login"))
                .header("x-forwarded-for", forwarded_for)
                .json(&body)
        })
        .await;
    let status = answer.status.as_u16();
    match status {
        200 | 401 => {}
        429 => {
            answer.assert_problem(429, "rate_limited");
        }
        _ => panic!("login via {forwarded_for}: {status} {}", answer.text),
    }
    status
}

/// A left-most hop the client made up: a new one every time.
fn made_up_hop() -> String {
    let bytes = Uuid::now_v7().into_bytes();
    format!("10.{}.{}.{}", bytes[13], bytes[14], bytes[15])
}

/// With three failures allowed per account and address, six wrong
/// passwords through one proxy hop, each with a made-up left-most address,
/// are refused from the fourth: the last hop counts. The owner, coming
/// through another hop, still signs in.
#[tokio::test]
async fn a_made_up_forwarded_for_does_not_reset_the_failure_count() {
    let app = spawn_app_with(|config| {
        config.login_limits.trust_forwarded_for = true;
        config.login_limits.account_failures = 3;
    })
    .await;
    app.load_demo().await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let forwarded = format!("{}, 203.0.113.9", made_up_hop());
        statuses.push(login_via(&app, &forwarded, WORKER1, "not-the-password").await);
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429, 429], "the last hop is the client");
    let forwarded = format!("{}, 203.0.113.9", made_up_hop());
    let right = login_via(&app, &forwarded, WORKER1, PASSWORD).await;
    assert_eq!(right, 429, "that address stays locked out of the account");
    let owner = login_via(&app, "203.0.113.10", WORKER1, PASSWORD).await;
    assert_eq!(owner, 200, "the owner, elsewhere, still signs in");
}

/// With two failures allowed per account and address, the account as a
/// whole may fail twenty times (ten times the limit): wrong passwords from
/// 25 last hops, one each, are refused from the 21st, and then every
/// address is refused, a fresh one too, with the right password too.
#[tokio::test]
async fn an_account_failing_from_many_addresses_is_locked_for_all() {
    let app = spawn_app_with(|config| {
        config.login_limits.trust_forwarded_for = true;
        config.login_limits.account_failures = 2;
    })
    .await;
    app.load_demo().await;
    let mut statuses = Vec::new();
    for n in 1..=25 {
        let forwarded = format!("{}, 198.51.100.{n}", made_up_hop());
        statuses.push(login_via(&app, &forwarded, WORKER1, "not-the-password").await);
    }
    let refused_from = statuses.iter().position(|s| *s == 429);
    assert_eq!(refused_from, Some(20), "the 21st failure is refused: {statuses:?}");
    assert!(statuses[20..].iter().all(|s| *s == 429), "and every one after: {statuses:?}");
    assert!(statuses[..20].iter().all(|s| *s == 401), "{statuses:?}");
    let fresh = login_via(&app, "198.51.100.200", WORKER1, "not-the-password").await;
    assert_eq!(fresh, 429, "a fresh address is refused");
    let owner = login_via(&app, "198.51.100.201", WORKER1, PASSWORD).await;
    assert_eq!(owner, 429, "the account is locked for the window");
    let other = login_via(&app, "198.51.100.202", super::support::WORKER2, PASSWORD).await;
    assert_eq!(other, 200, "another account is not");
}
