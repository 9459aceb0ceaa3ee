//! The `outpost` command line: serve, migrate, print the spec, administer.

use std::path::PathBuf;

use crate::{
    config::Config,
    db, http,
    ops::{consistency, demo},
    server,
    service::organisations::{self, NewOrganisation},
    telemetry,
};
use anyhow::Context;
use clap::{Parser, Subcommand};
use outpost_migration::{Migrator, MigratorTrait};

/// Outpost: records for outreach teams, captured offline and synced later.
#[derive(Parser)]
#[command(name = "outpost", version, about)]
struct Cli {
    /// A TOML configuration file (also `OUTPOST_CONFIG`); `OUTPOST_*`
    /// environment variables override it.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (migrations run first).
    Serve {
        /// Also load the demo organisation and print its sign-ins.
        #[arg(long)]
        demo: bool,
    },
    /// Manage the database schema.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Write the OpenAPI spec.
    Openapi {
        /// Write to this file instead of stdout.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Print the configuration in force, secrets redacted.
    Config,
    /// Administer a deployment.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
}

#[derive(Subcommand)]
enum MigrateAction {
    /// Apply pending migrations.
    Up,
    /// Roll back the last `steps` migrations.
    Down {
        /// How many migrations to roll back.
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List migrations and whether each is applied.
    Status,
}

#[derive(Subcommand)]
enum AdminAction {
    /// Create an organisation with its first admin.
    CreateOrg {
        /// The organisation's name.
        #[arg(long)]
        name: String,
        /// A unique slug (a-z, 0-9, -).
        #[arg(long)]
        slug: String,
        /// The first admin's email.
        #[arg(long)]
        admin_email: String,
        /// The first admin's display name.
        #[arg(long, default_value = "Administrator")]
        admin_name: String,
        /// The first admin's password; read from this environment variable
        /// so it never lands in shell history. Unset: one is generated and
        /// printed once.
        #[arg(long, default_value = "OUTPOST_ADMIN_PASSWORD")]
        password_env: String,
    },
    /// Check the database's consistency (tenancy, change feed, revisions,
    /// mutation log): prints each check with its count of violations and
    /// exits non-zero when any is violated. Read-only.
    Check,
}

/// Runs the `outpost` command line: parses the arguments and does what they
/// say. The `outpost` binary is this function; the fault tests run it as a
/// separate process so they can kill it.
pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    for warning in Config::unknown_env_vars(std::env::vars().map(|(name, _)| name)) {
        eprintln!("warning: {warning}");
    }
    let config = Config::load(cli.config).context("reading configuration")?;
    match cli.command {
        Command::Openapi { output } => {
            let spec = http::spec_json();
            match output {
                Some(path) => std::fs::write(&path, spec)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => out(&spec)?,
            }
        }
        Command::Config => out(&config.redacted_toml())?,
        Command::Serve { demo } => serve(config, demo).await?,
        Command::Migrate { action } => {
            telemetry::init(config.log_format);
            let db = db::connect(&config.effective_database_url(), 1).await?;
            match action {
                MigrateAction::Up => Migrator::up(&db, None).await?,
                MigrateAction::Down { steps } => Migrator::down(&db, Some(steps)).await?,
                MigrateAction::Status => {
                    // Plain lines on stdout (the library's own status goes
                    // to the log, with colours).
                    let mut lines = String::new();
                    for m in Migrator::get_migration_with_status(&db).await? {
                        let status = format!("{:?}", m.status()).to_lowercase();
                        lines.push_str(&format!("{status:<8} {}\n", m.name()));
                    }
                    out(&lines)?;
                }
            }
        }
        Command::Admin { action: AdminAction::Check } => {
            let db = db::connect(&config.effective_database_url(), 1).await?;
            let report = consistency::run(&db).await?;
            out(&format!("{report}\n"))?;
            if !report.is_consistent() {
                anyhow::bail!("the database is inconsistent");
            }
        }
        Command::Admin {
            action: AdminAction::CreateOrg { name, slug, admin_email, admin_name, password_env },
        } => {
            let db = db::connect(&config.effective_database_url(), 1).await?;
            db::migrate(&db).await?;
            let (password, generated) = match std::env::var(&password_env) {
                Ok(password) => (password, false),
                Err(_) => (crate::secrets::new_secret("")[..24].to_owned(), true),
            };
            let (org, admin) = organisations::create_with_admin(
                &db,
                &config.password_hashing,
                NewOrganisation {
                    name: &name,
                    slug: &slug,
                    admin_email: &admin_email,
                    admin_name: &admin_name,
                    admin_password: &password,
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut said = format!(
                "created organisation {} ({})\nfirst admin: {} ({})\n",
                org.name, org.id, admin.email, admin.id
            );
            if generated {
                said.push_str(&format!(
                    "generated password (shown once, change it after signing in): {password}\n"
                ));
            }
            out(&said)?;
        }
    }
    Ok(())
}

/// Writes `text` to standard output. A reader that went away (`outpost
/// openapi | head`) ends the output quietly instead of panicking, as
/// `print!` does on a broken pipe.
fn out(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

async fn serve(config: Config, load_demo: bool) -> anyhow::Result<()> {
    telemetry::init(config.log_format);
    tracing::info!(config = ?config, "starting outpost");
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let state = server::build_state(config).await?;
    if load_demo {
        demo::ensure(&state.db, &state.config.password_hashing)
            .await
            .map_err(|e| anyhow::anyhow!("loading the demo organisation: {e}"))?;
        print_demo_banner(&state.config);
    }
    if state.config.redis_url.is_none() {
        tracing::info!("no OUTPOST_REDIS_URL: using the in-process cache (single instance only)");
    }
    tracing::info!(listen = %state.config.listen, "listening; API docs at /docs");
    server::serve(state, listener, shutdown_signal()).await
}

fn print_demo_banner(config: &Config) {
    let base = format!("http://{}", config.listen);
    println!("\nDemo organisation \"Demo Outreach\" is loaded. Sign in with any of:");
    for (email, _, role) in demo::DEMO_USERS {
        println!(
            "  {email:<28} {:<8} password: {}",
            format!("{role:?}").to_lowercase(),
            demo::DEMO_PASSWORD
        );
    }
    println!("\nTry it: open {base}/docs, or");
    println!(
        "  curl -s {base}/v1/auth/login -H 'content-type: application/json' \\\n    -d '{{\"email\":\"worker1@demo.outpost.test\",\"password\":\"{}\"}}'\n",
        demo::DEMO_PASSWORD
    );
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
