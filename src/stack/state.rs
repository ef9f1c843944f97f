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
    /// Its log file.
    pub log: PathBuf,
    /// An HTTP address answering 200 while it is healthy, if it has one.
    pub health_url: Option<String>,
    /// `up`, `down (restarting in 10 s)`, `stopped`, …
    pub condition: String,
}

/// The whole stack as last written by its supervisor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StackState {
    pub phase: u8,
    pub status: Status,
    /// The supervising `million stack up` process.
    pub supervisor_pid: u32,
    /// Why start-up failed, when it did.
    pub error: Option<String>,
    pub front_url: String,
    pub stats_url: Option<String>,
    /// How the app reaches its database, without the password (that stays
    /// in `secrets.json`).
    pub app_database: String,
    pub components: Vec<ComponentState>,
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

    /// Whether the supervisor that wrote this is still alive.
    pub fn supervisor_alive(&self) -> bool {
        process_alive(self.supervisor_pid)
    }
}

/// Whether process `pid` exists.
pub fn process_alive(pid: u32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok()
}

/// A request for the supervisor, left as a file in `control/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Stop a component and keep it down.
    Stop(String),
    /// Start a stopped component.
    Start(String),
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
        };
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default();
        std::fs::write(dir.join(format!("{stamp}-{verb}-{name}")), b"")?;
        Ok(())
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
    fn requests_round_trip_in_order() {
        let dir = tempfile::tempdir().unwrap();
        Request::Stop("app-2".into()).send(dir.path()).unwrap();
        Request::Start("app-2".into()).send(dir.path()).unwrap();
        assert_eq!(
            Request::take_all(dir.path()),
            [
                Request::Stop("app-2".into()),
                Request::Start("app-2".into())
            ]
        );
        assert!(Request::take_all(dir.path()).is_empty());
    }
}
