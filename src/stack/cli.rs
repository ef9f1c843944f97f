//! `million stack …`: the commands behind `make phaseN`, `make phase-status`,
//! `make phase-down`, `make kill-app` and friends.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use super::components::http_ok;
use super::pgtune::{Machine, parse_size};
use super::plan::Plan;
use super::secrets::Secrets;
use super::state::{Ownership, Request, StackState, Status};
use super::{Stack, map};
use crate::settings::SessionStoreKind;

/// Set in the environment of a stack supervisor started with `--detach`.
const SUPERVISOR_ENV: &str = "MILLION_STACK_SUPERVISOR";

/// Where the app servers keep sessions.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Sessions {
    Memory,
    Cookie,
}

/// The stack commands.
#[derive(Debug, Subcommand)]
pub enum StackCommand {
    /// Stand up phase N (1 to 7) on this machine; Ctrl-C stops it.
    Up {
        /// The phase.
        phase: u8,
        /// Start in the background and return once everything is healthy.
        #[arg(long)]
        detach: bool,
        /// The binary the app servers run (default: this one).
        #[arg(long)]
        app_binary: Option<PathBuf>,
        /// Where app servers keep sessions (default: cookie in phase 3+ when built in).
        #[arg(long, value_enum)]
        sessions: Option<Sessions>,
        /// Memory to size PostgreSQL for, e.g. 2GB (default: this machine's).
        #[arg(long)]
        pg_memory: Option<String>,
        /// App servers behind HAProxy (phase 3+; default 3).
        #[arg(long)]
        apps: Option<u8>,
        /// The container image the app servers run (phase 7), e.g.
        /// million-app:3f2a9c1e7b0d (`make images` builds it).
        #[arg(long)]
        image: Option<String>,
    },
    /// Roll the app servers onto another image, one at a time, without
    /// dropping a request (phase 7): migrations first, then drain, stop,
    /// start, healthy, back in rotation, next.
    Deploy {
        /// The image, e.g. million-app:3f2a9c1e7b0d.
        image: String,
        /// Send reads and writes through the front door during the roll
        /// and report failed requests and the releases that answered.
        #[arg(long)]
        load: bool,
    },
    /// Roll the app servers back to the image they ran before the last
    /// deploy, the same way.
    Rollback {
        /// As for `deploy`.
        #[arg(long)]
        load: bool,
    },
    /// Show what runs where and whether it is healthy.
    Status,
    /// Stop a stack started with --detach.
    Down,
    /// Crash a component (SIGKILL); the supervisor restarts it after 10 s.
    Kill { name: String },
    /// Stop a component and keep it down.
    Stop { name: String },
    /// Start a stopped component.
    Start { name: String },
    /// Pause WAL replay on a replica (phase 5+): it answers with old data.
    PauseReplica { name: String },
    /// Resume WAL replay on a replica.
    ResumeReplica { name: String },
    /// Delete the stack's data, configs and logs.
    Clean,
    /// Load generated data into the running stack's database.
    Seed {
        #[arg(long, default_value_t = 100_000)]
        users: u64,
        #[arg(long, default_value_t = 200_000)]
        articles: u64,
    },
}

fn project_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::current_dir()?;
    if !dir.join("deploy").is_dir() {
        bail!("run `million stack` from the project folder (the one holding deploy/ and config/)");
    }
    Ok(dir)
}

fn state_dir(project: &Path) -> PathBuf {
    project.join(".million").join("stack")
}

fn running_state(state_dir: &Path) -> anyhow::Result<StackState> {
    let state = StackState::load(state_dir)?;
    match state.as_ref().map(StackState::supervisor) {
        Some(Ownership::Ours) => state.context("the state was just read"),
        Some(Ownership::NotOurs(reason)) => bail!(
            "cannot tell whether the stack recorded in {} still runs: {reason}. Nothing was \
             signalled. If its servers still run, stop them by hand (`ps -ef | grep million`); \
             `make phase1` (to phase7) then starts afresh",
            StackState::path(state_dir).display()
        ),
        Some(Ownership::Gone) | None => {
            bail!("no stack is running here: start one with `make phase1` (to phase7)")
        }
    }
}

/// Runs a stack command.
pub async fn run(command: StackCommand) -> anyhow::Result<()> {
    let project = project_dir()?;
    match command {
        StackCommand::Up {
            phase,
            detach,
            app_binary,
            sessions,
            pg_memory,
            apps,
            image,
        } => {
            let app_binary = match app_binary {
                Some(path) => std::path::absolute(path)?,
                None => std::env::current_exe()?,
            };
            let mut plan = Plan::standard(phase, project.clone(), app_binary)?;
            if let Some(apps) = apps {
                plan = plan.with_apps(apps)?;
            }
            match (phase, image) {
                (7, Some(image)) => plan = plan.with_image(&image),
                (7, None) => bail!(
                    "phase 7 runs the app servers from an image: pass --image million-app:<tag> \
                     (`make phase7` builds it and passes it)"
                ),
                (_, Some(_)) => bail!("--image is for phase 7, whose app servers are containers"),
                (_, None) => {}
            }
            if let Some(sessions) = sessions {
                plan.sessions = match sessions {
                    Sessions::Memory => SessionStoreKind::Memory,
                    Sessions::Cookie => SessionStoreKind::Cookie,
                };
            }
            if let Some(memory) = pg_memory {
                plan.machine = Machine {
                    memory_bytes: parse_size(&memory).with_context(|| {
                        format!("--pg-memory {memory}: use a size such as 2GB or 512MB")
                    })?,
                    ..plan.machine
                };
            }
            if detach && std::env::var_os(SUPERVISOR_ENV).is_none() {
                return start_detached(&plan).await;
            }
            up_foreground(plan).await
        }
        StackCommand::Status => status(&project).await,
        StackCommand::Deploy { image, load } => deploy(&project, &image, load).await,
        StackCommand::Rollback { load } => {
            let state = running_state(&state_dir(&project))?;
            let Some(previous) = state.rollout.previous else {
                bail!(
                    "there is nothing to roll back to: the app servers run the image they \
                     started with ({})",
                    state.rollout.current.as_deref().unwrap_or("none")
                );
            };
            deploy(&project, &previous, load).await
        }
        StackCommand::Down => down(&project).await,
        StackCommand::Kill { name } => crash(&state_dir(&project), &name),
        StackCommand::Stop { name } => {
            request(&project, Request::Stop(name.clone()), &name, "stopped").await
        }
        StackCommand::Start { name } => {
            request(&project, Request::Start(name.clone()), &name, "up").await
        }
        StackCommand::PauseReplica { name } => {
            let state = running_state(&state_dir(&project))?;
            super::replication::set_replay(&state_dir(&project), &state, &name, true).await
        }
        StackCommand::ResumeReplica { name } => {
            let state = running_state(&state_dir(&project))?;
            super::replication::set_replay(&state_dir(&project), &state, &name, false).await
        }
        StackCommand::Clean => clean(&project),
        StackCommand::Seed { users, articles } => {
            let state = running_state(&state_dir(&project))?;
            let secrets = Secrets::load_or_create(&state_dir(&project))?;
            let conninfo = state
                .app_database
                .replace("********", &secrets.database_password);
            crate::seed::run(&conninfo, &crate::seed::Plan::new(users, articles), false).await
        }
    }
}

async fn up_foreground(plan: Plan) -> anyhow::Result<()> {
    let stack = Stack::up(plan).await?;
    let state = stack.state(None);
    eprintln!("{}", map(&state));
    let replicas: Vec<_> = state
        .components
        .iter()
        .filter(|component| component.kind == "replica")
        .collect();
    if !replicas.is_empty() {
        eprintln!("Replication (`make phase-status` shows it again):");
        for replica in replicas {
            let replay = super::replication::describe(&stack.plan.state_dir, &state, replica).await;
            eprintln!("  {:<9} {replay}", replica.name);
        }
        eprintln!();
    }
    stack.supervise(shutdown_signal()).await;
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match terminate.as_mut() {
                Some(signal) => { signal.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}

/// Starts the supervisor in the background and follows its progress until
/// the stack is healthy (or failed).
async fn start_detached(plan: &Plan) -> anyhow::Result<()> {
    std::fs::create_dir_all(plan.state_dir.join("logs"))?;
    let log_path = plan.state_dir.join("logs").join("stack.log");
    let log = crate::process::open_log(&log_path)?;
    log.set_len(0)
        .with_context(|| format!("emptying {}", log_path.display()))?;
    let mut command = Command::new(std::env::current_exe()?);
    command
        .args(std::env::args_os().skip(1).filter(|arg| arg != "--detach"))
        .env(SUPERVISOR_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log));
    // SAFETY: setsid is async-signal-safe; it detaches from the terminal.
    unsafe {
        command.pre_exec(|| {
            nix::unistd::setsid()
                .map(drop)
                .map_err(std::io::Error::from)
        });
    }
    let child = command.spawn().context("starting the stack supervisor")?;
    follow_supervisor(child, &log_path, &plan.state_dir, Duration::from_secs(600)).await
}

/// Shows the log of the supervisor `child` as it grows, until the state it
/// writes in `state_dir` says the stack is ready (or failed), it exits, or
/// `patience` runs out.
async fn follow_supervisor(
    mut child: Child,
    log_path: &Path,
    state_dir: &Path,
    patience: Duration,
) -> anyhow::Result<()> {
    let pid = child.id();
    let mut reader =
        std::fs::File::open(log_path).with_context(|| format!("reading {}", log_path.display()))?;
    let mut shown = 0u64;
    let mut show_news = || -> anyhow::Result<()> {
        reader.seek(SeekFrom::Start(shown))?;
        let mut fresh = String::new();
        shown += reader.read_to_string(&mut fresh)? as u64;
        eprint!("{fresh}");
        Ok(())
    };
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        show_news()?;
        match StackState::load(state_dir)? {
            Some(state) if state.supervisor_pid == pid && state.status == Status::Ready => {
                eprintln!(
                    "The stack runs in the background (supervisor {pid}); `make phase-down` stops it."
                );
                return Ok(());
            }
            Some(state) if state.supervisor_pid == pid && state.status == Status::Failed => {
                bail!(
                    "the stack did not start: {}",
                    state.error.unwrap_or_else(|| "see the log above".into())
                );
            }
            _ => {}
        }
        // Reaps it too: an exited child stays a zombie, "alive" to kill(pid, 0).
        if let Some(status) = child
            .try_wait()
            .context("checking on the stack supervisor")?
        {
            show_news()?;
            bail!(
                "the stack supervisor exited ({status}) before the stack was up; \
                 its log {} (shown above) says why",
                log_path.display()
            );
        }
        if started.elapsed() > patience {
            bail!(
                "the stack took over {} s to start; see {} (the supervisor, process {pid}, \
                 still runs: `make phase-down` stops it)",
                patience.as_secs(),
                log_path.display()
            );
        }
    }
}

async fn status(project: &Path) -> anyhow::Result<()> {
    let Some(state) = StackState::load(&state_dir(project))? else {
        println!("No stack has run here yet. Start one with `make phase1` (to phase7).");
        return Ok(());
    };
    match state.supervisor() {
        Ownership::Ours => {}
        Ownership::Gone => {
            println!(
                "The phase {} stack is not running (last status: {:?}). `make phase{}` starts it again.",
                state.phase, state.status, state.phase
            );
            return Ok(());
        }
        Ownership::NotOurs(reason) => {
            println!(
                "The phase {} stack recorded supervisor {}, but {reason}; taking it as not running. \
                 `make phase{}` starts it again.",
                state.phase, state.supervisor_pid, state.phase
            );
            return Ok(());
        }
    }
    println!(
        "Phase {} ({}), supervisor {}:\n",
        state.phase,
        super::map::summary(state.phase),
        state.supervisor_pid
    );
    println!(
        "  {:<9} {:<22} {:>8}  {:<28} HEALTH",
        "NAME", "ADDRESS", "PID", "STATE"
    );
    for component in &state.components {
        let alive = state.component(component) == Some(Ownership::Ours);
        let health = match (&component.health_url, alive) {
            (_, false) => "-".to_string(),
            (Some(url), true) => {
                let inside = url
                    .strip_prefix("http://")
                    .and_then(|rest| rest.split_once('/'))
                    .and_then(|(address, path)| Some((address.parse().ok()?, format!("/{path}"))));
                let healthy = match (&state.authority, &component.netns, inside) {
                    (Some(authority), _, _) if url.starts_with("https://") => {
                        super::components::https_ok(url, authority).await
                    }
                    (_, Some(netns), Some((address, path))) => {
                        super::network::http_status(Some(netns), address, &path).await == Some(200)
                    }
                    _ => http_ok(url).await,
                };
                if healthy {
                    "ok".to_string()
                } else {
                    format!("failing ({url})")
                }
            }
            (None, true) if component.kind == "replica" => {
                super::replication::describe(&state_dir(project), &state, component).await
            }
            (None, true) => "ok".to_string(),
        };
        let image = component
            .image
            .as_deref()
            .map(|image| format!("  [{image}]"))
            .unwrap_or_default();
        println!(
            "  {:<9} {:<22} {:>8}  {:<28} {}{image}",
            component.name,
            component.address,
            component
                .pid
                .map(|pid| pid.to_string())
                .unwrap_or_else(|| "-".into()),
            component.condition,
            health
        );
    }
    let rollout = &state.rollout;
    if let Some(image) = &rollout.rolling_to {
        println!("\n  Deploying {image}:");
        for step in &rollout.steps {
            println!("    {step}");
        }
    } else if let Some(outcome) = &rollout.outcome {
        println!(
            "\n  Last deploy: {}",
            match outcome {
                super::state::Outcome::Deployed =>
                    "every app server rolled onto the new image".into(),
                super::state::Outcome::RolledBack(why) => format!("rolled back: {why}"),
                super::state::Outcome::Refused(why) => format!("not deployed: {why}"),
            }
        );
    }
    println!(
        "\n  Open {}/   Logs {}",
        state.front_url,
        state_dir(project).join("logs").display()
    );
    if let Some(stats) = &state.stats_url {
        println!(
            "  Stats {stats} (user admin, password in {}/secrets.json)",
            state_dir(project).display()
        );
    }
    Ok(())
}

async fn down(project: &Path) -> anyhow::Result<()> {
    let Some(state) = StackState::load(&state_dir(project))? else {
        println!("No stack is running here.");
        return Ok(());
    };
    match state.supervisor() {
        Ownership::Ours => {}
        Ownership::Gone => {
            println!("No stack is running here.");
            return Ok(());
        }
        Ownership::NotOurs(reason) => bail!(
            "not stopping process {}: {reason}. If the stack still runs, stop it with Ctrl-C \
             where it was started, or find its supervisor with `ps -ef | grep 'million stack'`",
            state.supervisor_pid
        ),
    }
    eprintln!(
        "Stopping the phase {} stack (supervisor {})…",
        state.phase, state.supervisor_pid
    );
    kill(Pid::from_raw(state.supervisor_pid as i32), Signal::SIGTERM)?;
    let started = Instant::now();
    while state.supervisor() == Ownership::Ours {
        if started.elapsed() > Duration::from_secs(90) {
            bail!(
                "the stack did not stop within 90 s; its log is {}",
                state_dir(project).join("logs/stack.log").display()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("Stopped.");
    Ok(())
}

/// Kills component `name` of the stack kept in `state_dir` (SIGKILL to its
/// process group), once sure its recorded pid is still the process the stack
/// started.
fn crash(state_dir: &Path, name: &str) -> anyhow::Result<()> {
    let state = running_state(state_dir)?;
    let component = state
        .components
        .iter()
        .find(|component| component.name == name)
        .with_context(|| {
            let names: Vec<&str> = state.components.iter().map(|c| c.name.as_str()).collect();
            format!(
                "no component named `{name}` (there are: {})",
                names.join(", ")
            )
        })?;
    let pid = component
        .pid
        .with_context(|| format!("{name} is not running right now"))?;
    match state.component(component) {
        Some(Ownership::Ours) => {}
        Some(Ownership::Gone) | None => bail!(
            "{name} is not running right now (process {pid} has exited); \
             `make phase-status` shows when it is back"
        ),
        Some(Ownership::NotOurs(reason)) => {
            bail!("not killing {name}: {reason}. `make phase-status` shows what runs")
        }
    }
    if component.image.is_some() {
        // The server runs in its container, not under `podman run`: killed
        // there, `podman run` ends with it and the supervisor sees a crash.
        let container = super::containers::container_name(state_dir, name);
        let killed = Command::new(super::containers::engine()?)
            .args(["kill", "--signal", "KILL", &container])
            .stdout(Stdio::null())
            .status()
            .with_context(|| format!("killing {name}'s container"))?;
        if !killed.success() {
            bail!("podman could not kill {container} ({killed})");
        }
    } else {
        killpg(Pid::from_raw(pid as i32), Signal::SIGKILL)
            .with_context(|| format!("killing {name}"))?;
    }
    println!(
        "Killed {name} (process {pid}) the hard way, as a crash would. The supervisor restarts it in about 10 s."
    );
    if let Some(stats) = &state.stats_url {
        println!("Watch {stats} meanwhile.");
    }
    Ok(())
}

async fn request(project: &Path, request: Request, name: &str, wanted: &str) -> anyhow::Result<()> {
    let state = running_state(&state_dir(project))?;
    if !state
        .components
        .iter()
        .any(|component| component.name == name)
    {
        bail!("no component named `{name}` in the running stack");
    }
    request.send(&state_dir(project))?;
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = StackState::load(&state_dir(project))?;
        if let Some(component) = now.as_ref().and_then(|state| {
            state
                .components
                .iter()
                .find(|component| component.name == name)
        }) && component.condition == wanted
        {
            println!("{name} is {wanted}.");
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(90) {
            bail!("{name} did not become {wanted} within 90 s; see `make phase-status`");
        }
    }
}

/// Asks the supervisor to roll the app servers onto `image`, shows the
/// roll's steps as they happen, and with `load`, traffic's report.
async fn deploy(project: &Path, image: &str, load: bool) -> anyhow::Result<()> {
    let dir = state_dir(project);
    let state = running_state(&dir)?;
    let Some(current) = &state.rollout.current else {
        bail!(
            "the running stack's app servers are not containers: deploys are phase 7's (make phase7)"
        );
    };
    if state.rollout.rolling_to.is_some() {
        bail!("a deploy is already under way: `make phase-status` shows it");
    }
    println!("Deploying {image} over {current}.");
    let traffic = if load {
        let traffic = super::traffic::Traffic::start(&state.front_url, state.authority.clone())
            .await
            .context("starting traffic through the front door")?;
        println!("Traffic runs through {} meanwhile.", state.front_url);
        // A moment of the old release alone, to compare with.
        tokio::time::sleep(Duration::from_secs(2)).await;
        Some(traffic)
    } else {
        None
    };
    let asked = state.rollout.deploys;
    Request::Deploy(image.to_string()).send(&dir)?;
    let mut shown = 0;
    let started = Instant::now();
    let outcome = loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let Some(now) = StackState::load(&dir)? else {
            bail!("the stack's state file is gone");
        };
        if !now.supervisor_alive() {
            bail!(
                "the stack's supervisor has stopped; see {}",
                dir.join("logs").display()
            );
        }
        if now.rollout.deploys <= asked {
            if started.elapsed() > Duration::from_secs(60) {
                // Not left queued, to run later when nobody is looking.
                Request::withdraw_deploys(&dir);
                bail!("the supervisor did not take up the deploy within 60 s; it was withdrawn");
            }
            continue;
        }
        for step in now.rollout.steps.iter().skip(shown) {
            println!("  {step}");
        }
        shown = now.rollout.steps.len();
        if let Some(outcome) = now.rollout.outcome {
            break outcome;
        }
        if started.elapsed() > Duration::from_secs(1800) {
            bail!("the deploy ran over 30 minutes; `make phase-status` shows where it is");
        }
    };
    if let Some(traffic) = traffic {
        // A moment of the new release alone.
        tokio::time::sleep(Duration::from_secs(2)).await;
        print!("{}", traffic.stop().await.report());
    }
    match outcome {
        super::state::Outcome::Deployed => Ok(()),
        super::state::Outcome::RolledBack(why) => {
            bail!("the deploy was rolled back: {why}")
        }
        super::state::Outcome::Refused(why) => bail!("nothing was deployed: {why}"),
    }
}

fn clean(project: &Path) -> anyhow::Result<()> {
    let dir = state_dir(project);
    if let Some(state) = StackState::load(&dir)? {
        match state.supervisor() {
            Ownership::Ours => bail!(
                "the phase {} stack is running: `make phase-down` first",
                state.phase
            ),
            Ownership::NotOurs(reason) => {
                eprintln!("Note: {reason}; taking the stack as not running.");
            }
            Ownership::Gone => {}
        }
    }
    // The primary's data and each replica's, wherever they live (as root,
    // possibly under /var/tmp), then the state folder itself.
    let mut servers = vec![dir.clone()];
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with("replica-") {
                servers.push(entry.path());
            }
        }
    }
    let mut folders = Vec::new();
    for server in &servers {
        let (postgres, shared) = super::components::postgres_location(server)?;
        if shared && std::fs::symlink_metadata(&postgres).is_ok() {
            crate::db::shared_dir::check(&postgres)?;
        }
        folders.push(postgres);
    }
    folders.push(dir.clone());
    for folder in folders {
        if folder.exists() {
            std::fs::remove_dir_all(&folder)
                .with_context(|| format!("removing {}", folder.display()))?;
        }
    }
    println!("Removed {} (data, configs, logs).", dir.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;

    use super::*;
    use crate::process::{boot_id, start_time};
    use crate::stack::state::ComponentState;

    /// A state file written by this very process as the supervisor, with
    /// `components` as `(name, pid, recorded start time)`.
    fn state_with(dir: &Path, components: &[(&str, u32, Option<u64>)]) {
        let me = std::process::id();
        StackState {
            phase: 3,
            status: Status::Ready,
            supervisor_pid: me,
            supervisor_start_time: start_time(me),
            boot_id: boot_id(),
            error: None,
            front_url: "http://127.0.0.1:8080".into(),
            authority: None,
            firewall: Vec::new(),
            unsegmented: None,
            stats_url: None,
            app_database: String::new(),
            components: components
                .iter()
                .map(|(name, pid, start_time)| ComponentState {
                    name: name.to_string(),
                    kind: "app".into(),
                    address: "127.0.1.2:8000".into(),
                    pid: Some(*pid),
                    start_time: *start_time,
                    log: dir.join("logs").join(format!("{name}.log")),
                    health_url: None,
                    condition: "up".into(),
                    netns: None,
                    image: None,
                })
                .collect(),
            rollout: Default::default(),
        }
        .save(dir)
        .unwrap();
    }

    #[test]
    fn kill_signals_only_the_process_the_stack_started() {
        let dir = tempfile::tempdir().unwrap();
        // Stands for an unrelated program that got a recorded pid.
        let mut sleep = Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = sleep.id();
        let real = start_time(pid).unwrap();
        state_with(
            dir.path(),
            &[
                ("app-1", pid, Some(real - 1)),
                ("app-2", pid, None),
                ("app-3", pid, Some(real)),
            ],
        );

        let reused = format!("{:#}", crash(dir.path(), "app-1").unwrap_err());
        let unverifiable = format!("{:#}", crash(dir.path(), "app-2").unwrap_err());
        let alive_after_refusals = sleep.try_wait().unwrap().is_none();
        crash(dir.path(), "app-3").unwrap();
        let status = sleep.wait().unwrap();
        let gone = format!("{:#}", crash(dir.path(), "app-3").unwrap_err());

        assert!(reused.contains("not killing app-1"), "{reused}");
        assert!(reused.contains("another program"), "{reused}");
        assert!(unverifiable.contains("not killing app-2"), "{unverifiable}");
        assert!(unverifiable.contains("older"), "{unverifiable}");
        assert!(
            alive_after_refusals,
            "a process that is not ours was signalled"
        );
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGKILL)
        );
        assert!(gone.contains("not running"), "{gone}");
    }

    #[test]
    fn an_old_state_file_is_read_and_its_supervisor_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        // Written before start times were recorded; the pid is alive (ours).
        std::fs::write(
            StackState::path(dir.path()),
            format!(
                r#"{{"phase": 3, "status": "ready", "supervisor_pid": {}, "error": null,
                    "front_url": "http://127.0.0.1:8080", "stats_url": null,
                    "app_database": "", "components": [{{"name": "app-2", "kind": "app",
                    "address": "127.0.1.2:8000", "pid": {}, "log": "/tmp/app-2.log",
                    "health_url": null, "condition": "up"}}]}}"#,
                std::process::id(),
                std::process::id()
            ),
        )
        .unwrap();

        let state = StackState::load(dir.path()).unwrap().unwrap();
        let error = format!("{:#}", crash(dir.path(), "app-2").unwrap_err());

        assert_eq!(state.components[0].start_time, None);
        assert!(!state.supervisor_alive());
        assert!(error.contains("cannot tell whether"), "{error}");
        assert!(error.contains("Nothing was signalled"), "{error}");
    }

    #[tokio::test]
    async fn a_supervisor_that_fails_before_saving_its_state_is_reported_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let log_path = dir.path().join("stack.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new("sh")
            .args(["-c", "echo 'cannot read config/base.toml' >&2; exit 3"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();

        let outcome = tokio::time::timeout(
            Duration::from_secs(20),
            follow_supervisor(child, &log_path, dir.path(), Duration::from_secs(600)),
        )
        .await
        .expect("the failure is reported at once, not after ten minutes");

        let error = format!("{:#}", outcome.unwrap_err());
        assert!(error.contains("exit status: 3"), "{error}");
        assert!(error.contains(&log_path.display().to_string()), "{error}");
    }
}
