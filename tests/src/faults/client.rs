//! An HTTP client for fault tests: a connection that drops is an outcome to
//! count, not a panic.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::Answer;

/// What became of a request.
pub enum Outcome {
    /// The server answered (any status).
    Answered(Answer),
    /// No answer: refused, reset or cut off mid-way. The request may or may
    /// not have been carried out.
    Dropped(String),
}

impl Outcome {
    /// The answer, if there was one.
    pub fn answer(&self) -> Option<&Answer> {
        match self {
            Outcome::Answered(answer) => Some(answer),
            Outcome::Dropped(_) => None,
        }
    }
}

/// A server reached over HTTP at some base URL.
#[derive(Clone)]
pub struct Remote {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    client: reqwest::Client,
}

impl Remote {
    /// A client for `base`.
    pub fn new(base: &str) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("http client");
        Self { base: base.to_owned(), client }
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Outcome {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        match request.send().await {
            Ok(response) => Outcome::Answered(crate::read(response).await),
            Err(err) => Outcome::Dropped(err.to_string()),
        }
    }

    /// Logs in with the demo password from a new device; answers the token.
    pub async fn login(&self, email: &str) -> String {
        let body = serde_json::json!({
            "email": email,
            "password": crate::PASSWORD,
            "device": { "id": uuid::Uuid::now_v7(), "name": "Outreach phone", "platform": "android" },
        });
        match self.send(Method::POST, "/v1/auth/login", None, Some(&body)).await {
            Outcome::Answered(answer) => answer.ok()["token"].as_str().expect("a token").to_owned(),
            Outcome::Dropped(err) => panic!("login to {} dropped: {err}", self.base),
        }
    }
}
