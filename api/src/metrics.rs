//! Prometheus metrics, one registry per server (so several servers in one
//! test process never share counters).

use std::sync::Arc;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

/// The server's metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    /// Requests answered, by method and status.
    pub requests: IntCounterVec,
    /// Request latency, by method.
    pub latency: HistogramVec,
    /// 1 while Redis answers (or none is configured), 0 while degraded.
    pub redis_up: IntGauge,
}

impl Metrics {
    /// A fresh registry with Outpost's metrics registered.
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("outpost_http_requests_total", "HTTP requests answered"),
            &["method", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new("outpost_http_request_duration_seconds", "HTTP request latency")
                .buckets(vec![0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
            &["method"],
        )
        .expect("valid metric");
        let redis_up = IntGauge::new("outpost_redis_up", "1 while the hot cache answers")
            .expect("valid metric");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(redis_up.clone()),
        ] {
            registry.register(collector).expect("metric registered once");
        }
        Self { registry: Arc::new(registry), requests, latency, redis_up }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
