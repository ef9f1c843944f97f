//! An app server: `million serve`, configured through its environment as a
//! real deployment would be (`APP__…`, `DB_*`), run from the plan's binary or,
//! in phase 7, from a container image ([`crate::stack::containers`]).

use std::net::SocketAddr;
use std::process::Command;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use nix::sys::signal::Signal;

use super::postgres::database_env;
use super::{Kind, Process, Server, log_file, serves};
use crate::process::{ChildOptions, ManagedChild};
use crate::stack::plan::{DatabasePlacement, Plan};
use crate::stack::secrets::Secrets;

/// App server `index` (from 0) of the plan, listening on `address`.
pub struct App {
    pub index: usize,
    pub address: SocketAddr,
}

impl Server for App {
    fn kind(&self) -> Kind {
        Kind::App
    }

    /// Its configuration is its environment; with TLS, it needs the
    /// authority's certificate to verify PostgreSQL with; as a container,
    /// its image.
    fn render(&self, plan: &Plan, _secrets: &Secrets) -> anyhow::Result<()> {
        if let Some(image) = &plan.apps[self.index].image {
            crate::stack::containers::require_image(image)?;
        }
        if plan.tls() {
            super::tls::trust(plan, &super::tls::app_trust_dir(plan))?;
        }
        Ok(())
    }

    fn start<'a>(
        &'a self,
        plan: &'a Plan,
        secrets: &'a Secrets,
    ) -> BoxFuture<'a, anyhow::Result<Process>> {
        async move { Ok(Process::Child(start_app(plan, secrets, self.index)?)) }.boxed()
    }

    fn probe<'a>(&'a self, plan: &'a Plan) -> BoxFuture<'a, bool> {
        async move { serves(plan, self.address, "/healthz").await }.boxed()
    }

    fn health_url(&self) -> Option<String> {
        Some(format!("http://{}/healthz", self.address))
    }
}

/// Starts app server `index` of the plan: its image as a container
/// (phase 7), or the plan's binary.
fn start_app(plan: &Plan, secrets: &Secrets, index: usize) -> anyhow::Result<ManagedChild> {
    let app = &plan.apps[index];
    if let Some(image) = &app.image {
        crate::stack::containers::remove(&plan.state_dir, std::slice::from_ref(&app.name));
        let command = app_container(plan, secrets, (index, &app.name), image, &["serve"])?;
        return ManagedChild::spawn(
            command,
            ChildOptions {
                name: &app.name,
                log_file: &log_file(plan, &app.name),
                // Podman itself runs as root; the server inside as the
                // image's unprivileged user.
                run_as: None,
                on_parent_death: Signal::SIGTERM,
                netns: None,
            },
        );
    }
    let mut command = Command::new(&plan.app_binary);
    command.arg("serve").current_dir(&plan.project_dir);
    for inherited in crate::settings::database::DATABASE_VARIABLES
        .into_iter()
        .chain(["RUST_LOG"])
    {
        command.env_remove(inherited);
    }
    command.envs(app_env(plan, secrets, index)?);
    // As root, an account of no privilege that can read the binary, the
    // configuration and the static files.
    let binary_dir = plan
        .app_binary
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let mut needs = vec![
        binary_dir,
        plan.project_dir.join("config"),
        plan.project_dir.join("static"),
    ];
    if plan.tls() {
        needs.push(super::tls::app_trust_dir(plan));
    }
    if plan.database == DatabasePlacement::SameHost {
        // Phase 1 reaches PostgreSQL over its unix socket, in a folder only
        // PostgreSQL's account may enter (its local admin is trusted there):
        // the app then runs as the account that started the stack.
        needs.push(super::postgres_dir(plan)?.join("run"));
    }
    let needs: Vec<&std::path::Path> = needs.iter().map(std::path::PathBuf::as_path).collect();
    let account = super::unprivileged(&[], &needs);
    ManagedChild::spawn(
        command,
        ChildOptions {
            name: &app.name,
            log_file: &log_file(plan, &app.name),
            run_as: account.as_ref(),
            on_parent_death: Signal::SIGTERM,
            netns: plan.namespace_of(app.address.ip()).as_deref(),
        },
    )
}

/// `podman run` of `image` with `args` as app server `index` would run it
/// (its environment, on its host's network, the authority's certificate
/// mounted), in a container named `name` in the stack: the server itself,
/// or a one-off command of its release (`migrate`).
pub fn app_container(
    plan: &Plan,
    secrets: &Secrets,
    (index, name): (usize, &str),
    image: &str,
    args: &[&str],
) -> anyhow::Result<Command> {
    let mut env = app_env(plan, secrets, index)?;
    // The image has its own configuration and static files.
    env.retain(|(variable, _)| {
        !matches!(*variable, "APP_CONFIG_DIR" | "APP__APPLICATION__STATIC_DIR")
    });
    env.push(("MILLION_IMAGE", image.to_string()));
    let mounts = if plan.tls() {
        vec![super::tls::app_trust_dir(plan)]
    } else {
        Vec::new()
    };
    crate::stack::containers::run_command(
        plan,
        &crate::stack::containers::container_name(&plan.state_dir, name),
        image,
        plan.apps[index].address.ip(),
        &env,
        &mounts,
        args,
    )
}

/// The environment of app server `index`: its whole configuration, as a
/// real deployment gives it (`APP__…`, `DB_*`).
fn app_env(
    plan: &Plan,
    secrets: &Secrets,
    index: usize,
) -> anyhow::Result<Vec<(&'static str, String)>> {
    let app = &plan.apps[index];
    let servers: Vec<String> = plan
        .apps
        .iter()
        .map(|app| format!("{}={}", app.name, app.address))
        .collect();
    let front = if plan.load_balanced() {
        format!("haproxy {}", plan.front)
    } else {
        format!("nginx {}", plan.front)
    };
    let static_server = plan
        .static_server
        .map(|address| format!("nginx {address}"))
        .unwrap_or_default();
    let sessions = match plan.sessions {
        crate::settings::SessionStoreKind::Memory => "memory",
        crate::settings::SessionStoreKind::Cookie => "cookie",
    };
    let mut env: Vec<(&'static str, String)> = vec![
        ("APP_ENVIRONMENT", "local".into()),
        (
            "APP_CONFIG_DIR",
            plan.project_dir.join("config").display().to_string(),
        ),
        ("APP__APPLICATION__HOST", app.address.ip().to_string()),
        ("APP__APPLICATION__PORT", app.address.port().to_string()),
        ("APP__APPLICATION__INSTANCE_NAME", app.name.clone()),
        ("APP__APPLICATION__WORKERS", "0".into()),
        // The front door's forwarding headers are believed: it connects
        // from its own host's address, or from 127.0.0.1 on loopback.
        (
            "APP__APPLICATION__TRUSTED_PROXIES",
            if plan.network.is_some() {
                plan.front.ip().to_string()
            } else {
                "127.0.0.1".into()
            },
        ),
        (
            "APP__APPLICATION__STATIC_DIR",
            plan.project_dir.join("static").display().to_string(),
        ),
        ("APP__DATABASE__MIGRATE_ON_START", "false".into()),
        ("APP__AUTH__JWT_SECRET", secrets.jwt_secret.clone()),
        ("APP__SESSION__SECRET", secrets.session_secret.clone()),
        ("APP__SESSION__STORE", sessions.into()),
        ("APP__ARCHITECTURE__PHASE", plan.phase.to_string()),
        ("APP__ARCHITECTURE__FRONT", front),
        ("APP__ARCHITECTURE__APP_SERVERS", servers.join(",")),
        ("APP__ARCHITECTURE__STATIC_SERVER", static_server),
        (
            "APP__CACHE__REDIS_URL",
            plan.cache
                .map(|address| super::redis::redis_url(plan, secrets, address))
                .unwrap_or_default(),
        ),
    ];
    if !plan.replicas.is_empty() {
        let hosts: Vec<String> = plan.replicas.iter().map(ToString::to_string).collect();
        env.push(("APP__REPLICAS__HOSTS", hosts.join(",")));
    }
    env.extend(database_env(plan, secrets)?);
    Ok(env)
}
