//! Password hashing with argon2id at one of OWASP's equivalent parameter
//! sets: 7 MiB, five passes, one lane.
//!
//! Hashing is deliberately slow, so it runs on threads of its own, at most
//! `slots` hashes at once; a request that cannot get a slot within `wait`
//! gets 503 with `Retry-After` instead of queueing without end. Those threads
//! run behind request handling (`SCHED_IDLE` on Linux): a storm of sign-ins
//! takes the CPU that reads leave idle, not the CPU reads need. Sign-in for an
//! unknown email still computes one hash, so timing does not reveal accounts.

use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Duration;

use anyhow::Context;
use std::cell::RefCell;

use argon2::password_hash::PasswordHasher;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use crate::error::AppError;

/// Bounded, off-executor password hashing.
#[derive(Clone)]
pub struct Passwords {
    slots: Arc<Semaphore>,
    wait: Duration,
    pool: Arc<HashPool>,
}

type Job = Box<dyn FnOnce() + Send>;

/// The threads that hash, one per slot, behind request handling in the
/// scheduler's eyes.
struct HashPool {
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl HashPool {
    fn new(threads: usize) -> Self {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..threads {
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
                            // the result channel close), never the thread.
                            Ok(job) => {
                                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                            }
                            // Every sender is gone: the application stopped.
                            Err(_) => break,
                        }
                    }
                });
            if let Err(error) = spawned {
                tracing::error!("starting a password hashing thread: {error}");
            }
        }
        Self {
            jobs: Mutex::new(sender),
        }
    }

    /// Runs `work` on a hashing thread and waits for its result.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
        });
        self.jobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .send(job)
            .map_err(|_| anyhow::anyhow!("the password hashing threads are gone"))?;
        result.await.context("a password hashing thread failed")
    }
}

/// Puts the calling thread behind request handling: `SCHED_IDLE`, so it
/// runs only on CPU that no other thread of the application wants, and any
/// thread that wakes preempts it at once (`SCHED_BATCH` at nice 10 where
/// `SCHED_IDLE` is refused). Best effort: where the system refuses both,
/// hashing runs at normal priority.
///
/// The kernel compares priorities among the threads of one scheduling group.
/// With autogroups on (`kernel.sched_autogroup_enabled = 1`, most desktop
/// kernels) or one cgroup per service (systemd), the application's group as
/// a whole still competes evenly with PostgreSQL's on a shared machine.
fn lower_priority() {
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

thread_local! {
    /// Each hashing thread's argon2 memory (7 MiB), kept from one hash to
    /// the next: allocating and freeing it per hash maps and unmaps memory,
    /// which takes the process's address-space lock, and a low-priority
    /// thread holding that lock would stall the request handlers' page
    /// faults behind it.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs `work` with this thread's argon2 memory, `blocks` blocks long.
fn with_memory<T>(blocks: usize, work: impl FnOnce(&mut [Block]) -> T) -> T {
    MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() != blocks {
            *memory = vec![Block::new(); blocks];
        }
        work(&mut memory[..])
    })
}

/// A PHC string (`$argon2id$v=19$m=…`) for `password` with a new salt, on
/// the calling thread (the seeder's and the benchmarks' one-off hashes).
pub fn hash_phc(password: &[u8]) -> anyhow::Result<String> {
    let argon = argon2();
    let salt_bytes: [u8; 16] = rand::random();
    let salt = Salt::new(&salt_bytes).map_err(|error| anyhow::anyhow!("salt: {error}"))?;
    let mut out = [0u8; 32];
    with_memory(argon.params().block_count(), |memory| {
        argon.hash_password_into_with_memory(password, &salt, &mut out, memory)
    })
    .map_err(|error| anyhow::anyhow!("hashing a password: {error}"))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon.params())
            .map_err(|error| anyhow::anyhow!("encoding parameters: {error}"))?,
        salt: Some(salt),
        hash: Some(Output::new(&out).map_err(|error| anyhow::anyhow!("output: {error}"))?),
    };
    Ok(phc.to_string())
}

/// Whether `password` gives `stored` (with the algorithm, version and
/// parameters `stored` names); the comparison takes constant time.
fn verify_phc(password: &[u8], stored: &PasswordHash) -> anyhow::Result<bool> {
    let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
        return Ok(false);
    };
    let malformed = |error: &dyn std::fmt::Display| {
        anyhow::anyhow!("stored password hash is malformed: {error}")
    };
    let algorithm = Algorithm::try_from(stored.algorithm.as_str()).map_err(|e| malformed(&e))?;
    let version = match stored.version {
        Some(version) => Version::try_from(version).map_err(|e| malformed(&e))?,
        None => Version::default(),
    };
    let params = Params::try_from(stored).map_err(|e| malformed(&e))?;
    let argon = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    with_memory(argon.params().block_count(), |memory| {
        argon.hash_password_into_with_memory(password, salt, &mut out, memory)
    })
    .map_err(|error| anyhow::anyhow!("verifying a password: {error}"))?;
    let computed = Output::new(&out).map_err(|e| malformed(&e))?;
    // `Output` compares in constant time.
    Ok(computed == *expected)
}

/// Argon2 memory, in KiB (7 MiB).
const MEMORY_KIB: u32 = 7 * 1024;
/// Argon2 passes over that memory.
const PASSES: u32 = 5;

fn argon2() -> Argon2<'static> {
    // OWASP lists five argon2id settings that resist cracking equally well,
    // trading memory for passes: 46 MiB × 1, 19 MiB × 2, 12 MiB × 3,
    // 9 MiB × 4 and 7 MiB × 5. The smallest footprint is the one chosen: two
    // hashing threads then fit in a shared 32 MiB L3 cache with room for the
    // database and the request handlers, and measured on two cores it
    // verifies 0.7× of cores ÷ hash time during a sign-in storm where
    // 19 MiB × 2 reached 0.53×–0.64× (`make bench-signin`). Hashes stored with
    // other parameters still verify: a PHC string names its own.
    let params = Params::new(MEMORY_KIB, PASSES, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A valid hash of a password nobody knows, verified against when the account
/// does not exist so that the answer takes as long as for a real one.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        argon2()
            .hash_password(b"decoy password nobody can sign in with")
            .map(|hash: PasswordHash| hash.to_string())
            .unwrap_or_default()
    })
}

impl Passwords {
    /// Allows `slots` concurrent hashes, each request waiting at most `wait`.
    pub fn new(slots: usize, wait: Duration) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(slots.max(1))),
            wait,
            pool: Arc::new(HashPool::new(slots.max(1))),
        }
    }

    /// Hashes a new password into a PHC string.
    pub async fn hash(&self, password: &SecretString) -> Result<String, AppError> {
        let password = password.clone();
        self.run(move || hash_phc(password.expose_secret().as_bytes()))
            .await
    }

    /// Whether `password` matches `stored`; with no stored hash (unknown user),
    /// spends the same effort and answers `false`.
    pub async fn verify(
        &self,
        password: &SecretString,
        stored: Option<String>,
    ) -> Result<bool, AppError> {
        let password = password.clone();
        self.run(move || {
            let known = stored.is_some();
            let stored = stored.unwrap_or_else(|| decoy_hash().to_string());
            let parsed = PasswordHash::new(&stored)
                .map_err(|error| anyhow::anyhow!("stored password hash is malformed: {error}"))?;
            let matches = verify_phc(password.expose_secret().as_bytes(), &parsed)?;
            Ok(known && matches)
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, AppError> {
        let busy = || AppError::Busy {
            what: "the sign-in service",
            retry_after_secs: 1,
        };
        let permit = tokio::time::timeout(self.wait, Arc::clone(&self.slots).acquire_owned())
            .await
            .map_err(|_| busy())?
            .map_err(|_| busy())?;
        let result = self
            .pool
            .run(move || {
                let result = work();
                drop(permit);
                result
            })
            .await?;
        Ok(result?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(value: &str) -> SecretString {
        SecretString::from(value.to_string())
    }

    #[tokio::test]
    async fn hashes_verify_only_the_right_password() {
        let passwords = Passwords::new(2, Duration::from_secs(5));
        let hash = passwords.hash(&secret("correct horse")).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{hash}");
        assert!(
            passwords
                .verify(&secret("correct horse"), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !passwords
                .verify(&secret("wrong horse"), Some(hash))
                .await
                .unwrap()
        );
    }

    #[test]
    fn hashes_agree_with_the_reference_implementation() {
        // Made by the argon2 crate's own hasher, checked by ours; and ours
        // checked by the crate's verifier.
        use argon2::password_hash::PasswordVerifier;
        let reference = argon2()
            .hash_password(b"correct horse")
            .map(|hash: PasswordHash| hash.to_string())
            .unwrap();
        let parsed = PasswordHash::new(&reference).unwrap();
        assert!(verify_phc(b"correct horse", &parsed).unwrap());
        assert!(!verify_phc(b"wrong horse", &parsed).unwrap());
        let ours = hash_phc(b"battery staple").unwrap();
        assert!(
            argon2()
                .verify_password(b"battery staple", ours.as_str())
                .is_ok()
        );
        assert!(
            argon2()
                .verify_password(b"battery stapler", ours.as_str())
                .is_err()
        );
        // Another cost, as an older hash may have: memory is resized.
        let cheap = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"old")
        .map(|hash: PasswordHash| hash.to_string())
        .unwrap();
        assert!(verify_phc(b"old", &PasswordHash::new(&cheap).unwrap()).unwrap());
    }

    #[tokio::test]
    async fn unknown_users_never_verify() {
        let passwords = Passwords::new(1, Duration::from_secs(5));
        let decoy_password = secret("decoy password nobody can sign in with");
        assert!(!passwords.verify(&decoy_password, None).await.unwrap());
    }

    #[tokio::test]
    async fn saturation_answers_busy_instead_of_queueing() {
        let passwords = Passwords::new(1, Duration::from_millis(1));
        let held = Arc::clone(&passwords.slots).acquire_owned().await.unwrap();
        let error = passwords.hash(&secret("whatever1")).await.unwrap_err();
        assert!(matches!(error, AppError::Busy { .. }));
        drop(held);
        assert!(passwords.hash(&secret("whatever1")).await.is_ok());
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_runs_behind_request_handling() {
        let passwords = Passwords::new(1, Duration::from_secs(5));
        let policy = passwords
            .pool
            .run(|| unsafe {
                // SAFETY: reads the calling thread's own scheduling policy.
                libc::sched_getscheduler(libc::gettid())
            })
            .await
            .unwrap();
        assert_eq!(policy, libc::SCHED_IDLE);
    }
}
