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
    /// No whole answer: refused, reset, or cut off mid-way (headers without
    /// the body count as no answer). The request may or may not have been
    /// carried out.
    Dropped {
        /// What the client saw.
        reason: String,
        /// The connection was refused: the request never left the phone.
        refused: bool,
    },
}

impl Outcome {
    /// The answer, if there was one.
    pub fn answer(&self) -> Option<&Answer> {
        match self {
            Outcome::Answered(answer) => Some(answer),
            Outcome::Dropped { .. } => None,
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
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => {
                return Outcome::Dropped { reason: err.to_string(), refused: err.is_connect() };
            }
        };
        let (status, headers) = (response.status(), response.headers().clone());
        match response.text().await {
            Ok(text) => {
                let body = serde_json::from_str(&text).unwrap_or(Value::Null);
                Outcome::Answered(Answer { status, headers, body, text })
            }
            Err(err) => Outcome::Dropped { reason: err.to_string(), refused: false },
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
            Outcome::Dropped { reason, .. } => panic!("login to {} dropped: {reason}", self.base),
        }
    }
}
