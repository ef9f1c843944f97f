//! The `million` command line: `serve`, `migrate`, `seed`, `config`.

use clap::{Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};

use crate::db::local::LocalDatabase;
use crate::settings::{DatabaseTarget, Settings};
use crate::startup::Application;
use crate::{db, seed, telemetry};

/// A Conduit-style social site that walks the scaling road.
#[derive(Debug, Parser)]
#[command(name = "million", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the site. With no database configured, runs a private PostgreSQL
    /// in `database.embedded_dir` and serves from it.
    Serve {
        /// Seed a small demo data set first if the database has no users.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Fill the database with generated users, articles, follows, favorites
    /// and comments.
    Seed {
        /// How many users to create.
        #[arg(long, default_value_t = 1_000)]
        users: u64,
        /// How many articles to create.
        #[arg(long, default_value_t = 5_000)]
        articles: u64,
        /// Do nothing when the database already has users.
        #[arg(long)]
        if_empty: bool,
    },
    /// Print the effective configuration, secrets masked.
    Config,
    /// Exit 0 if the server configured here answers `/healthz` within two
    /// seconds, 1 otherwise: a container's health check, with no HTTP
    /// client in the image.
    Healthcheck,
    /// Drive traffic through the running phase's front door and report
    /// requests/s, p50/p99 latency and errors.
    Load(crate::load::LoadArgs),
    /// Measure what the architecture buys: the cache tier (phase 3 against
    /// phase 4), `scale` (every endpoint on small and large data), `signin`
    /// (reads during a sign-in storm).
    Bench(crate::bench::BenchArgs),
    /// Stand up a phase of the scaling road on this machine, and manage it.
    Stack {
        #[command(subcommand)]
        command: crate::stack::cli::StackCommand,
    },
    /// The server's password hashing helper process (started by the server
    /// itself; see `auth::password`).
    #[command(name = "hash-helper", hide = true)]
    HashHelper {
        /// Hashes computed at once.
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
}

/// Runs `cli`.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Stack { command } = cli.command {
        telemetry::init(&crate::settings::LogSettings {
            level: "warn".to_string(),
            format: crate::settings::LogFormat::Pretty,
        });
        return crate::stack::cli::run(command).await;
    }
    if let Command::Load(args) = cli.command {
        return crate::load::run(args).await;
    }
    if let Command::Bench(args) = cli.command {
        return crate::bench::run(args).await;
    }
    let mut settings = Settings::load()?;
    telemetry::init(&settings.log);
    match cli.command {
        Command::Config => {
            print!("{}", settings.to_redacted_toml()?);
            Ok(())
        }
        Command::Healthcheck => healthcheck(&settings.application).await,
        Command::Migrate => {
            with_database(&mut settings, async |settings| {
                let applied = db::migrations::run(conninfo(settings)).await?;
                if applied.is_empty() {
                    println!("The database schema is up to date.");
                } else {
                    println!("Applied migrations: {}", applied.join(", "));
                }
                Ok(())
            })
            .await
        }
        Command::Seed {
            users,
            articles,
            if_empty,
        } => {
            with_database(&mut settings, async |settings| {
                db::migrations::run(conninfo(settings)).await?;
                let plan = seed::Plan::new(users, articles);
                seed::run(conninfo(settings), &plan, if_empty).await
            })
            .await
        }
        Command::Stack { .. }
        | Command::Load(_)
        | Command::Bench(_)
        | Command::HashHelper { .. } => Ok(()),
        Command::Serve { demo } => {
            with_database(&mut settings, async |settings| {
                let application = Application::build(settings.clone()).await?;
                if demo {
                    seed::run(conninfo(settings), &seed::Plan::demo(), true).await?;
                }
                tracing::info!(
                    "serving on http://{}:{} as {}",
                    settings.application.host,
                    application.port(),
                    application.instance()
                );
                application.run_until_stopped().await?;
                tracing::info!("stopped");
                Ok(())
            })
            .await
        }
    }
}

/// Asks this machine's server for `/healthz`, at the address it is
/// configured to listen on (`0.0.0.0` and `::` are asked on loopback).
async fn healthcheck(application: &crate::settings::ApplicationSettings) -> anyhow::Result<()> {
    let host: std::net::IpAddr = application
        .host
        .parse()
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    let host = match host {
        unspecified if unspecified.is_unspecified() => {
            std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
        }
        host => host,
    };
    let url = format!(
        "http://{}/healthz",
        std::net::SocketAddr::new(host, application.port)
    );
    let answer = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(2))
        .build()?
        .get(&url)
        .send()
        .await;
    match answer {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => anyhow::bail!("{url} answered {}", response.status()),
        Err(error) => anyhow::bail!("{url} did not answer: {error}"),
    }
}

fn conninfo(settings: &Settings) -> &str {
    settings.database.url.expose_secret()
}

/// Runs `work` with `settings.database.url` naming a reachable database: the
/// configured one, or an embedded cluster started (and stopped) around it.
async fn with_database(
    settings: &mut Settings,
    work: impl AsyncFnOnce(&Settings) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    match settings.database.target() {
        DatabaseTarget::Url(_) => work(settings).await,
        DatabaseTarget::Embedded(dir) => {
            let local = LocalDatabase::start(&dir).await?;
            settings.database.url = SecretString::from(local.conninfo());
            let result = work(settings).await;
            local.stop();
            result
        }
    }
}
