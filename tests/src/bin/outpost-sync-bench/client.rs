//! The devices' side of HTTP: a plain client, as a phone's would be (no
//! spec checks on the answers, which would be the benchmark's own cost).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

/// The server's base address and a pooled client.
#[derive(Clone)]
pub struct Api {
    base: String,
    client: reqwest::Client,
}

impl Api {
    /// A client of `base` (`http://127.0.0.1:PORT`).
    pub fn new(base: &str) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .tcp_nodelay(true)
            .build()
            .expect("http client");
        Self { base: base.to_owned(), client }
    }

    /// Sends a request; answers the parsed JSON body and how long the
    /// answer took, its parsing included (the device's time). Fails on
    /// any status but 2xx.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<(Value, Duration)> {
        let started = Instant::now();
        let mut request = self.client.request(method.clone(), format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        anyhow::ensure!(
            status.is_success(),
            "{method} {path} answered {status}: {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(500)])
        );
        let value: Value = serde_json::from_slice(&bytes)?;
        Ok((value, started.elapsed()))
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, token: &str, body: &Value) -> anyhow::Result<Value> {
        Ok(self.send(reqwest::Method::POST, path, Some(token), Some(body)).await?.0)
    }

    /// `GET path`.
    pub async fn get(&self, path: &str, token: &str) -> anyhow::Result<Value> {
        Ok(self.send(reqwest::Method::GET, path, Some(token), None).await?.0)
    }

    /// Signs `email` in on a new device; answers the token.
    pub async fn login(&self, email: &str, password: &str) -> anyhow::Result<String> {
        let body = json!({
            "email": email,
            "password": password,
            "device": { "id": Uuid::now_v7(), "name": "Outreach phone", "platform": "android" },
        });
        let (answer, _) =
            self.send(reqwest::Method::POST, "/v1/auth/login", None, Some(&body)).await?;
        answer["token"].as_str().map(str::to_owned).ok_or_else(|| anyhow::anyhow!("no token"))
    }

    /// A push of `mutations`; answers its latency. Fails unless every
    /// mutation was applied.
    pub async fn push(&self, token: &str, mutations: Vec<Value>) -> anyhow::Result<Duration> {
        let count = mutations.len();
        let body = json!({ "mutations": mutations });
        let (answer, took) =
            self.send(reqwest::Method::POST, "/v1/sync/push", Some(token), Some(&body)).await?;
        let applied = answer["results"]
            .as_array()
            .map(|r| r.iter().filter(|r| r["status"] == "applied").count())
            .unwrap_or(0);
        anyhow::ensure!(applied == count, "{applied} of {count} mutations applied: {answer}");
        Ok(took)
    }

    /// One pull page after `cursor`: (changes, next cursor, has_more,
    /// latency).
    pub async fn pull_page(
        &self,
        token: &str,
        cursor: Option<&str>,
    ) -> anyhow::Result<(Vec<Value>, String, bool, Duration)> {
        let path = match cursor {
            Some(c) => format!("/v1/sync/pull?limit=1000&cursor={c}"),
            None => "/v1/sync/pull?limit=1000".to_owned(),
        };
        let (mut page, took) = self.send(reqwest::Method::GET, &path, Some(token), None).await?;
        let changes = match page["changes"].take() {
            Value::Array(changes) => changes,
            _ => anyhow::bail!("a pull page without changes"),
        };
        let cursor = page["cursor"].as_str().unwrap_or_default().to_owned();
        Ok((changes, cursor, page["has_more"].as_bool().unwrap_or(false), took))
    }
}
