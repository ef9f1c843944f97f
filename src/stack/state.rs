//! The stack's state file (`.million/stack/stack.json`), which `status`,
//! `down`, `kill` and friends read, and the control requests they leave for
//! the running supervisor.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// Where the stack is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Starting,
    Ready,
    Failed,
    Stopping,
    Stopped,
}

/// One running part of the stack.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ComponentState {
    pub name: String,
    /// What it is: `postgres`, `app`, `nginx`, `haproxy`.
    pub kind: String,
    /// Where it listens.
    pub address: String,
    /// Its process, while running.
    pub pid: Option<u32>,
    /// When that process started (clock ticks after boot), to tell it from
    /// a later process given the same pid. Missing in older state files.
    #[serde(default)]
    pub start_time: Option<u64>,
    /// Its log file.
    pub log: PathBuf,
    /// An HTTP address answering 200 while it is healthy, if it has one.
    pub health_url: Option<String>,
    /// `up`, `down (restarting in 10 s)`, `stopped`, …
    pub condition: String,
    /// The network namespace of its host (phase 6, as root): its health is
    /// asked from in there, since its peers alone may reach it.
    #[serde(default)]
    pub netns: Option<PathBuf>,
    /// The container image it runs (phase 7's app servers).
    #[serde(default)]
    pub image: Option<String>,
}

/// The app servers' release, and the last rolling deploy (phase 7).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    /// The image every app server runs once no roll is under way.
    pub current: Option<String>,
    /// The image before it: what `make rollback` goes back to.
    pub previous: Option<String>,
    /// Counts the deploys asked for, so a command can tell its own.
    pub deploys: u64,
    /// The image being rolled out, while a roll runs.
    pub rolling_to: Option<String>,
    /// What the last roll did, step by step.
    pub steps: Vec<String>,
    /// How the last roll ended: `None` while it runs.
    pub outcome: Option<Outcome>,
}

/// How a rolling deploy ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every app server runs the new image.
    Deployed,
    /// A server failed on the new image: every server is back on the old one.
    RolledBack(String),
    /// The roll could not run (no image, migrations failed): nothing changed.
    Refused(String),
}

/// The whole stack as last written by its supervisor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StackState {
    pub phase: u8,
    pub status: Status,
    /// The supervising `million stack up` process.
    pub supervisor_pid: u32,
    /// When the supervisor started (clock ticks after boot). Missing in
    /// older state files.
    #[serde(default)]
    pub supervisor_start_time: Option<u64>,
    /// The boot the processes above were started in: after a restart their
    /// pids belong to others. Missing in older state files.
    #[serde(default)]
    pub boot_id: Option<String>,
    /// Why start-up failed, when it did.
    pub error: Option<String>,
    pub front_url: String,
    /// The certificate authority the front door's certificate chains to
    /// (phase 6).
    #[serde(default)]
    pub authority: Option<PathBuf>,
    /// The security groups, one line per rule, where the hosts have network
    /// namespaces and nftables enforces them.
    #[serde(default)]
    pub firewall: Vec<String>,
    /// Why the hosts are not segmented although the phase asks for it.
    #[serde(default)]
    pub unsegmented: Option<String>,
    pub stats_url: Option<String>,
    /// How the app reaches its database, without the password (that stays
    /// in `secrets.json`).
    pub app_database: String,
    pub components: Vec<ComponentState>,
    /// Phase 7: the release the app servers run and the last deploy.
    #[serde(default)]
    pub rollout: Rollout,
}

impl StackState {
    /// The state file inside `state_dir`.
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join("stack.json")
    }

    /// Writes the file atomically (write, then rename).
    pub fn save(&self, state_dir: &Path) -> anyhow::Result<()> {
        let path = Self::path(state_dir);
        let temporary = path.with_extension("json.new");
        std::fs::write(&temporary, serde_json::to_vec_pretty(self)?)?;
        std::fs::rename(&temporary, &path).with_context(|| format!("writing {}", path.display()))
    }

    /// The last state written, if any.
    pub fn load(state_dir: &Path) -> anyhow::Result<Option<Self>> {
        let path = Self::path(state_dir);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(
                serde_json::from_slice(&bytes)
                    .with_context(|| format!("reading {}", path.display()))?,
            )),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Whether the supervisor that wrote this is still running.
    pub fn supervisor(&self) -> Ownership {
        ownership(
            self.supervisor_pid,
            self.supervisor_start_time,
            self.boot_id.as_deref(),
        )
    }

    /// Whether the supervisor that wrote this is still running (and is
    /// provably the same process).
    pub fn supervisor_alive(&self) -> bool {
        self.supervisor() == Ownership::Ours
    }

    /// Whether `component`'s recorded process is still the one the stack
    /// started: `None` when none is recorded.
    pub fn component(&self, component: &ComponentState) -> Option<Ownership> {
        let pid = component.pid?;
        Some(ownership(
            pid,
            component.start_time,
            self.boot_id.as_deref(),
        ))
    }
}

/// Whether a process recorded in the state file is still the one we started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// Running, and the same process: same boot, same start time.
    Ours,
    /// No process has that pid any more.
    Gone,
    /// Some process has that pid, but it is not ours, or we cannot tell
    /// (the reason says which): it must not be signalled.
    NotOurs(String),
}

/// Whether process `pid`, recorded as started at `start_time` during boot
/// `boot_id`, is still that process.
pub fn ownership(pid: u32, start_time: Option<u64>, boot_id: Option<&str>) -> Ownership {
    let Some(started) = crate::process::start_time(pid) else {
        return Ownership::Gone;
    };
    let Some(recorded) = start_time else {
        return Ownership::NotOurs(format!(
            "process {pid} is running, but the state file does not say when ours started \
             (an older `million` wrote it), so it may be an unrelated program that got the same \
             number after a crash or a restart"
        ));
    };
    if let (Some(then), Some(now)) = (boot_id, crate::process::boot_id())
        && then != now
    {
        return Ownership::NotOurs(format!(
            "the machine has restarted since the stack recorded process {pid}: \
             that number now belongs to another program"
        ));
    }
    if started != recorded {
        return Ownership::NotOurs(format!(
            "process {pid} is another program now (it started {started} clock ticks after \
             boot, ours {recorded})"
        ));
    }
    Ownership::Ours
}

/// A request for the supervisor, left as a file in `control/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Stop a component and keep it down.
    Stop(String),
    /// Start a stopped component.
    Start(String),
    /// Roll every app server onto this container image (phase 7).
    Deploy(String),
}

fn control_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("control")
}

impl Request {
    /// Leaves this request for the supervisor.
    pub fn send(&self, state_dir: &Path) -> anyhow::Result<()> {
        let dir = control_dir(state_dir);
        std::fs::create_dir_all(&dir)?;
        let (verb, name) = match self {
            Self::Stop(name) => ("stop", name),
            Self::Start(name) => ("start", name),
            Self::Deploy(image) => ("deploy", image),
        };
        // An image name may hold `/`: kept out of the file name.
        let name = name.replace('/', "%2F");
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default();
        std::fs::write(dir.join(format!("{stamp}-{verb}-{name}")), b"")?;
        Ok(())
    }

    /// Withdraws every deploy not yet taken up.
    pub fn withdraw_deploys(state_dir: &Path) {
        for entry in std::fs::read_dir(control_dir(state_dir))
            .into_iter()
            .flatten()
            .flatten()
        {
            if entry.file_name().to_string_lossy().contains("-deploy-") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// Takes every pending request, oldest first.
    pub fn take_all(state_dir: &Path) -> Vec<Self> {
        let dir = control_dir(state_dir);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|path| {
                let name = path.file_name()?.to_string_lossy().into_owned();
                let _ = std::fs::remove_file(&path);
                let mut parts = name.splitn(3, '-');
                let _stamp = parts.next()?;
                let verb = parts.next()?;
                let component = parts.next()?.to_string();
                match verb {
                    "stop" => Some(Self::Stop(component)),
                    "start" => Some(Self::Start(component)),
                    "deploy" => Some(Self::Deploy(component.replace("%2F", "/"))),
                    _ => None,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_process_we_recorded_is_ours() {
        let me = std::process::id();
        let boot = crate::process::boot_id();
        let started = crate::process::start_time(me);

        assert_eq!(ownership(me, started, boot.as_deref()), Ownership::Ours);
        // Our parent is alive, but it is not the process recorded under its
        // pid, which started at another time (ticks are 10 ms: it may have
        // started in the same one as we did, so not our own time).
        let parent = nix::unistd::getppid().as_raw() as u32;
        let recorded = crate::process::start_time(parent).map(|started| started + 1);
        assert!(matches!(
            ownership(parent, recorded, boot.as_deref()),
            Ownership::NotOurs(_)
        ));
        // A state file from before start times were recorded proves nothing.
        let Ownership::NotOurs(reason) = ownership(me, None, None) else {
            panic!("an unverifiable process was taken as ours");
        };
        assert!(reason.contains("older"), "{reason}");
        // Another boot's pids are not ours, whatever their start time.
        if boot.is_some() {
            assert!(matches!(
                ownership(me, started, Some("another-boot")),
                Ownership::NotOurs(_)
            ));
        }
    }

    #[test]
    fn a_sleep_that_took_a_recorded_pid_is_not_ours_and_a_dead_pid_is_gone() {
        let mut sleep = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = sleep.id();
        let real = crate::process::start_time(pid).unwrap();

        let recorded_earlier = ownership(pid, Some(real - 1), crate::process::boot_id().as_deref());
        sleep.kill().unwrap();
        sleep.wait().unwrap();
        let after_death = ownership(pid, Some(real), crate::process::boot_id().as_deref());

        assert!(
            matches!(&recorded_earlier, Ownership::NotOurs(reason) if reason.contains("another program")),
            "{recorded_earlier:?}"
        );
        assert_eq!(after_death, Ownership::Gone);
    }

    #[test]
    fn requests_round_trip_in_order() {
        let dir = tempfile::tempdir().unwrap();
        Request::Stop("app-2".into()).send(dir.path()).unwrap();
        Request::Start("app-2".into()).send(dir.path()).unwrap();
        Request::Deploy("localhost/million-app:3f2a-dirty.1".into())
            .send(dir.path())
            .unwrap();
        assert_eq!(
            Request::take_all(dir.path()),
            [
                Request::Stop("app-2".into()),
                Request::Start("app-2".into()),
                Request::Deploy("localhost/million-app:3f2a-dirty.1".into())
            ]
        );
        assert!(Request::take_all(dir.path()).is_empty());
    }
}
