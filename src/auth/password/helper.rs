//! The hashing helper: a child process that does the application's password
//! hashing, in a scheduling group of its own at a low weight.
//!
//! Thread priorities only order the threads of one scheduling group. The
//! kernel first shares the CPU between groups — one per session with
//! autogroups on (`kernel.sched_autogroup_enabled = 1`, the default of most
//! distributions' kernels) — so hashing threads at `SCHED_IDLE` inside the
//! application's process still hold its group's share against PostgreSQL's
//! during a sign-in storm, and reads wait. The helper starts a session of its
//! own, hence a group of its own, lowers that group's weight
//! ([`GROUP_NICE`]) and hashes on `SCHED_IDLE` threads: it gets the CPU that
//! everything else leaves idle, and a small share when nothing is idle.
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
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, oneshot};

use super::Task;
use super::threads::HashPool;

/// The nice level of the helper's scheduling group: 10, a weight of 110
/// against an ordinary group's 1024. Low enough that reads and PostgreSQL
/// go first during a storm; not the lowest (19, a weight of 15), at which
/// a machine kept busy by other work would leave sign-ins waiting for
/// minutes.
pub const GROUP_NICE: u8 = 10;

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
    // Made now, not at the first unknown email: that sign-in would take
    // twice as long as others and tell that the account does not exist.
    let _ = super::decoy_hash();
    let pool = HashPool::new(threads);
    let out = Arc::new(Mutex::new(std::io::stdout()));
    for line in std::io::stdin().lock().lines() {
        let line = line.context("reading a request")?;
        let Ok(request) = serde_json::from_str::<Request>(&line) else {
            eprintln!("hash helper: skipped a malformed request");
            continue;
        };
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
        if std::fs::write("/proc/self/autogroup", GROUP_NICE.to_string()).is_err() {
            // No autogroups in this kernel: nothing to lower.
        }
    }
}

/// How long a hash may take in the helper before its request gives up
/// (503, try again): the helper runs only on CPU nothing else wants, so on a
/// saturated machine a hash can wait.
const REPLY_LIMIT: Duration = Duration::from_secs(20);

/// The application side: starts the helper on first use, sends it tasks and
/// matches the replies; a helper that died is started again on next use.
pub(super) struct Helper {
    program: PathBuf,
    threads: usize,
    running: Mutex<Option<Running>>,
}

/// A request awaiting its reply, with the hashing slot it holds until then.
type Waiting = (
    oneshot::Sender<Result<Outcome, String>>,
    OwnedSemaphorePermit,
);

/// Replies awaited, by request id; `None` once the helper has stopped, so
/// nothing waits for a reply that cannot come.
type Pending = Arc<Mutex<Option<HashMap<u64, Waiting>>>>;

struct Running {
    child: std::process::Child,
    /// Whole lines for the helper's standard input: one thread writes them,
    /// so a request given up on never leaves half a line behind.
    lines: std::sync::mpsc::Sender<Vec<u8>>,
    pending: Pending,
    next_id: u64,
}

impl Helper {
    pub(super) fn new(program: PathBuf, threads: usize) -> Self {
        Self {
            program,
            threads,
            running: Mutex::new(None),
        }
    }

    /// How many hashes the helper computes at once.
    pub(super) fn threads(&self) -> usize {
        self.threads
    }

    /// The helper's process id, once it runs.
    pub(super) async fn pid(&self) -> Option<u32> {
        lock(&self.running)
            .as_ref()
            .filter(|running| lock(&running.pending).is_some())
            .map(|running| running.child.id())
    }

    /// Runs `task` in the helper, starting it first if it is not running;
    /// `permit` (a hashing slot) is held until the helper answers or stops.
    pub(super) async fn perform(
        &self,
        task: &Task,
        permit: OwnedSemaphorePermit,
    ) -> Result<Outcome, HelperError> {
        let reply = {
            let mut running = lock(&self.running);
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
            let mut line = serde_json::to_vec(&Asking { id, task })
                .map_err(|error| HelperError::Failed(error.into()))?;
            line.push(b'\n');
            let (sender, reply) = oneshot::channel();
            match lock(&running.pending).as_mut() {
                Some(pending) => pending.insert(id, (sender, permit)),
                None => return Err(HelperError::Stopped),
            };
            if running.lines.send(line).is_err() {
                lock(&running.pending).take();
                return Err(HelperError::Stopped);
            }
            reply
        };
        match tokio::time::timeout(REPLY_LIMIT, reply).await {
            Ok(Ok(Ok(outcome))) => Ok(outcome),
            Ok(Ok(Err(message))) => Err(HelperError::Failed(anyhow::anyhow!(message))),
            Ok(Err(_)) => Err(HelperError::Stopped),
            // The entry stays, with its slot, until the helper answers.
            Err(_) => Err(HelperError::TooSlow),
        }
    }

    fn start(&self) -> anyhow::Result<Running> {
        let mut child = std::process::Command::new(&self.program)
            .arg(SUBCOMMAND)
            .arg("--threads")
            .arg(self.threads.to_string())
            // Hashing needs no configuration, and none of its secrets.
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {} {SUBCOMMAND}", self.program.display()))?;
        let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the hashing helper has no pipes");
        };
        let pid = child.id();
        let pending: Pending = Arc::new(Mutex::new(Some(HashMap::new())));
        // Plain threads, not tasks: a task belongs to the runtime of the
        // worker that first hashed, and would go when that worker stops
        // (at a graceful shutdown, before the others are done).
        let (lines, queued) = std::sync::mpsc::channel::<Vec<u8>>();
        let stopped = Arc::clone(&pending);
        std::thread::Builder::new()
            .name("hash-helper-in".to_string())
            .spawn(move || {
                for line in queued {
                    if stdin.write_all(&line).and_then(|()| stdin.flush()).is_err() {
                        // The helper is gone: fail what waits, at once.
                        lock(&stopped).take();
                        break;
                    }
                }
                // Every sender is gone: the helper sees its input close.
            })
            .context("starting the hashing helper's writer")?;
        let replies = Arc::clone(&pending);
        std::thread::Builder::new()
            .name("hash-helper-out".to_string())
            .spawn(move || {
                for line in std::io::BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    let Ok(reply) = serde_json::from_str::<Reply>(&line) else {
                        tracing::error!("the hashing helper answered something unreadable");
                        break;
                    };
                    let waiting = lock(&replies)
                        .as_mut()
                        .and_then(|pending| pending.remove(&reply.id));
                    if let Some((waiting, _slot)) = waiting {
                        let _ = waiting.send(reply.result);
                    }
                }
                // Dropping the waiting senders (and their slots) fails their
                // requests at once.
                lock(&replies).take();
                tracing::warn!(
                    "the hashing helper (pid {pid}) stopped; the next hash starts another"
                );
            })
            .context("starting the hashing helper's reader")?;
        tracing::info!(
            "password hashing runs in a helper process (pid {pid}) with a scheduling group of \
             its own at a low weight"
        );
        Ok(Running {
            child,
            lines,
            pending,
            next_id: 0,
        })
    }
}

impl Drop for Running {
    /// The helper goes with the application (its input closing would end
    /// it too, once its queued hashes are done).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Why the helper did not hash.
pub(super) enum HelperError {
    /// It could not be started: hash in-process instead.
    Unavailable(anyhow::Error),
    /// It stopped before answering (it was killed, or crashed): a new one
    /// may be asked again.
    Stopped,
    /// It did not answer within [`REPLY_LIMIT`].
    TooSlow,
    /// It answered that the task failed.
    Failed(anyhow::Error),
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
