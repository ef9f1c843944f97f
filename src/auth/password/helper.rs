//! The hashing helper: a child process that does the application's password
//! hashing, in a scheduling group of its own at the lowest weight.
//!
//! Thread priorities only order the threads of one scheduling group. The
//! kernel first shares the CPU between groups — one per session with
//! autogroups on (`kernel.sched_autogroup_enabled = 1`, the default of most
//! distributions' kernels) — so hashing threads at `SCHED_IDLE` inside the
//! application's process still hold its group's share against PostgreSQL's
//! during a sign-in storm, and reads wait. The helper starts a session of its
//! own, hence a group of its own, sets that group to nice 19 (a weight of 15
//! against 1024) and hashes on `SCHED_IDLE` threads: it gets the CPU that
//! everything else leaves idle, and only that.
//!
//! It speaks JSON lines over its standard input and output: one request per
//! line in, one reply per line out, matched by id, several in flight at once.
//! It exits when its standard input closes, that is when the application
//! stops, however it stops.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

use super::Task;
use super::threads::HashPool;

/// The subcommand that runs the helper side (`million hash-helper`).
pub const SUBCOMMAND: &str = "hash-helper";

/// A request as the helper reads it…
#[derive(Deserialize)]
struct Request {
    id: u64,
    task: Task,
}

/// …and as the application writes it.
#[derive(Serialize)]
struct Asking<'a> {
    id: u64,
    task: &'a Task,
}

/// What a task gave: a new hash, or whether a password matched.
#[derive(Debug, Serialize, Deserialize)]
pub(super) enum Outcome {
    Hashed(String),
    Verified(bool),
}

#[derive(Serialize, Deserialize)]
struct Reply {
    id: u64,
    result: Result<Outcome, String>,
}

/// The helper side: hashes what arrives on standard input with `threads`
/// threads until standard input closes.
pub fn serve(threads: usize) -> anyhow::Result<()> {
    own_scheduling_group();
    let pool = HashPool::new(threads);
    let out = Arc::new(Mutex::new(std::io::stdout()));
    for line in std::io::stdin().lock().lines() {
        let line = line.context("reading a request")?;
        let request: Request = serde_json::from_str(&line).context("a malformed request")?;
        let out = Arc::clone(&out);
        pool.submit(move || {
            let reply = Reply {
                id: request.id,
                result: request.task.perform().map_err(|error| format!("{error:#}")),
            };
            let Ok(mut line) = serde_json::to_vec(&reply) else {
                return;
            };
            line.push(b'\n');
            let mut out = out.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            // A failed write means the application is gone; the next read
            // of standard input ends the helper.
            let _ = out.write_all(&line).and_then(|()| out.flush());
        })?;
    }
    // The application closed the pipe: answer what it already asked.
    pool.finish();
    Ok(())
}

/// Starts a session, hence (with autogroups) a scheduling group of its own,
/// and gives that group the lowest weight. Best effort: without autogroups,
/// or inside a cgroup of its own (systemd), the helper shares the
/// application's group and its `SCHED_IDLE` threads still yield within it.
fn own_scheduling_group() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `setsid` takes no arguments; it fails harmlessly if the
        // process already leads a process group.
        if unsafe { libc::setsid() } < 0 {
            eprintln!("hash helper: could not start a session of its own");
        }
        // Lowering one's own group's weight needs no privilege.
        if std::fs::write("/proc/self/autogroup", "19").is_err() {
            // No autogroups in this kernel: nothing to lower.
        }
    }
}

/// The application side: starts the helper on first use, sends it tasks and
/// matches the replies; a helper that died is started again on next use.
pub(super) struct Helper {
    program: PathBuf,
    threads: usize,
    running: tokio::sync::Mutex<Option<Running>>,
}

/// Replies awaited, by request id; `None` once the helper has stopped, so
/// nothing waits for a reply that cannot come.
type Pending = Arc<Mutex<Option<HashMap<u64, oneshot::Sender<Result<Outcome, String>>>>>>;

struct Running {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    pending: Pending,
    next_id: u64,
}

impl Helper {
    pub(super) fn new(program: PathBuf, threads: usize) -> Self {
        Self {
            program,
            threads,
            running: tokio::sync::Mutex::new(None),
        }
    }

    /// How many hashes the helper computes at once.
    pub(super) fn threads(&self) -> usize {
        self.threads
    }

    /// The helper's process id, once it runs.
    pub(super) async fn pid(&self) -> Option<u32> {
        let running = self.running.lock().await;
        running.as_ref().and_then(|running| running.child.id())
    }

    /// Runs `task` in the helper, starting it first if it is not running.
    pub(super) async fn perform(&self, task: &Task) -> Result<Outcome, HelperError> {
        let (reply, id, pending) = {
            let mut running = self.running.lock().await;
            let alive = running
                .as_ref()
                .is_some_and(|running| lock(&running.pending).is_some());
            if !alive {
                *running = Some(self.start().map_err(HelperError::Unavailable)?);
            }
            let Some(running) = running.as_mut() else {
                let error = anyhow::anyhow!("the hashing helper did not start");
                return Err(HelperError::Unavailable(error));
            };
            let id = running.next_id;
            running.next_id += 1;
            let (sender, reply) = oneshot::channel();
            match lock(&running.pending).as_mut() {
                Some(pending) => pending.insert(id, sender),
                None => return Err(HelperError::Stopped),
            };
            let mut line = serde_json::to_vec(&Asking { id, task })
                .map_err(|error| HelperError::Failed(error.into()))?;
            line.push(b'\n');
            if running.stdin.write_all(&line).await.is_err() {
                // The helper is gone: the next call starts another.
                lock(&running.pending).take();
                return Err(HelperError::Stopped);
            }
            (reply, id, Arc::clone(&running.pending))
        };
        match reply.await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(message)) => Err(HelperError::Failed(anyhow::anyhow!(message))),
            Err(_) => {
                if let Some(pending) = lock(&pending).as_mut() {
                    pending.remove(&id);
                }
                Err(HelperError::Stopped)
            }
        }
    }

    fn start(&self) -> anyhow::Result<Running> {
        let mut child = tokio::process::Command::new(&self.program)
            .arg(SUBCOMMAND)
            .arg("--threads")
            .arg(self.threads.to_string())
            // Hashing needs no configuration, and none of its secrets.
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {} {SUBCOMMAND}", self.program.display()))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            bail!("the hashing helper has no pipes");
        };
        let pending: Pending = Arc::new(Mutex::new(Some(HashMap::new())));
        let replies = Arc::clone(&pending);
        let pid = child.id().unwrap_or_default();
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let Ok(reply) = serde_json::from_str::<Reply>(&line) else {
                    tracing::error!("the hashing helper answered something unreadable");
                    break;
                };
                let waiting = lock(&replies)
                    .as_mut()
                    .and_then(|pending| pending.remove(&reply.id));
                if let Some(waiting) = waiting {
                    let _ = waiting.send(reply.result);
                }
            }
            // Dropping the waiting senders fails their requests at once.
            lock(&replies).take();
            tracing::warn!("the hashing helper (pid {pid}) stopped; the next hash starts another");
        });
        tracing::info!(
            "password hashing runs in a helper process (pid {pid}) with a scheduling group of \
             its own at the lowest weight"
        );
        Ok(Running {
            child,
            stdin,
            pending,
            next_id: 0,
        })
    }
}

/// Why the helper did not hash.
pub(super) enum HelperError {
    /// It could not be started: hash in-process instead.
    Unavailable(anyhow::Error),
    /// It stopped before answering (it was killed, or crashed): a new one
    /// may be asked again.
    Stopped,
    /// It answered that the task failed.
    Failed(anyhow::Error),
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
