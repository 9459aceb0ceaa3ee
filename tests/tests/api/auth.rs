//! Login, wrong passwords, rate limits, logout.

use outpost_tests::{Answer, Auth, PASSWORD, TestApp, spawn_app, spawn_app_with};
use reqwest::Method;

#[tokio::test]
async fn a_demo_worker_logs_in_and_calls_me() {
    let app = spawn_app().await;
    app.load_demo().await;
    let login = app.try_login("worker1@demo.outpost.test", PASSWORD, None).await;
    let body = login.ok();
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["token"].as_str().unwrap().starts_with("ops_"));
    let token = body["token"].as_str().unwrap();

    let me = app.get("/v1/me", token).await;
    let me = me.ok();
    assert_eq!(me["user"]["email"], "worker1@demo.outpost.test");
    assert_eq!(me["user"]["role"], "worker");
    assert_eq!(me["organisation"]["name"], "Demo Outreach");
    assert_eq!(me["sites"].as_array().unwrap().len(), 2);
    assert!(me["device"].is_null());
    assert!(me["session"]["expires_at"].is_string());
    assert!(me["user"].get("password").is_none() && me["user"].get("password_hash").is_none());
}

#[tokio::test]
async fn login_is_case_insensitive_on_email() {
    let app = spawn_app().await;
    app.load_demo().await;
    app.try_login("  Worker1@Demo.Outpost.Test ", PASSWORD, None).await.ok();
}

#[tokio::test]
async fn wrong_password_and_unknown_email_look_the_same() {
    let app = spawn_app().await;
    app.load_demo().await;
    let wrong = app.try_login("worker1@demo.outpost.test", "not-the-password", None).await;
    wrong.assert_problem(401, "invalid_credentials");
    let unknown = app.try_login("nobody@demo.outpost.test", PASSWORD, None).await;
    unknown.assert_problem(401, "invalid_credentials");
    assert_eq!(wrong.body["detail"], unknown.body["detail"]);
}

/// A login from a given client address (the server trusts
/// `X-Forwarded-For` in these tests).
async fn login_from(app: &TestApp, address: &str, email: &str, password: &str) -> Answer {
    let body = serde_json::json!({ "email": email, "password": password });
    app.raw(|client, base| {
        client.post(format!("{base}/v1/auth/login")).header("x-forwarded-for", address).json(&body)
    })
    .await
}

#[tokio::test]
async fn failed_logins_are_limited_per_account_and_address() {
    let app = spawn_app_with(|c| {
        c.login_limits.account_failures = 3;
        c.login_limits.trust_forwarded_for = true;
    })
    .await;
    app.load_demo().await;
    let guesser = "203.0.113.7";
    for _ in 0..3 {
        login_from(&app, guesser, "worker1@demo.outpost.test", "wrong-password")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    // The guesser is locked out of this account, even with the right
    // password.
    let locked = login_from(&app, guesser, "worker1@demo.outpost.test", PASSWORD).await;
    locked.assert_problem(429, "rate_limited");
    let retry_after: u64 = locked.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry_after), "retry-after {retry_after}");
    // The account's owner, elsewhere, is not: a stranger cannot lock them
    // out. Nor is another account from the guesser's address.
    login_from(&app, "198.51.100.20", "worker1@demo.outpost.test", PASSWORD).await.ok();
    login_from(&app, guesser, "worker2@demo.outpost.test", PASSWORD).await.ok();
}

#[tokio::test]
async fn login_attempts_are_limited_per_address() {
    let app = spawn_app_with(|c| c.login_limits.address_attempts = 4).await;
    app.load_demo().await;
    for i in 0..4 {
        let email = format!("nobody{i}@demo.outpost.test");
        app.try_login(&email, "wrong-password", None)
            .await
            .assert_problem(401, "invalid_credentials");
    }
    let limited = app.try_login("worker1@demo.outpost.test", PASSWORD, None).await;
    limited.assert_problem(429, "rate_limited");
    assert!(limited.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn the_rate_limit_holds_while_redis_is_unreachable() {
    // A Redis nobody listens on: counters fall back to the instance.
    let app = spawn_app_with(|c| {
        c.redis_url = Some("redis://127.0.0.1:1".into());
        c.redis_timeout_ms = 200;
        c.login_limits.account_failures = 2;
    })
    .await;
    app.load_demo().await;
    for _ in 0..2 {
        app.try_login("worker1@demo.outpost.test", "wrong-password", None)
            .await
            .assert_problem(401, "invalid_credentials");
    }
    app.try_login("worker1@demo.outpost.test", PASSWORD, None)
        .await
        .assert_problem(429, "rate_limited");
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    app.load_demo().await;
    let token = app.login("worker1@demo.outpost.test").await;
    let other = app.login("worker1@demo.outpost.test").await;
    let out = app.call(Method::POST, "/v1/auth/logout", Auth::Bearer(&token), None).await;
    assert_eq!(out.status.as_u16(), 204, "{}", out.text);
    app.get("/v1/me", &token).await.assert_problem(401, "invalid_token");
    app.call(Method::POST, "/v1/auth/logout", Auth::Bearer(&token), None)
        .await
        .assert_problem(401, "invalid_token");
    // Only that session ended.
    app.get("/v1/me", &other).await.ok();
}

#[tokio::test]
async fn a_made_up_token_is_refused() {
    let app = spawn_app().await;
    app.get("/v1/me", "ops_0000000000000000000000000000000000000000000000000000000000000000")
        .await
        .assert_problem(401, "invalid_token");
    app.get("/v1/me", "not-even-a-token").await.assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn a_deactivated_user_is_signed_out_and_cannot_sign_in() {
    let app = spawn_app().await;
    app.load_demo().await;
    let manager = app.login("manager@demo.outpost.test").await;
    let worker = app.login("worker2@demo.outpost.test").await;
    let worker_id =
        app.get("/v1/me", &worker).await.ok()["user"]["id"].as_str().unwrap().to_owned();
    app.delete(&format!("/v1/users/{worker_id}"), &manager).await.ok();
    app.get("/v1/me", &worker).await.assert_problem(401, "invalid_token");
    app.try_login("worker2@demo.outpost.test", PASSWORD, None)
        .await
        .assert_problem(401, "invalid_credentials");
}
