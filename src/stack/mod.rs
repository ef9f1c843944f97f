//! `million stack`: each phase of the scaling road stood up on this one
//! machine with real servers — PostgreSQL, the app servers, nginx, HAProxy —
//! each "host" on its own loopback address, from the configs in `deploy/`.
//!
//! [`Stack::up`] renders the configs, starts every component in order and
//! waits for each to be healthy; [`Stack::supervise`] restarts what crashes
//! and answers `stop`/`start` requests until asked to stop; [`Stack::down`]
//! stops everything in reverse order. State (data, rendered configs, logs,
//! pid files) lives in one folder, `.million/stack` by default.

pub mod authority;
pub mod cli;
pub mod components;
pub mod containers;
mod deploy;
mod map;
pub mod network;
pub mod pgtune;
pub mod plan;
pub mod render;
pub mod replication;
pub mod secrets;

pub mod state;
pub mod traffic;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use components::{Process, Server};
use plan::Plan;
use secrets::Secrets;
use state::{ComponentState, Request, StackState, Status};

pub use map::map;

/// One part of a running stack.
pub struct Component {
    pub name: String,
    /// Where it listens, as shown to people.
    pub address: String,
    /// What it is: how it is rendered, started and probed.
    server: Arc<dyn Server>,
    process: Option<Process>,
    /// When `process` started (clock ticks after boot), recorded so that a
    /// later command can tell it from a process that reuses its pid.
    start_time: Option<u64>,
    /// Stopped on request: not restarted until asked.
    held: bool,
    /// When a crashed component is due to be restarted.
    restart_at: Option<Instant>,
}

impl Component {
    /// What kind of server it is.
    pub fn kind(&self) -> components::Kind {
        self.server.kind()
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(Process::pid)
    }

    fn condition(&self) -> String {
        match (&self.process, self.held, self.restart_at) {
            (Some(_), _, _) => "up".to_string(),
            (None, true, _) => "stopped".to_string(),
            (None, false, Some(at)) => format!(
                "down, restarting in {}s",
                at.saturating_duration_since(Instant::now()).as_secs()
            ),
            (None, false, None) => "down".to_string(),
        }
    }
}

/// A running stack.
pub struct Stack {
    pub plan: Plan,
    secrets: Secrets,
    components: Vec<Component>,
    status: Status,
    /// When this process (the supervisor) started, in clock ticks after boot.
    start_time: Option<u64>,
    /// The app servers' image and the last deploy (phase 7).
    rollout: state::Rollout,
    /// The boot it started in.
    boot_id: Option<String>,
}

impl Stack {
    /// Starts every component of `plan`, in order, each once the one before
    /// is healthy.
    pub async fn up(plan: Plan) -> anyhow::Result<Self> {
        for folder in ["logs", "config", "control", "nginx/logs"] {
            std::fs::create_dir_all(plan.state_dir.join(folder))
                .with_context(|| format!("creating {}", plan.state_dir.join(folder).display()))?;
        }
        let _ = Request::take_all(&plan.state_dir);
        if let Some(previous) = StackState::load(&plan.state_dir)?
            && previous.supervisor_alive()
            && previous.supervisor_pid != std::process::id()
        {
            bail!(
                "a phase {} stack is already running (process {}): stop it with `make phase-down` first",
                previous.phase,
                previous.supervisor_pid
            );
        }
        check_addresses_free(&plan)?;
        let secrets = Secrets::load_or_create(&plan.state_dir)?;
        let components = layout(&plan);
        let plan_image = plan.apps.first().and_then(|app| app.image.clone());
        let mut stack = Self {
            plan,
            secrets,
            components,
            status: Status::Starting,
            start_time: crate::process::start_time(std::process::id()),
            boot_id: crate::process::boot_id(),
            rollout: state::Rollout {
                current: plan_image.clone(),
                ..state::Rollout::default()
            },
        };
        stack.save_state(None);
        stack.say(&format!(
            "Starting phase {} (state, configs and logs in {})",
            stack.plan.phase,
            stack.plan.state_dir.display()
        ));
        if let Some(reason) = &stack.plan.unsegmented {
            stack.say(&format!(
                "  Network segmentation is NOT enforced: {reason}. Every host is a loopback \
                 address that anything on this machine can reach; PostgreSQL and Redis are \
                 guarded by their passwords and TLS alone. The rest of the phase runs."
            ));
        }
        if let Some(network) = &stack.plan.network {
            stack.say(&format!(
                "  network   10.60.{}.0/24: a namespace per host on bridge {}br, nftables in each",
                network.subnet, network.prefix
            ));
            if let Err(error) = network::up(&stack.plan) {
                network::down(&stack.plan);
                stack.status = Status::Failed;
                stack.save_state(Some(format!("{error:#}")));
                return Err(error.context("segmenting the network"));
            }
        }
        for index in 0..stack.components.len() {
            if let Err(error) = stack.start_index(index).await {
                stack.status = Status::Failed;
                stack.save_state(Some(format!("{error:#}")));
                stack.stop_all().await;
                return Err(error);
            }
        }
        stack.status = Status::Ready;
        stack.save_state(None);
        Ok(stack)
    }

    fn say(&self, line: &str) {
        if self.plan.verbose {
            eprintln!("{line}");
        }
    }

    fn index_of(&self, name: &str) -> anyhow::Result<usize> {
        self.components
            .iter()
            .position(|component| component.name == name)
            .with_context(|| {
                let names: Vec<&str> = self.components.iter().map(|c| c.name.as_str()).collect();
                format!(
                    "no component named `{name}` in this stack (there are: {})",
                    names.join(", ")
                )
            })
    }

    /// Starts component `index` and waits until it is healthy.
    async fn start_index(&mut self, index: usize) -> anyhow::Result<()> {
        self.start_index_within(index, self.plan.start_timeout)
            .await
    }

    /// [`Self::start_index`], giving up after `patience`.
    async fn start_index_within(&mut self, index: usize, patience: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        let (name, address, server) = {
            let component = &self.components[index];
            (
                component.name.clone(),
                component.address.clone(),
                Arc::clone(&component.server),
            )
        };
        self.say(&format!("  {name:<9} {address:<22} starting…"));
        let log = components::log_file(&self.plan, &name);
        server.render(&self.plan, &self.secrets)?;
        let process = server.start(&self.plan, &self.secrets).await?;
        let deadline = started + patience;
        loop {
            if let Some(status) = process.exit_status() {
                bail!(
                    "{name} exited while starting ({status}); its log {} ends with:\n{}",
                    log.display(),
                    components::tail(&log)
                );
            }
            if server.probe(&self.plan).await {
                break;
            }
            if Instant::now() > deadline {
                process.stop(Duration::from_secs(5)).await;
                bail!(
                    "{name} at {address} was not healthy within {}s; see its log {}",
                    patience.as_secs(),
                    log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let component = &mut self.components[index];
        component.start_time = process.start_time();
        component.process = Some(process);
        component.held = false;
        component.restart_at = None;
        self.say(&format!(
            "  {name:<9} {address:<22} healthy in {:.1}s",
            started.elapsed().as_secs_f64()
        ));
        self.save_state(None);
        Ok(())
    }

    /// Starts the component `name` (after a stop or a crash).
    pub async fn start(&mut self, name: &str) -> anyhow::Result<()> {
        let index = self.index_of(name)?;
        if self.components[index].process.is_some() {
            return Ok(());
        }
        self.start_index(index).await
    }

    /// Stops the component `name` gracefully and keeps it down.
    pub async fn stop(&mut self, name: &str) -> anyhow::Result<()> {
        let index = self.index_of(name)?;
        let component = &mut self.components[index];
        if let Some(process) = component.process.take() {
            process.stop(Duration::from_secs(10)).await;
        }
        component.held = true;
        component.restart_at = None;
        self.say(&format!(
            "  {name:<9} stopped; `make start-app`/`million stack start {name}` brings it back"
        ));
        self.save_state(None);
        Ok(())
    }

    /// Kills the component `name` outright, as a crash would.
    pub fn kill(&mut self, name: &str) -> anyhow::Result<()> {
        let index = self.index_of(name)?;
        if let Some(process) = &self.components[index].process {
            process.kill();
        }
        Ok(())
    }

    /// The components, in start order.
    pub fn components(&self) -> &[Component] {
        &self.components
    }

    /// Notices crashed components and restarts those whose delay is over.
    pub async fn tend(&mut self) {
        let mut changed = false;
        for component in &mut self.components {
            let exit = component.process.as_ref().and_then(Process::exit_status);
            if let Some(status) = exit {
                component.process = None;
                component.restart_at = Some(Instant::now() + self.plan.restart_delay);
                changed = true;
                if self.plan.verbose {
                    eprintln!(
                        "  {:<9} exited ({status}); restarting in {}s",
                        component.name,
                        self.plan.restart_delay.as_secs()
                    );
                }
            }
        }
        for request in Request::take_all(&self.plan.state_dir) {
            let outcome = match &request {
                Request::Stop(name) => self.stop(name).await,
                Request::Start(name) => self.start(name).await,
                Request::Deploy(image) => self.deploy(image).await,
            };
            if let Err(error) = outcome {
                self.say(&format!("  request {request:?} failed: {error:#}"));
            }
            changed = true;
        }
        let due: Vec<usize> = self
            .components
            .iter()
            .enumerate()
            .filter(|(_, component)| {
                component.process.is_none()
                    && !component.held
                    && component.restart_at.is_some_and(|at| Instant::now() >= at)
            })
            .map(|(index, _)| index)
            .collect();
        for index in due {
            if let Err(error) = self.start_index(index).await {
                self.say(&format!(
                    "  restart failed: {error:#}; trying again in {}s",
                    self.plan.restart_delay.as_secs()
                ));
                self.components[index].restart_at = Some(Instant::now() + self.plan.restart_delay);
            }
            changed = true;
        }
        if changed {
            self.save_state(None);
        }
    }

    /// Keeps the stack running — restarting what crashes, answering
    /// requests — until `shutdown` completes, then stops it.
    pub async fn supervise(mut self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            // Tending races the shutdown, so that Ctrl-C during a long
            // piece of it (a rolling deploy) is answered at once: whatever
            // it was doing is stopped with the rest by `down`.
            let tend = async {
                tokio::time::sleep(Duration::from_millis(250)).await;
                self.tend().await;
            };
            tokio::select! {
                () = &mut shutdown => break,
                () = tend => {}
            }
        }
        self.down().await;
    }

    /// Stops every component, front door first, database last.
    pub async fn down(mut self) {
        self.status = Status::Stopping;
        self.save_state(None);
        self.say("Stopping…");
        self.stop_all().await;
        network::down(&self.plan);
        self.status = Status::Stopped;
        self.save_state(None);
        self.say("Stopped. Data stays in the state folder; `make phase-clean` removes it.");
    }

    async fn stop_all(&mut self) {
        for component in self.components.iter_mut().rev() {
            if let Some(process) = component.process.take() {
                process.stop(Duration::from_secs(15)).await;
            }
        }
        self.remove_containers();
    }

    /// Removes what is left of the app servers' containers and of a
    /// migration's (phase 7).
    fn remove_containers(&self) {
        if self.plan.containerized() {
            let mut names: Vec<String> =
                self.plan.apps.iter().map(|app| app.name.clone()).collect();
            names.push(deploy::MIGRATE.to_string());
            containers::remove(&self.plan.state_dir, &names);
        }
    }

    /// The state as `status` and the other commands read it.
    pub fn state(&self, error: Option<String>) -> StackState {
        StackState {
            phase: self.plan.phase,
            status: self.status,
            supervisor_pid: std::process::id(),
            supervisor_start_time: self.start_time,
            boot_id: self.boot_id.clone(),
            error,
            front_url: match self.plan.https {
                Some(https) if https.port() == 443 => format!("https://{}", https.ip()),
                Some(https) => format!("https://{https}"),
                None => format!("http://{}", self.plan.front),
            },
            authority: self
                .plan
                .tls()
                .then(|| self.plan.authority_dir().join("ca.pem")),
            firewall: if self.plan.network.is_some() {
                network::table(&self.plan)
            } else {
                Vec::new()
            },
            unsegmented: self.plan.unsegmented.clone(),
            stats_url: self
                .plan
                .admin
                .filter(|_| self.plan.load_balanced())
                .map(|admin| format!("http://{admin}/")),
            app_database: components::app_conninfo(&self.plan, &self.secrets)
                .map(|conninfo| conninfo.replace(&self.secrets.database_password, "********"))
                .unwrap_or_default(),
            components: self
                .components
                .iter()
                .map(|component| ComponentState {
                    name: component.name.clone(),
                    kind: component.kind().label().to_string(),
                    address: component.address.clone(),
                    pid: component.pid(),
                    start_time: component.process.as_ref().and(component.start_time),
                    log: components::log_file(&self.plan, &component.name),
                    health_url: component.server.health_url(),
                    condition: component.condition(),
                    netns: component
                        .address
                        .parse::<std::net::SocketAddr>()
                        .ok()
                        .and_then(|address| self.plan.namespace_of(address.ip())),
                    image: self
                        .plan
                        .apps
                        .iter()
                        .find(|app| app.name == component.name)
                        .and_then(|app| app.image.clone()),
                })
                .collect(),
            rollout: self.rollout.clone(),
        }
    }

    fn save_state(&self, error: Option<String>) {
        if let Err(failure) = self.state(error).save(&self.plan.state_dir) {
            self.say(&format!("could not write the state file: {failure:#}"));
        }
    }
}

impl Drop for Stack {
    /// Stops what still runs when a stack is dropped without [`Stack::down`]
    /// (an error or a panic): nothing can be awaited here, so this blocks.
    fn drop(&mut self) {
        for component in self.components.iter_mut().rev() {
            if let Some(process) = component.process.take() {
                process.stop_blocking(Duration::from_secs(15));
            }
        }
        self.remove_containers();
        network::down(&self.plan);
    }
}

/// A number that tells the stack kept in `state_dir` from any other on
/// this machine, the same on every run and build (FNV-1a of the path):
/// what its network namespaces and containers are named by.
pub fn fingerprint(state_dir: &std::path::Path) -> u64 {
    state_dir
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
        })
}

/// The components of `plan`, in start order.
fn layout(plan: &Plan) -> Vec<Component> {
    components::layout(plan)
        .into_iter()
        .map(|placed| Component {
            name: placed.name,
            address: placed.address,
            server: placed.server,
            process: None,
            start_time: None,
            held: false,
            restart_at: None,
        })
        .collect()
}

/// Refuses to start when an address the plan needs is taken.
fn check_addresses_free(plan: &Plan) -> anyhow::Result<()> {
    let mut addresses = vec![("the front door", plan.front)];
    addresses.extend(plan.https.map(|address| ("the HTTPS front door", address)));
    addresses.extend(plan.admin.map(|address| ("HAProxy's stats page", address)));
    addresses.extend(
        plan.static_server
            .map(|address| ("the static server", address)),
    );
    for app in &plan.apps {
        addresses.push((app.name.as_str(), app.address));
    }
    if let plan::DatabasePlacement::OwnHost(address) = &plan.database {
        addresses.push(("PostgreSQL", *address));
    }
    for address in &plan.replicas {
        addresses.push(("a PostgreSQL replica", *address));
    }
    if let Some(address) = plan.cache {
        addresses.push(("Redis", address));
    }
    for (what, address) in addresses {
        // A host with a namespace of its own has every port to itself.
        if plan.namespace_of(address.ip()).is_some() {
            continue;
        }
        if components::in_use(address) {
            bail!(
                "{address} (for {what}) is already in use: is another stack or `make run` running? \
                 (`make phase-status`, `make phase-down`)"
            );
        }
    }
    Ok(())
}
