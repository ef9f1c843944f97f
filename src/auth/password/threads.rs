//! The threads that hash, one per slot, each at the lowest priority the
//! system grants, so that request handling always runs first.

use std::sync::{Arc, Mutex, mpsc};

use anyhow::Context;

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of hashing threads fed from one queue.
pub(super) struct HashPool {
    jobs: Mutex<mpsc::Sender<Job>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl HashPool {
    /// Starts `threads` threads behind request handling.
    pub(super) fn new(threads: usize) -> Self {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let mut handles = Vec::new();
        for n in 0..threads.max(1) {
            let receiver = Arc::clone(&receiver);
            let spawned = std::thread::Builder::new()
                .name(format!("password-hash-{n}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let job = match receiver.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(poisoned) => poisoned.into_inner().recv(),
                        };
                        match job {
                            // A panic fails that one hash (its caller sees
                            // its result channel close), never the thread.
                            Ok(job) => {
                                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                            }
                            // Every sender is gone: the process is stopping.
                            Err(_) => break,
                        }
                    }
                });
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(error) => tracing::error!("starting a password hashing thread: {error}"),
            }
        }
        Self {
            jobs: Mutex::new(sender),
            threads: handles,
        }
    }

    /// Lets the queued jobs finish, then stops the threads.
    pub(super) fn finish(self) {
        drop(self.jobs);
        for thread in self.threads {
            let _ = thread.join();
        }
    }

    /// Queues `job` for the next free thread.
    pub(super) fn submit(&self, job: impl FnOnce() + Send + 'static) -> anyhow::Result<()> {
        self.jobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .send(Box::new(job))
            .map_err(|_| anyhow::anyhow!("the password hashing threads are gone"))
    }

    /// Runs `work` on a hashing thread and waits for its result.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        self.submit(move || {
            let _ = done.send(work());
        })?;
        result.await.context("a password hashing thread failed")
    }
}

/// Puts the calling thread behind request handling: `SCHED_IDLE`, so it
/// runs only on CPU that no other thread of its process wants, and any
/// thread that wakes preempts it at once (`SCHED_BATCH` at nice 10 where
/// `SCHED_IDLE` is refused). Best effort: where the system refuses both,
/// hashing runs at normal priority.
///
/// The kernel compares these priorities only among the threads of one
/// scheduling group; the hashing helper process (`super::helper`) is what
/// puts hashing behind the other groups on the machine too.
pub(super) fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain system calls on the calling thread, with a valid,
        // initialised parameter struct.
        unsafe {
            let param = libc::sched_param { sched_priority: 0 };
            let thread = libc::gettid();
            if libc::sched_setscheduler(thread, libc::SCHED_IDLE, &param) == 0 {
                return;
            }
            tracing::debug!("SCHED_IDLE refused for password hashing");
            if libc::sched_setscheduler(thread, libc::SCHED_BATCH, &param) != 0 {
                tracing::debug!("SCHED_BATCH refused for password hashing");
            }
            if libc::setpriority(libc::PRIO_PROCESS, thread as libc::id_t, 10) != 0 {
                tracing::debug!("nice 10 refused for password hashing");
            }
        }
    }
}
