//! `spawn_app()`: a real Outpost server on `127.0.0.1:0` with a fresh
//! database, for black-box tests over HTTP.
//!
//! By default each app gets its own SQLite file and the in-process cache.
//! With `OUTPOST_TEST_DATABASE_URL` (a Postgres server URL) each app gets a
//! new database on that server; with `OUTPOST_TEST_REDIS_URL` it uses that
//! Redis under a key prefix of its own. When either is set but unreachable
//! the test fails: it never quietly falls back to SQLite.

use std::{path::PathBuf, time::Duration};

use outpost_api::{
    cache::Cache,
    config::{Config, PasswordHashing},
    ops::demo as demo_data,
    server,
    service::organisations::{self, NewOrganisation},
    state::AppState,
};
use reqwest::{Method, StatusCode, header::HeaderMap};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

pub mod db;
pub mod demo;
pub mod device;
pub mod faults;

pub use outpost_api;

/// Demo password, for logging in as the demo accounts.
pub const PASSWORD: &str = demo_data::DEMO_PASSWORD;

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The server's state (database, cache), for checks behind the API.
    pub state: AppState,
    /// The configuration it runs with.
    pub config: Config,
    client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    cleanup: Cleanup,
}

/// What to remove when a test's storage is dropped.
enum Cleanup {
    Sqlite(PathBuf),
    Postgres {
        admin_url: String,
        database: String,
    },
    /// A sibling shares its database with the app that made it.
    None,
}

/// An answer, read whole.
pub struct Answer {
    /// Status code.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// The body as JSON (`Null` when empty or not JSON).
    pub body: Value,
    /// The body as text.
    pub text: String,
}

impl Answer {
    /// The `content-type` header.
    pub fn content_type(&self) -> &str {
        self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// Asserts a problem answer with this status and code; returns the body.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) -> &Value {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.text);
        assert_eq!(self.content_type(), "application/problem+json", "body: {}", self.text);
        assert_eq!(self.body["code"], code, "body: {}", self.text);
        assert_eq!(self.body["status"], status, "body: {}", self.text);
        assert_eq!(self.body["type"], format!("urn:outpost:problem:{code}"));
        assert!(self.body["title"].is_string());
        assert!(self.headers.contains_key("x-request-id"), "no request id");
        &self.body
    }

    /// Asserts a 2xx status; returns the body.
    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert!(self.status.is_success(), "expected success, got {}: {}", self.status, self.text);
        &self.body
    }
}

/// A way to authenticate a request.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    /// No credentials.
    None,
    /// A session token.
    Bearer(&'a str),
    /// An API key.
    ApiKey(&'a str),
}

/// Starts a server with the default test configuration.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts a server after `customize` has adjusted its configuration.
pub async fn spawn_app_with(customize: impl FnOnce(&mut Config)) -> TestApp {
    let (mut config, storage) = fresh_storage().await;
    customize(&mut config);
    start(config, None, storage.into_cleanup()).await
}

/// A test's own database (and Redis key prefix), removed when dropped.
pub struct Storage {
    cleanup: Cleanup,
    /// Whose cache namespace to forget at the end (with Redis).
    cache: Option<Config>,
}

impl Storage {
    /// The database's cleanup, for a `TestApp` (which forgets its cache
    /// namespace itself).
    fn into_cleanup(mut self) -> Cleanup {
        self.cache = None;
        std::mem::replace(&mut self.cleanup, Cleanup::None)
    }
}

impl Drop for Storage {
    /// Servers run as processes of their own leave their sessions and
    /// replay cache behind in Redis: forget them with the database.
    fn drop(&mut self) {
        if let Some(config) = &self.cache {
            forget_cache_namespace(config);
        }
    }
}

/// A configuration on fresh storage, as `spawn_app` uses: a new SQLite file,
/// or a new database on `OUTPOST_TEST_DATABASE_URL`, and a key prefix of its
/// own on `OUTPOST_TEST_REDIS_URL`. For tests that run the server themselves
/// (as a separate process); keep the `Storage` alive while it runs.
pub async fn fresh_storage() -> (Config, Storage) {
    let id = Uuid::now_v7().simple().to_string();
    let mut config = Config {
        // Cheap hashing keeps the suite fast; it is still argon2id.
        password_hashing: PasswordHashing { memory_kib: 1024, iterations: 1 },
        redis_key_prefix: format!("outpost-test:{id}:"),
        // Tests run the deadline job themselves, at the time they choose
        // (`outpost_api::records::referral::deadline_job::run`); one test
        // sets a short period to see the server run it.
        referral_deadlines_every_secs: 24 * 3600,
        ..Config::default()
    };
    let cleanup = match std::env::var("OUTPOST_TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let database = format!("outpost_test_{id}");
            let admin = Database::connect(&admin_url).await.unwrap_or_else(|e| {
                panic!("OUTPOST_TEST_DATABASE_URL is set but Postgres is unreachable ({admin_url}): {e}")
            });
            admin
                .execute_raw(Statement::from_string(
                    admin.get_database_backend(),
                    format!("CREATE DATABASE {database}"),
                ))
                .await
                .expect("create the test database");
            admin.close().await.ok();
            config.database_url = Some(with_database(&admin_url, &database));
            Cleanup::Postgres { admin_url, database }
        }
        _ => {
            let dir = std::env::temp_dir().join(format!("outpost-test-{id}"));
            config.data_dir = dir.clone();
            Cleanup::Sqlite(dir)
        }
    };
    if let Ok(redis_url) = std::env::var("OUTPOST_TEST_REDIS_URL")
        && !redis_url.is_empty()
    {
        assert_redis_answers(&redis_url).await;
        config.redis_url = Some(redis_url);
    }
    // A key of the test's own (a key file in the data directory would land
    // in the working directory on Postgres runs).
    config.webhooks.signing_key = Some(format!("test-key-{id}"));
    let cache = config.redis_url.is_some().then(|| config.clone());
    (config, Storage { cleanup, cache })
}

/// Starts an in-process server on `config` (from [`fresh_storage`], perhaps
/// adjusted); `storage` is dropped with the app.
pub async fn spawn_app_on(config: Config, storage: Storage) -> TestApp {
    start(config, None, storage.into_cleanup()).await
}

async fn assert_redis_answers(url: &str) {
    let client = redis::Client::open(url).expect("OUTPOST_TEST_REDIS_URL is a valid URL");
    let mut conn =
        tokio::time::timeout(Duration::from_secs(5), client.get_multiplexed_async_connection())
            .await
            .unwrap_or_else(|_| {
                panic!("OUTPOST_TEST_REDIS_URL is set but Redis does not answer ({url})")
            })
            .unwrap_or_else(|e| {
                panic!("OUTPOST_TEST_REDIS_URL is set but Redis is unreachable ({url}): {e}")
            });
    let pong: String = redis::cmd("PING").query_async(&mut conn).await.expect("redis answers PING");
    assert_eq!(pong, "PONG");
}

/// Replaces the database name (the URL's path) of a Postgres URL.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..].find('/').map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{database}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

async fn start(config: Config, shared_cache: Option<Cache>, cleanup: Cleanup) -> TestApp {
    let mut state = server::build_state(config.clone()).await.expect("server state builds");
    if let Some(cache) = shared_cache {
        state.cache = cache;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a port");
    let base = format!("http://{}", listener.local_addr().expect("bound address"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let serve_state = state.clone();
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = rx.await;
        };
        if let Err(err) = server::serve(serve_state, listener, shutdown).await {
            eprintln!("test server stopped: {err}");
        }
    });
    TestApp {
        base,
        state,
        config,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client"),
        shutdown: Some(tx),
        cleanup,
    }
}

impl TestApp {
    /// A second server instance on the same database and the same hot state
    /// (the same Redis prefix; in-process mode, the same cache object), as
    /// two instances behind a load balancer.
    pub async fn spawn_sibling(&self) -> TestApp {
        let shared = match &self.state.cache {
            Cache::Memory(_) => Some(self.state.cache.clone()),
            // A separate connection to the same Redis and prefix.
            Cache::Redis(_) => None,
        };
        start(self.config.clone(), shared, Cleanup::None).await
    }

    /// [`TestApp::spawn_sibling`] with its configuration adjusted by
    /// `customize` (a later instance with other settings: a restart).
    pub async fn spawn_sibling_with(&self, customize: impl FnOnce(&mut Config)) -> TestApp {
        let shared = match &self.state.cache {
            Cache::Memory(_) => Some(self.state.cache.clone()),
            Cache::Redis(_) => None,
        };
        let mut config = self.config.clone();
        customize(&mut config);
        start(config, shared, Cleanup::None).await
    }

    /// Loads the demo organisation.
    pub async fn load_demo(&self) {
        demo_data::ensure(&self.state.db, &self.config.password_hashing).await.expect("demo loads");
    }

    /// Creates another organisation with an admin; answers the admin's
    /// token.
    pub async fn other_organisation(&self, slug: &str) -> String {
        let email = format!("admin@{slug}.test");
        organisations::create_with_admin(
            &self.state.db,
            &self.config.password_hashing,
            NewOrganisation {
                name: slug,
                slug,
                admin_email: &email,
                admin_name: "Other Admin",
                admin_password: PASSWORD,
            },
        )
        .await
        .expect("organisation created");
        self.login(&email).await
    }

    /// Deletes every cached key of this app, as a Redis flush would.
    pub async fn flush_cache(&self) {
        self.state.cache.flush_namespace().await.expect("cache flush");
    }

    /// Sends a request.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self.client.request(method.clone(), format!("{}{path}", self.base));
        request = match auth {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::ApiKey(key) => request.header("x-api-key", key),
        };
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = read(request.send().await.expect("request sent")).await;
        assert_declared(&method, path, answer.status);
        answer
    }

    /// Sends a raw request built by `build`.
    pub async fn raw(
        &self,
        build: impl FnOnce(&reqwest::Client, String) -> reqwest::RequestBuilder,
    ) -> Answer {
        read(build(&self.client, self.base.clone()).send().await.expect("request sent")).await
    }

    /// GET with a session token.
    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Auth::Bearer(token), None).await
    }

    /// POST JSON with a session token.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Auth::Bearer(token), Some(body)).await
    }

    /// PATCH JSON with a session token.
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::PATCH, path, Auth::Bearer(token), Some(body)).await
    }

    /// DELETE with a session token.
    pub async fn delete(&self, path: &str, token: &str) -> Answer {
        self.call(Method::DELETE, path, Auth::Bearer(token), None).await
    }

    /// Attempts a login.
    pub async fn try_login(&self, email: &str, password: &str, device: Option<Value>) -> Answer {
        let mut body = json!({ "email": email, "password": password });
        if let Some(device) = device {
            body["device"] = device;
        }
        self.call(Method::POST, "/v1/auth/login", Auth::None, Some(body)).await
    }

    /// Logs in with the demo password; answers the token.
    pub async fn login(&self, email: &str) -> String {
        self.login_with(email, PASSWORD).await
    }

    /// Logs in with a given password; answers the token.
    pub async fn login_with(&self, email: &str, password: &str) -> String {
        token_of(&self.try_login(email, password, None).await)
    }

    /// Logs in from a device; answers the token.
    pub async fn login_on_device(&self, email: &str, device_id: Uuid) -> String {
        let device = json!({ "id": device_id, "name": "Outreach phone", "platform": "android" });
        token_of(&self.try_login(email, PASSWORD, Some(device)).await)
    }
}

fn token_of(answer: &Answer) -> String {
    answer.ok()["token"].as_str().expect("a token").to_owned()
}

pub(crate) async fn read(response: reqwest::Response) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer { status, headers, body, text }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if !matches!(self.cleanup, Cleanup::None) {
            forget_cache_namespace(&self.config);
        }
    }
}

/// Deletes every key of `config`'s cache namespace in Redis (none without
/// Redis): sessions live for days and the replay cache for a day, and a
/// shared Redis must not fill up with what tests and benchmarks leave.
/// Blocks, on a connection of its own: callers may be inside a runtime
/// driving the app's connection.
pub fn forget_cache_namespace(config: &Config) {
    let Some(url) = config.redis_url.clone() else { return };
    let pattern = format!("{}*", config.redis_key_prefix);
    let _ = std::thread::spawn(move || {
        let Ok(client) = redis::Client::open(url) else {
            return;
        };
        let Ok(mut conn) = client.get_connection() else {
            return;
        };
        let keys: Vec<String> =
            redis::cmd("KEYS").arg(&pattern).query(&mut conn).unwrap_or_default();
        for chunk in keys.chunks(10_000) {
            let _: redis::RedisResult<()> = redis::cmd("UNLINK").arg(chunk).query(&mut conn);
        }
    })
    .join();
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        match self {
            Cleanup::None => {}
            Cleanup::Sqlite(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin_url, database } => {
                let (admin_url, database) = (admin_url.clone(), database.clone());
                // Drop runs inside the test's runtime, which cannot block on
                // itself: drop the database from a thread of its own.
                let _ = std::thread::spawn(move || {
                    let runtime =
                        tokio::runtime::Builder::new_current_thread().enable_all().build();
                    if let Ok(runtime) = runtime {
                        runtime.block_on(async {
                            if let Ok(admin) = Database::connect(&admin_url).await {
                                let sql =
                                    format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)");
                                let _ = admin
                                    .execute_raw(Statement::from_string(
                                        admin.get_database_backend(),
                                        sql,
                                    ))
                                    .await;
                            }
                        });
                    }
                })
                .join();
            }
        }
    }
}

/// Fails when an operation answers a status its spec entry does not
/// declare (`outpost_api::http::declared`). Transport-level refusals (a URI
/// or headers too long) come before any operation and are documented with
/// the errors, not per operation.
fn assert_declared(method: &Method, path: &str, status: StatusCode) {
    static SPEC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    if matches!(status.as_u16(), 414 | 431) {
        return;
    }
    let spec = SPEC.get_or_init(|| serde_json::from_str(&outpost_api::http::spec_json()).unwrap());
    let path = path.split('?').next().unwrap_or(path);
    let Some(operation) = outpost_api::http::locate::operation(spec, method.as_str(), path) else {
        return;
    };
    assert!(
        operation["responses"].get(status.as_str()).is_some(),
        "{} {path} answered {status}, which `{}` does not declare",
        method,
        operation["operationId"].as_str().unwrap_or_default()
    );
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(with_database("postgres://u@h:5432/postgres", "x"), "postgres://u@h:5432/x");
        assert_eq!(with_database("postgres://u@h:5432", "x"), "postgres://u@h:5432/x");
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}
