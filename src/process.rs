//! Child processes that never outlive us.
//!
//! Servers we start (PostgreSQL, nginx, HAProxy, app servers) must stop when
//! `million` stops, however it stops. Each child is started from a dedicated
//! thread that lives exactly as long as the child, with the kernel asked to
//! signal it if that thread (and so this process) goes away, and in its own
//! process group so a whole tree (nginx and its workers) can be signalled at
//! once.
//!
//! Async code waits for a child with [`ManagedChild::wait_async`] and
//! [`ManagedChild::stop_async`], which never block the executor; the blocking
//! [`ManagedChild::wait_timeout`] and [`ManagedChild::stop`] are for threads
//! that are not running async tasks (and for `Drop`).

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Pid, User};
use tokio::sync::watch;

/// A running child process, supervised by a thread of its own.
#[derive(Debug)]
pub struct ManagedChild {
    name: String,
    pid: Pid,
    /// When it started, in clock ticks after boot (`/proc/PID/stat`).
    start_time: Option<u64>,
    exit: Arc<Exit>,
}

/// How a child ended, once it has, as both kinds of waiters see it.
#[derive(Debug)]
struct Exit {
    status: Mutex<Option<ExitStatus>>,
    /// Wakes threads blocked in [`ManagedChild::wait_timeout`].
    changed: Condvar,
    /// Wakes tasks awaiting [`ManagedChild::wait_async`].
    watch: watch::Sender<Option<ExitStatus>>,
}

impl Exit {
    fn status(&self) -> Option<ExitStatus> {
        *self
            .status
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// How a child should be started.
pub struct ChildOptions<'a> {
    /// Short name used in messages (`postgres`, `nginx`, `app-2`).
    pub name: &'a str,
    /// File that receives the child's standard output and error.
    pub log_file: &'a Path,
    /// Run as this user instead of ours (used to start PostgreSQL as root).
    pub run_as: Option<&'a User>,
    /// Signal the kernel sends the child if we die without stopping it.
    pub on_parent_death: Signal,
    /// Run it inside this network namespace (`/run/netns/…`): a host of
    /// its own (phase 6).
    pub netns: Option<&'a Path>,
}

/// Makes `command` run as `user`: its ids (the standard library drops the
/// supplementary groups too) and the environment that names the account,
/// so that nothing it runs looks in the starting account's home (libpq
/// reads `~/.postgresql/` for client certificates, for one).
pub fn run_as(command: &mut Command, user: &User) {
    account_env(command, user)
        .uid(user.uid.as_raw())
        .gid(user.gid.as_raw());
}

/// The environment that names `user`'s account.
fn account_env<'a>(command: &'a mut Command, user: &User) -> &'a mut Command {
    command
        .env("HOME", &user.dir)
        .env("USER", &user.name)
        .env("LOGNAME", &user.name)
}

/// Makes `command` run inside the network namespace `netns` (a host of its
/// own, phase 6) and as `user`. Entering a namespace takes privileges the
/// account gives up, so with a namespace the child enters it first and then
/// becomes `user` itself, between fork and exec. The returned file is the
/// namespace's: keep it open until the command has been spawned.
pub fn place(
    command: &mut Command,
    netns: Option<&Path>,
    user: Option<&User>,
) -> anyhow::Result<Option<std::fs::File>> {
    let Some(path) = netns else {
        if let Some(user) = user {
            run_as(command, user);
        }
        return Ok(None);
    };
    let file = std::fs::File::open(path)
        .with_context(|| format!("opening the network namespace {}", path.display()))?;
    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
    let identity = user.map(|user| {
        account_env(command, user);
        (user.uid.as_raw(), user.gid.as_raw())
    });
    // SAFETY: only async-signal-safe system calls (setns, setgroups,
    // setgid, setuid) between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                return Err(io::Error::last_os_error());
            }
            if let Some((uid, gid)) = identity
                && (libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(gid) != 0
                    || libc::setuid(uid) != 0)
            {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(Some(file))
}

impl ManagedChild {
    /// Starts `command` and returns once it has been started.
    pub fn spawn(mut command: Command, options: ChildOptions<'_>) -> anyhow::Result<Self> {
        let log = open_log(options.log_file)?;
        let log_err = log.try_clone().context("duplicating the log file handle")?;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .process_group(0);
        let netns = place(&mut command, options.netns, options.run_as)?;
        let parent = std::process::id();
        let death_signal = options.on_parent_death;
        // SAFETY: the closure only makes async-signal-safe system calls (prctl, getppid, _exit).
        unsafe {
            command.pre_exec(move || {
                nix::sys::prctl::set_pdeathsig(death_signal).map_err(io::Error::from)?;
                // The parent may have died between fork and prctl.
                if nix::unistd::getppid().as_raw() as u32 != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }

        let exit = Arc::new(Exit {
            status: Mutex::new(None),
            changed: Condvar::new(),
            watch: watch::Sender::new(None),
        });
        let (started_tx, started_rx) = mpsc::channel();
        let thread_exit = Arc::clone(&exit);
        let program = command.get_program().to_string_lossy().into_owned();
        std::thread::Builder::new()
            .name(format!("child-{}", options.name))
            .spawn(move || {
                let spawned = command.spawn();
                // The child has entered the namespace (or failed to).
                drop(netns);
                let mut child = match spawned {
                    Ok(child) => child,
                    Err(error) => {
                        let _ = started_tx.send(Err(error));
                        return;
                    }
                };
                // Until `wait` below reaps it, no other process can get its
                // pid (None if it has already exited: nothing to tell apart).
                let start_time = start_time(child.id());
                let _ = started_tx.send(Ok((child.id(), start_time)));
                // A failed wait leaves nothing to reap: report it as a plain failure.
                let status = child
                    .wait()
                    .unwrap_or_else(|_| ExitStatus::from_raw_failure());
                let mut slot = thread_exit
                    .status
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                *slot = Some(status);
                thread_exit.watch.send_replace(Some(status));
                thread_exit.changed.notify_all();
            })
            .context("starting a supervisor thread")?;
        let (pid, start_time) = started_rx
            .recv()
            .context("the supervisor thread ended before starting the child")?
            .with_context(|| format!("starting {program}"))?;
        Ok(Self {
            name: options.name.to_string(),
            pid: Pid::from_raw(pid as i32),
            start_time,
            exit,
        })
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.pid.as_raw() as u32
    }

    /// When the child started, in clock ticks after boot: with the pid, what
    /// tells it apart from a later process given the same pid.
    pub fn start_time(&self) -> Option<u64> {
        self.start_time
    }

    /// The name given at start.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How the child ended, if it has.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.exit.status()
    }

    /// Sends `signal` to the child's whole process group.
    pub fn signal(&self, signal: Signal) {
        if self.exit_status().is_none() {
            let _ = killpg(self.pid, signal);
        }
    }

    /// Waits up to `timeout` for the child to end, blocking this thread:
    /// async code uses [`Self::wait_async`].
    pub fn wait_timeout(&self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        let mut slot = self
            .exit
            .status
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        while slot.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            slot = self
                .exit
                .changed
                .wait_timeout(slot, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
        *slot
    }

    /// Waits up to `timeout` for the child to end, without blocking the thread.
    pub async fn wait_async(&self, timeout: Duration) -> Option<ExitStatus> {
        let mut exit = self.exit.watch.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = tokio::time::timeout(timeout, exit.wait_for(Option::is_some)).await;
        self.exit_status()
    }

    /// Asks the child to stop with `signal`; after `grace` kills it outright.
    /// Blocks this thread: async code uses [`Self::stop_async`].
    pub fn stop(&self, signal: Signal, grace: Duration) -> Option<ExitStatus> {
        self.signal(signal);
        if let Some(status) = self.wait_timeout(grace) {
            return Some(status);
        }
        tracing::warn!(child = %self.name, "did not stop within {grace:?}; killing it");
        self.signal(Signal::SIGKILL);
        self.wait_timeout(Duration::from_secs(5))
    }

    /// [`Self::stop`] for async code: waits without blocking the thread.
    pub async fn stop_async(&self, signal: Signal, grace: Duration) -> Option<ExitStatus> {
        self.signal(signal);
        if let Some(status) = self.wait_async(grace).await {
            return Some(status);
        }
        tracing::warn!(child = %self.name, "did not stop within {grace:?}; killing it");
        self.signal(Signal::SIGKILL);
        self.wait_async(Duration::from_secs(5)).await
    }
}

/// Opens (creating) the log file at `path` for appending, refusing to follow
/// a symbolic link there: logs may live in shared folders, where a link
/// planted by someone else would make us write (as root) wherever it points.
pub fn open_log(path: &Path) -> anyhow::Result<std::fs::File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|error| {
            if error.raw_os_error() == Some(libc::ELOOP) {
                anyhow::anyhow!(
                    "the log file {} is a symbolic link; logs are never written through one. \
                     Remove it (and check who made it), then try again",
                    path.display()
                )
            } else {
                anyhow::Error::new(error).context(format!("opening log file {}", path.display()))
            }
        })
}

/// When process `pid` started, in clock ticks after boot (field 22 of
/// `/proc/PID/stat`), or `None` if there is no such process or it has
/// already exited (a zombie waiting to be reaped).
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start_time(&stat)
}

/// Field 22 of a `/proc/PID/stat` line, unless field 3 (the state) says the
/// process has exited. The command name (field 2) is in parentheses and may
/// itself hold spaces and parentheses, so fields are counted from the last `)`.
fn parse_start_time(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    if matches!(fields.next()?, "Z" | "X") {
        return None;
    }
    // Fields 4 onwards remain: field 22 is the 19th of them.
    fields.nth(18)?.parse().ok()
}

/// The processes whose parent is `parent` (field 4 of `/proc/PID/stat`).
pub fn children(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| parse_parent(&stat))
                == Some(parent)
        })
        .collect()
}

/// Field 4 of a `/proc/PID/stat` line, counted from the last `)` as in
/// [`parse_start_time`].
fn parse_parent(stat: &str) -> Option<u32> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// This boot's identity (`/proc/sys/kernel/random/boot_id`): start times
/// only mean something within one boot.
pub fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|id| id.trim().to_string())
        .filter(|id| !id.is_empty())
}

/// An `ExitStatus` for a child whose status could not be collected.
trait FailureStatus {
    fn from_raw_failure() -> Self;
}

impl FailureStatus for ExitStatus {
    fn from_raw_failure() -> Self {
        use std::os::unix::process::ExitStatusExt;
        ExitStatus::from_raw(1 << 8)
    }
}

/// The last `lines` lines of a log file, for error messages.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let Ok(text) = std::fs::read_to_string(path) else {
        return String::new();
    };
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_is_started_signalled_and_reaped() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sleep.log");
        let mut command = Command::new("sh");
        command.args(["-c", "echo started; exec sleep 30"]);
        let child = ManagedChild::spawn(
            command,
            ChildOptions {
                name: "sleep",
                log_file: &log,
                run_as: None,
                on_parent_death: Signal::SIGTERM,
                netns: None,
            },
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !log_tail(&log, 5).contains("started") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            log_tail(&log, 5).contains("started"),
            "the child's output reaches its log"
        );
        assert!(child.exit_status().is_none());
        let status = child.stop(Signal::SIGTERM, Duration::from_secs(5)).unwrap();
        assert!(!status.success());
    }

    #[test]
    fn a_missing_program_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let error = ManagedChild::spawn(
            Command::new("/nonexistent/program"),
            ChildOptions {
                name: "missing",
                log_file: &dir.path().join("x.log"),
                run_as: None,
                on_parent_death: Signal::SIGTERM,
                netns: None,
            },
        )
        .unwrap_err();
        assert!(format!("{error:#}").contains("/nonexistent/program"));
    }

    fn sleeper(log: &Path) -> ManagedChild {
        let mut command = Command::new("sleep");
        command.arg("30");
        ManagedChild::spawn(
            command,
            ChildOptions {
                name: "sleep",
                log_file: log,
                run_as: None,
                on_parent_death: Signal::SIGTERM,
                netns: None,
            },
        )
        .unwrap()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_async_stop_leaves_the_executor_free() {
        let dir = tempfile::tempdir().unwrap();
        let child = sleeper(&dir.path().join("sleep.log"));
        // On a one-thread runtime this only ticks while the stop awaits.
        let ticks = tokio::spawn(async {
            let mut ticks = 0;
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                ticks += 1;
                if ticks == 20 {
                    return ticks;
                }
            }
        });

        // `sleep` ignores nothing: SIGCONT is the signal it survives.
        let status = child
            .stop_async(Signal::SIGCONT, Duration::from_millis(400))
            .await;

        assert!(!status.unwrap().success(), "killed after the grace period");
        assert!(
            ticks.is_finished(),
            "the executor ran other tasks meanwhile"
        );
        assert_eq!(child.wait_async(Duration::ZERO).await, status);
    }

    #[test]
    fn a_child_records_when_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let child = sleeper(&dir.path().join("sleep.log"));

        assert!(child.start_time().is_some());
        assert_eq!(child.start_time(), start_time(child.pid()));
        assert_ne!(start_time(std::process::id()), None);
        child.stop(Signal::SIGKILL, Duration::from_secs(5));
        assert_eq!(start_time(child.pid()), None, "reaped, it is gone");
    }

    #[test]
    fn the_start_time_is_field_22_whatever_the_name() {
        let line = "42 (a (b) c) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 98765 1 2 3";
        assert_eq!(parse_start_time(line), Some(98765));
        assert_eq!(
            parse_start_time(&line.replace(") S ", ") Z ")),
            None,
            "exited"
        );
        assert_eq!(parse_start_time("garbage"), None);
        assert_eq!(parse_parent(line), Some(1));
        assert_eq!(parse_parent("garbage"), None);
    }

    #[test]
    fn a_log_is_never_written_through_a_symbolic_link() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        let log = dir.path().join("app.log");
        std::os::unix::fs::symlink(&target, &log).unwrap();

        let error = ManagedChild::spawn(
            Command::new("true"),
            ChildOptions {
                name: "true",
                log_file: &log,
                run_as: None,
                on_parent_death: Signal::SIGTERM,
                netns: None,
            },
        )
        .unwrap_err();

        assert!(format!("{error:#}").contains("symbolic link"), "{error:#}");
        assert!(
            !target.exists(),
            "nothing was created where the link points"
        );
    }
}
