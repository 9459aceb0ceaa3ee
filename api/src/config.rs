//! Configuration: defaults, then an optional TOML file, then `OUTPOST_*`
//! environment variables (nested keys with `__`, e.g.
//! `OUTPOST_SESSION__IDLE_TTL_SECS`).
//!
//! Connection URLs can hold passwords, so `Debug` and the printed
//! configuration show them redacted.

use std::{fmt, net::SocketAddr, path::PathBuf};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

/// Everything the server reads at start-up.
#[derive(Clone, Serialize, Deserialize)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Directory for the embedded SQLite database (used when `database_url`
    /// is unset).
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite://…`; unset means a SQLite file in `data_dir`.
    pub database_url: Option<String>,
    /// Largest database connection pool (Postgres; SQLite always uses one
    /// connection so writes never contend for the file lock).
    pub database_max_connections: u32,
    /// `redis://…`; unset means an in-process cache stands in for Redis
    /// (a single server instance only).
    pub redis_url: Option<String>,
    /// Prefix of every Redis key this instance writes, so deployments (and
    /// tests) can share one Redis without colliding.
    pub redis_key_prefix: String,
    /// Milliseconds a Redis command may take before the server falls back.
    pub redis_timeout_ms: u64,
    /// `text` for people, `json` for log shippers.
    pub log_format: LogFormat,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// How long deletions stay in the sync feed, in days. A device offline
    /// longer than this must re-sync from the start (its cursor answers 410).
    pub tombstone_horizon_days: u32,
    /// How often the referral deadline job runs, in seconds (marks
    /// overdue referrals, expires unanswered ones).
    pub referral_deadlines_every_secs: u64,
    /// Login session lifetimes.
    pub session: SessionConfig,
    /// Login rate limits.
    pub login_limits: LoginLimits,
    /// argon2id cost for password hashes.
    pub password_hashing: PasswordHashing,
    /// Limits on connections and slow clients.
    pub connections: ConnectionLimits,
    /// Webhook deliveries to organisations' endpoints.
    pub webhooks: WebhookConfig,
}

/// Where webhooks may go, how they are signed, how hard they are retried.
#[derive(Clone, Serialize, Deserialize)]
pub struct WebhookConfig {
    /// The hosts (names or addresses, as written in the URL) endpoints may
    /// point at; none by default. The operator's list: an organisation
    /// cannot send the server's requests anywhere else (its own network).
    pub allowed_hosts: Vec<String>,
    /// The key every endpoint's signing secret is derived from (any text,
    /// long and random; the same on every instance). Unset: a key kept in
    /// `data_dir/webhook-signing.key`, right for a single instance only.
    pub signing_key: Option<String>,
    /// How often each instance looks for deliveries due, in milliseconds.
    pub poll_ms: u64,
    /// How long one attempt may take, in milliseconds.
    pub timeout_ms: u64,
    /// The first retry's delay, in milliseconds; each next one doubles (at
    /// most an hour), with up to half again of random jitter.
    pub retry_base_ms: u64,
    /// How long a delivery is retried before it is marked failed, seconds.
    pub retry_for_secs: u64,
}

/// What one client can hold of the server: connections, and time.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConnectionLimits {
    /// Open connections allowed per client address (0: no cap). Behind a
    /// reverse proxy every connection comes from the proxy: raise it or set
    /// 0 there, and let the proxy cap clients.
    pub per_address: usize,
    /// A connection that sends and receives nothing for this many seconds
    /// is closed (an idle keep-alive, or a client that stopped mid-request).
    pub idle_timeout_secs: u64,
    /// A request body must arrive whole within this many seconds (a client
    /// trickling a body gets 408).
    pub body_timeout_secs: u64,
    /// A request must be answered within this many seconds of its first
    /// byte, or its connection is closed (a client stalled in its headers).
    pub request_timeout_secs: u64,
}

/// Text or JSON logs.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// How long a login lasts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SessionConfig {
    /// A session unused for this long expires (sliding). Long enough for a
    /// 12-hour night round offline, with margin.
    pub idle_ttl_secs: u64,
    /// A session expires this long after login, however active.
    pub absolute_ttl_secs: u64,
    /// How often an active session's last use is written to the database.
    pub touch_interval_secs: u64,
}

/// Brute-force protection for `POST /v1/auth/login`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoginLimits {
    /// Failed logins allowed per account from one client address within
    /// the window (a lock-out from one address, never from everywhere).
    pub account_failures: u64,
    /// Window for the per-account count, in seconds.
    pub account_window_secs: u64,
    /// Login attempts allowed per client address within the window.
    pub address_attempts: u64,
    /// Window for the per-address count, in seconds.
    pub address_window_secs: u64,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy
    /// you control, which sets it).
    pub trust_forwarded_for: bool,
}

/// argon2id parameters (OWASP's recommended minimum by default).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PasswordHashing {
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Number of passes.
    pub iterations: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("outpost-data"),
            database_url: None,
            database_max_connections: 16,
            redis_url: None,
            redis_key_prefix: "outpost:".into(),
            redis_timeout_ms: 500,
            log_format: LogFormat::Text,
            max_body_bytes: 4 * 1024 * 1024,
            tombstone_horizon_days: 90,
            referral_deadlines_every_secs: 60,
            session: SessionConfig {
                idle_ttl_secs: 7 * 24 * 3600,
                absolute_ttl_secs: 30 * 24 * 3600,
                touch_interval_secs: 300,
            },
            login_limits: LoginLimits {
                account_failures: 10,
                account_window_secs: 15 * 60,
                address_attempts: 60,
                address_window_secs: 60,
                trust_forwarded_for: false,
            },
            password_hashing: PasswordHashing { memory_kib: 19 * 1024, iterations: 2 },
            connections: ConnectionLimits {
                per_address: 256,
                idle_timeout_secs: 60,
                body_timeout_secs: 30,
                request_timeout_secs: 60,
            },
            webhooks: WebhookConfig {
                allowed_hosts: Vec::new(),
                signing_key: None,
                poll_ms: 1000,
                timeout_ms: 5000,
                retry_base_ms: 10_000,
                retry_for_secs: 24 * 3600,
            },
        }
    }
}

impl Config {
    /// Loads defaults, then `file` (or `OUTPOST_CONFIG`) if given, then the
    /// `OUTPOST_*` environment.
    pub fn load(file: Option<PathBuf>) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        let file = file.or_else(|| std::env::var_os("OUTPOST_CONFIG").map(PathBuf::from));
        if let Some(path) = file {
            figment = figment.merge(Toml::file_exact(path));
        }
        figment
            .merge(Env::prefixed("OUTPOST_").split("__").ignore(&["config"]))
            .extract()
            .map_err(Box::new)
    }

    /// Every setting's environment variable (`OUTPOST_SESSION__IDLE_TTL_SECS`),
    /// from the configuration's own shape, so the list cannot drift from it.
    pub fn env_vars() -> Vec<String> {
        fn walk(prefix: &str, value: &serde_json::Value, out: &mut Vec<String>) {
            let Some(map) = value.as_object() else { return };
            for (key, value) in map {
                let name = format!("{prefix}{}", key.to_uppercase());
                if value.is_object() {
                    walk(&format!("{name}__"), value, out);
                } else {
                    out.push(name);
                }
            }
        }
        let mut out = Vec::new();
        walk("OUTPOST_", &serde_json::to_value(Config::default()).unwrap_or_default(), &mut out);
        // Unset by default, so absent from the serialised defaults.
        out.extend([
            "OUTPOST_DATABASE_URL".to_owned(),
            "OUTPOST_REDIS_URL".to_owned(),
            "OUTPOST_WEBHOOKS__SIGNING_KEY".to_owned(),
        ]);
        out.sort();
        out.dedup();
        out
    }

    /// Warnings for `OUTPOST_*` variables in `vars` that are no setting (a
    /// typo such as `OUTPOST_SESSION_IDLE_TTL_SECS` would otherwise be
    /// ignored without a word), with the setting meant when one is close.
    pub fn unknown_env_vars(vars: impl Iterator<Item = String>) -> Vec<String> {
        let known = Self::env_vars();
        // Variables that are read elsewhere: the configuration file, the
        // admin password of `admin create-org`, and the test harness's.
        let other = |name: &str| {
            matches!(name, "OUTPOST_CONFIG" | "OUTPOST_ADMIN_PASSWORD")
                || name.starts_with("OUTPOST_TEST_")
        };
        let squash = |name: &str| name.replace('_', "");
        vars.filter(|name| name.starts_with("OUTPOST_") && !known.contains(name) && !other(name))
            .map(|name| match known.iter().find(|k| squash(k) == squash(&name)) {
                Some(meant) => format!("{name} is not a setting; did you mean {meant}?"),
                None => format!("{name} is not a setting and is ignored (see `outpost config`)"),
            })
            .collect()
    }

    /// The database URL in force: the configured one, or the embedded SQLite
    /// file.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("outpost.db").display()),
        }
    }

    /// The configuration as TOML with every secret redacted, for
    /// `outpost config` and start-up logs.
    pub fn redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database_url = Some(redact_url(&self.effective_database_url()));
        shown.redis_url = self.redis_url.as_deref().map(redact_url);
        shown.webhooks.signing_key = self.webhooks.signing_key.as_ref().map(|_| "***".into());
        toml_string(&shown)
    }
}

fn toml_string(config: &Config) -> String {
    // figment already depends on `toml`; going through serde_json keeps us
    // from adding a second serializer just for this command.
    let value = serde_json::to_value(config).unwrap_or_default();
    let mut out = String::new();
    write_toml(&mut out, "", &value);
    out
}

fn write_toml(out: &mut String, section: &str, value: &serde_json::Value) {
    let Some(map) = value.as_object() else { return };
    for (key, value) in map.iter().filter(|(_, v)| !v.is_object()) {
        if !value.is_null() {
            out.push_str(&format!("{key} = {value}\n"));
        }
    }
    for (key, value) in map.iter().filter(|(_, v)| v.is_object()) {
        let name = if section.is_empty() { key.clone() } else { format!("{section}.{key}") };
        out.push_str(&format!("\n[{name}]\n"));
        write_toml(out, &name, value);
    }
}

/// Replaces the password of a `scheme://user:password@host/…` URL with `***`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let Some(at) = rest.rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &rest[..at];
    let redacted = match userinfo.find(':') {
        Some(colon) => format!("{}:***", &userinfo[..colon]),
        // A lone userinfo is a password for Redis (`redis://secret@host`).
        None => "***".to_owned(),
    };
    format!("{}{}{}", &url[..scheme_end + 3], redacted, &rest[at..])
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_deref().map(redact_url))
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("redis_key_prefix", &self.redis_key_prefix)
            .field("session", &self.session)
            .field("login_limits", &self.login_limits)
            .field("connections", &self.connections)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://outpost:s3cret@db:5432/outpost"),
            "postgres://outpost:***@db:5432/outpost"
        );
        assert_eq!(redact_url("redis://s3cret@cache:6379"), "redis://***@cache:6379");
        assert_eq!(redact_url("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        let config =
            Config { database_url: Some("postgres://u:hunter2@h/db".into()), ..Config::default() };
        assert!(!format!("{config:?}").contains("hunter2"));
        assert!(!config.redacted_toml().contains("hunter2"));
    }

    #[test]
    fn mistyped_variables_are_named_with_the_setting_meant() {
        let vars = [
            "OUTPOST_SESSION_IDLE_TTL_SECS",
            "OUTPOST_SESSION__IDLE_TTL_SECS",
            "OUTPOST_LISTEN",
            "OUTPOST_NONSENSE",
            "OUTPOST_TEST_DATABASE_URL",
            "PATH",
        ];
        let warnings = Config::unknown_env_vars(vars.iter().map(|v| v.to_string()));
        assert_eq!(
            warnings,
            [
                "OUTPOST_SESSION_IDLE_TTL_SECS is not a setting; did you mean \
                 OUTPOST_SESSION__IDLE_TTL_SECS?",
                "OUTPOST_NONSENSE is not a setting and is ignored (see `outpost config`)",
            ]
        );
        assert!(Config::env_vars().contains(&"OUTPOST_CONNECTIONS__PER_ADDRESS".to_owned()));
    }

    #[test]
    fn the_readme_lists_every_setting() {
        let readme = include_str!("../../README.md");
        let missing: Vec<String> = Config::env_vars()
            .into_iter()
            .filter(|name| !readme.contains(&format!("`{name}`")))
            .collect();
        assert!(missing.is_empty(), "README.md's configuration table lacks {missing:?}");
    }
}
