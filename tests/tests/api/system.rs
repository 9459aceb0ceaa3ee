//! Health, readiness and metrics.

use outpost_tests::{Auth, spawn_app};
use reqwest::Method;

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    let health = app.call(Method::GET, "/healthz", Auth::None, None).await;
    assert_eq!(health.ok()["status"], "ok");
    let ready = app.call(Method::GET, "/readyz", Auth::None, None).await;
    let ready = ready.ok();
    assert_eq!(ready["status"], "ok");
    assert_eq!(ready["database"], true);
    let expected = if app.config.redis_url.is_some() { "up" } else { "in_process" };
    assert_eq!(ready["cache"], expected);
}

#[tokio::test]
async fn metrics_count_requests() {
    let app = spawn_app().await;
    app.call(Method::GET, "/healthz", Auth::None, None).await;
    app.call(Method::GET, "/v1/nothing-here", Auth::None, None).await;
    let metrics = app.call(Method::GET, "/metrics", Auth::None, None).await;
    assert_eq!(metrics.status.as_u16(), 200);
    assert!(
        metrics.text.contains(r#"outpost_http_requests_total{method="GET",status="200"}"#),
        "{}",
        metrics.text
    );
    assert!(metrics.text.contains(r#"outpost_http_requests_total{method="GET",status="404"}"#));
    assert!(metrics.text.contains("outpost_http_request_duration_seconds_bucket"));
    // Current at scrape time, without anyone having asked /readyz.
    assert!(metrics.text.lines().any(|l| l == "outpost_redis_up 1"), "{}", metrics.text);
}
