//! The kinds of server a stack is made of. Each kind is a module with a
//! type implementing [`Server`]: how its config is rendered from `deploy/`,
//! how it is started, and how its health is probed. A topology
//! ([`super::plan::Plan`]) says which servers run, how many and where;
//! [`layout`] turns it into the list the supervisor starts in order.

mod app;
pub mod haproxy;
mod nginx;
mod postgres;
mod redis;
mod replica;
mod tls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures_util::future::BoxFuture;
use nix::sys::signal::Signal;

use super::plan::Plan;
use super::secrets::Secrets;
use crate::db::embedded::PostgresServer;
use crate::process::ManagedChild;

pub use app::{App, app_container};
pub use haproxy::Haproxy;
pub use nginx::{Nginx, NginxRole};
pub use postgres::{
    APP_ROLE, DATABASE, Primary, REPLICATION_ROLE, app_conninfo, database_env, postgres_dir,
    postgres_location, runner_conninfo,
};
pub use redis::{Redis, redis_ok};
pub use replica::{Replica, replica_name};

/// One kind of server in a topology.
pub trait Server: Send + Sync {
    /// What it is.
    fn kind(&self) -> Kind;

    /// Writes its configs, rendered from the templates in `deploy/`, into
    /// the stack's state folder.
    fn render(&self, plan: &Plan, secrets: &Secrets) -> anyhow::Result<()>;

    /// Starts it from the rendered configs. Returns once it runs (a
    /// database: once it accepts connections and is provisioned).
    fn start<'a>(
        &'a self,
        plan: &'a Plan,
        secrets: &'a Secrets,
    ) -> BoxFuture<'a, anyhow::Result<Process>>;

    /// Whether it serves right now. By default, running is serving: a
    /// database's `start` returns only once it accepts connections.
    fn probe<'a>(&'a self, _plan: &'a Plan) -> BoxFuture<'a, bool> {
        Box::pin(async { true })
    }

    /// An address that answers 200 while it is healthy, shown by `status`.
    fn health_url(&self) -> Option<String> {
        None
    }
}

/// What a component is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Postgres,
    /// A streaming replica of the database (phase 5+).
    Replica,
    App,
    /// nginx in front of the app (phases 1–2).
    FrontNginx,
    /// nginx serving static files behind HAProxy (phase 3+).
    StaticNginx,
    Haproxy,
    /// The Redis cache tier (phase 4+).
    Redis,
}

impl Kind {
    /// The name `status` shows.
    pub fn label(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Replica => "replica",
            Self::App => "app",
            Self::FrontNginx | Self::StaticNginx => "nginx",
            Self::Haproxy => "haproxy",
            Self::Redis => "redis",
        }
    }
}

/// One server of a topology: its name, where it listens, and its kind.
pub struct Placed {
    pub name: String,
    /// Where it listens, as shown to people.
    pub address: String,
    pub server: Arc<dyn Server>,
}

/// Every server of `plan`, in start order: the database and its replicas,
/// the cache, the app servers, then the front door.
pub fn layout(plan: &Plan) -> Vec<Placed> {
    let mut list: Vec<Placed> = Vec::new();
    let mut place = |name: String, address: String, server: Arc<dyn Server>| {
        list.push(Placed {
            name,
            address,
            server,
        });
    };
    place(
        "postgres".to_string(),
        match &plan.database {
            super::plan::DatabasePlacement::SameHost => "unix socket".to_string(),
            super::plan::DatabasePlacement::OwnHost(address) => address.to_string(),
        },
        Arc::new(Primary),
    );
    for (index, address) in plan.replicas.iter().enumerate() {
        place(
            replica_name(index),
            address.to_string(),
            Arc::new(Replica { index }),
        );
    }
    if let Some(address) = plan.cache {
        place(
            "redis".to_string(),
            address.to_string(),
            Arc::new(Redis {
                address,
                password: std::sync::OnceLock::new(),
            }),
        );
    }
    for (index, app) in plan.apps.iter().enumerate() {
        place(
            app.name.clone(),
            app.address.to_string(),
            Arc::new(App {
                index,
                address: app.address,
            }),
        );
    }
    match plan.static_server {
        Some(static_server) => {
            place(
                "nginx".to_string(),
                static_server.to_string(),
                Arc::new(Nginx {
                    role: NginxRole::Static,
                    address: static_server,
                }),
            );
            place(
                "haproxy".to_string(),
                plan.front.to_string(),
                Arc::new(Haproxy {
                    address: plan.front,
                    https: plan.https,
                }),
            );
        }
        None => place(
            "nginx".to_string(),
            plan.front.to_string(),
            Arc::new(Nginx {
                role: NginxRole::Front,
                address: plan.front,
            }),
        ),
    }
    list
}

/// A started server.
pub enum Process {
    Postgres(PostgresServer),
    Child(ManagedChild),
}

impl Process {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        match self {
            Self::Postgres(server) => server.pid(),
            Self::Child(child) => child.pid(),
        }
    }

    /// How it ended, if it has.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        match self {
            Self::Postgres(server) => server.exit_status(),
            Self::Child(child) => child.exit_status(),
        }
    }

    /// When it started, in clock ticks after boot (see [`crate::process::start_time`]).
    pub fn start_time(&self) -> Option<u64> {
        match self {
            // Read while it runs: until it exits and is reaped, the pid is its own.
            Self::Postgres(server) if server.exit_status().is_none() => {
                crate::process::start_time(server.pid())
            }
            Self::Postgres(_) => None,
            Self::Child(child) => child.start_time(),
        }
    }

    /// Stops it the way its kind likes, waiting up to `grace`, without
    /// blocking the executor.
    pub async fn stop(self, grace: Duration) {
        match self {
            // `PostgresServer::stop` blocks its thread until PostgreSQL has
            // checkpointed and exited: run it on the blocking pool, away
            // from the executor.
            Self::Postgres(server) => {
                let _ = tokio::task::spawn_blocking(move || server.stop()).await;
            }
            Self::Child(child) => {
                child.stop_async(Signal::SIGTERM, grace).await;
            }
        }
    }

    /// [`Self::stop`] for where nothing can be awaited (`Drop`): blocks
    /// this thread.
    pub fn stop_blocking(&self, grace: Duration) {
        match self {
            Self::Postgres(server) => server.stop(),
            Self::Child(child) => {
                child.stop(Signal::SIGTERM, grace);
            }
        }
    }

    /// Kills it outright, as a crash would.
    pub fn kill(&self) {
        match self {
            Self::Postgres(server) => server.kill(),
            Self::Child(child) => child.signal(Signal::SIGKILL),
        }
    }
}

/// Finds a server program on `PATH` or in the system folders.
pub(in crate::stack) fn program(name: &str, package: &str) -> anyhow::Result<PathBuf> {
    let mut folders: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    folders.extend(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from));
    folders
        .into_iter()
        .map(|folder| folder.join(name))
        .find(|candidate| candidate.is_file())
        .with_context(|| {
            format!("{name} is not installed: run `sudo apt-get install {package}` (or `make phase-deps`)")
        })
}

/// The rendered-config folder.
pub(super) fn config_dir(plan: &Plan) -> PathBuf {
    plan.state_dir.join("config")
}

/// Log file for `name`.
pub fn log_file(plan: &Plan, name: &str) -> PathBuf {
    plan.state_dir.join("logs").join(format!("{name}.log"))
}

/// Starts `program` (installed from Debian's `package`) as component `name`
/// of the stack on `host` (inside that host's network namespace, if it has
/// one), with `args`, its output in the component's log; on the
/// supervisor's death it gets `on_parent_death`.
fn spawn(
    plan: &Plan,
    (name, host): (&str, std::net::IpAddr),
    (program_name, package): (&str, &str),
    args: &[&std::ffi::OsStr],
    run_as: Option<&nix::unistd::User>,
    on_parent_death: Signal,
) -> anyhow::Result<Process> {
    let mut command = std::process::Command::new(program(program_name, package)?);
    command.args(args);
    let child = ManagedChild::spawn(
        command,
        crate::process::ChildOptions {
            name,
            log_file: &log_file(plan, name),
            run_as,
            on_parent_death,
            netns: plan.namespace_of(host).as_deref(),
        },
    )?;
    Ok(Process::Child(child))
}

/// The unprivileged account a server runs as when the stack runs as root:
/// the first of `accounts` (then `nobody`) that exists and can reach every
/// folder in `needs`. `None` means "as ourselves": we are not root, or no
/// such account can reach them (a checkout in a private folder), which is
/// logged.
pub(super) fn unprivileged(accounts: &[&str], needs: &[&Path]) -> Option<nix::unistd::User> {
    if !nix::unistd::Uid::effective().is_root() {
        return None;
    }
    let found = accounts
        .iter()
        .chain(std::iter::once(&"nobody"))
        .filter_map(|name| nix::unistd::User::from_name(name).ok().flatten())
        .find(|user| {
            needs
                .iter()
                .all(|path| crate::db::embedded::reachable_by(&path.join("x"), user))
        });
    if found.is_none() {
        tracing::warn!(
            "no unprivileged account ({}) can reach {}: running as root",
            accounts.join(", "),
            needs
                .iter()
                .map(|path| path.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    found
}

/// Whether `url` answers 200 within a second.
pub async fn http_ok(url: &str) -> bool {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .redirect(reqwest::redirect::Policy::none())
        .build();
    let Ok(client) = client else {
        return false;
    };
    matches!(client.get(url).send().await, Ok(response) if response.status().is_success())
}

/// Whether the HTTP server at `address` answers `path` with 200: asked from
/// inside its own host's namespace where it has one (its peers alone may
/// reach it from outside), directly otherwise.
pub async fn serves(plan: &Plan, address: SocketAddr, path: &str) -> bool {
    match plan.namespace_of(address.ip()) {
        Some(namespace) => {
            crate::stack::network::http_status(Some(&namespace), address, path).await == Some(200)
        }
        None => http_ok(&format!("http://{address}{path}")).await,
    }
}

/// Whether `url` (HTTPS) answers 200 within a second, with a certificate
/// that chains to `authority` and names the host.
pub async fn https_ok(url: &str, authority: &Path) -> bool {
    let answer = tokio::time::timeout(
        Duration::from_secs(1),
        crate::tls::https_get(url, authority),
    )
    .await;
    matches!(answer, Ok(Ok(answer)) if (200..300).contains(&answer.status))
}

/// Whether something already listens on `address` (another stack, or `make run`).
pub fn in_use(address: SocketAddr) -> bool {
    std::net::TcpListener::bind(address).is_err()
}

/// The last lines of `log`, for error messages.
pub fn tail(log: &Path) -> String {
    crate::process::log_tail(log, 12)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(plan: &Plan) -> Vec<String> {
        layout(plan).into_iter().map(|placed| placed.name).collect()
    }

    #[test]
    fn the_start_order_follows_the_topology_however_many_app_servers_it_has() {
        let project = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let one = Plan::standard(1, project.clone(), "million".into()).unwrap();
        let four = Plan::standard(3, project.clone(), "million".into())
            .unwrap()
            .with_apps(4)
            .unwrap();

        assert_eq!(names(&one), ["postgres", "app-1", "nginx"]);
        assert_eq!(
            names(&four),
            [
                "postgres", "app-1", "app-2", "app-3", "app-4", "nginx", "haproxy"
            ]
        );
        let kinds: Vec<Kind> = layout(&four)
            .iter()
            .map(|placed| placed.server.kind())
            .collect();
        assert_eq!(kinds[5], Kind::StaticNginx);
        assert_eq!(
            haproxy::server_lines(&four),
            "server app-1 127.0.1.1:8000 check\n    server app-2 127.0.1.2:8000 check\n    \
             server app-3 127.0.1.3:8000 check\n    server app-4 127.0.1.4:8000 check"
        );
        assert!(
            Plan::standard(1, project, "million".into())
                .unwrap()
                .with_apps(2)
                .is_err()
        );
    }

    #[cfg(feature = "replicas")]
    #[test]
    fn phase_5_adds_two_replicas_after_the_primary() {
        let project = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let plan = Plan::standard(5, project, "million".into()).unwrap();
        let placed = layout(&plan);
        let first: Vec<(&str, &str, Kind)> = placed
            .iter()
            .take(4)
            .map(|placed| {
                (
                    placed.name.as_str(),
                    placed.address.as_str(),
                    placed.server.kind(),
                )
            })
            .collect();
        assert_eq!(
            first,
            [
                ("postgres", "127.0.2.1:5432", Kind::Postgres),
                ("replica-1", "127.0.2.2:5432", Kind::Replica),
                ("replica-2", "127.0.2.3:5432", Kind::Replica),
                ("redis", "127.0.3.1:6379", Kind::Redis),
            ]
        );
    }
}
