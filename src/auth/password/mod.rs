//! Password hashing with argon2id at one of OWASP's equivalent parameter
//! sets: 7 MiB, five passes, one lane.
//!
//! Hashing is deliberately slow, so it runs off the request handlers, at
//! most `slots` hashes at once; a request that cannot get a slot within
//! `wait` gets 503 with `Retry-After` instead of queueing without end. The
//! `million` server hashes in a helper process scheduled behind everything
//! else on the machine (`helper`), elsewhere on threads behind request
//! handling (`threads`): a storm of sign-ins takes the CPU that reads leave
//! idle, not the CPU reads need. Sign-in for an unknown email still computes
//! one hash, so timing does not reveal accounts.

mod helper;
mod threads;

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use helper::{
    GROUP_NICE as HELPER_GROUP_NICE, SUBCOMMAND as HELPER_SUBCOMMAND, serve as serve_helper,
};
use helper::{Helper, HelperError, Outcome};
use serde::{Deserialize, Serialize};
use threads::HashPool;

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
    hashing: Arc<Hashing>,
}

/// Where hashes are computed.
enum Hashing {
    /// On threads of this process.
    Threads(HashPool),
    /// In the helper process; on threads of this one (started when first
    /// needed) if the helper cannot be started.
    Helper {
        helper: Box<Helper>,
        fallback: OnceLock<HashPool>,
    },
}

/// The executable that serves as the hashing helper, once the entry point
/// has said there is one (`hash_in_helper_process`).
static HELPER_PROGRAM: OnceLock<PathBuf> = OnceLock::new();

/// Makes every `Passwords` made from now on hash in a helper process,
/// `program hash-helper`: the entry point's call, since only it knows that its
/// executable has that subcommand.
pub fn hash_in_helper_process(program: PathBuf) {
    let _ = HELPER_PROGRAM.set(program);
}

/// One unit of hashing work, as sent to a hashing thread or the helper.
#[derive(Serialize, Deserialize)]
enum Task {
    /// A new hash of a password.
    Hash { password: String },
    /// Whether a password matches a stored hash (the decoy when `None`).
    Verify {
        password: String,
        stored: Option<String>,
    },
}

impl Task {
    fn perform(self) -> anyhow::Result<Outcome> {
        match self {
            Self::Hash { password } => hash_phc(password.as_bytes()).map(Outcome::Hashed),
            Self::Verify { password, stored } => {
                let known = stored.is_some();
                let stored = stored.unwrap_or_else(|| decoy_hash().to_string());
                let parsed = PasswordHash::new(&stored).map_err(|error| {
                    anyhow::anyhow!("stored password hash is malformed: {error}")
                })?;
                let matches = verify_phc(password.as_bytes(), &parsed)?;
                Ok(Outcome::Verified(known && matches))
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

/// No password that can be set is longer (128 characters of at most four
/// bytes each).
const MAX_PASSWORD_BYTES: usize = 512;

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
    /// Allows `slots` concurrent hashes, each request waiting at most `wait`;
    /// hashes in the helper process if the entry point named one.
    pub fn new(slots: usize, wait: Duration) -> Self {
        match HELPER_PROGRAM.get() {
            Some(program) => Self::in_helper(slots, wait, program.clone()),
            None => Self::on_threads(slots, wait),
        }
    }

    /// Hashes on `slots` threads of this process.
    pub fn on_threads(slots: usize, wait: Duration) -> Self {
        let slots = slots.max(1);
        Self::with(slots, wait, Hashing::Threads(HashPool::new(slots)))
    }

    /// Hashes in a helper process, `program hash-helper`, with `slots`
    /// threads.
    pub fn in_helper(slots: usize, wait: Duration, program: PathBuf) -> Self {
        let slots = slots.max(1);
        let helper = Box::new(Helper::new(program, slots));
        let fallback = OnceLock::new();
        Self::with(slots, wait, Hashing::Helper { helper, fallback })
    }

    fn with(slots: usize, wait: Duration, hashing: Hashing) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(slots)),
            wait,
            hashing: Arc::new(hashing),
        }
    }

    /// The helper process's id, once it runs (for diagnostics and tests).
    pub async fn helper_pid(&self) -> Option<u32> {
        match self.hashing.as_ref() {
            Hashing::Helper { helper, .. } => helper.pid().await,
            Hashing::Threads(_) => None,
        }
    }

    /// Hashes a new password into a PHC string.
    pub async fn hash(&self, password: &SecretString) -> Result<String, AppError> {
        let password = password.expose_secret().to_owned();
        match self.run(Task::Hash { password }).await? {
            Outcome::Hashed(hash) => Ok(hash),
            Outcome::Verified(_) => Err(anyhow::anyhow!("a hash was asked for").into()),
        }
    }

    /// Whether `password` matches `stored`; with no stored hash (unknown user),
    /// spends the same effort and answers `false`. A password longer than
    /// any that can be set (128 characters, at most 512 bytes) is wrong
    /// without hashing, for known and unknown accounts alike.
    pub async fn verify(
        &self,
        password: &SecretString,
        stored: Option<String>,
    ) -> Result<bool, AppError> {
        if password.expose_secret().len() > MAX_PASSWORD_BYTES {
            return Ok(false);
        }
        let password = password.expose_secret().to_owned();
        match self.run(Task::Verify { password, stored }).await? {
            Outcome::Verified(matches) => Ok(matches),
            Outcome::Hashed(_) => Err(anyhow::anyhow!("a verification was asked for").into()),
        }
    }

    async fn run(&self, task: Task) -> Result<Outcome, AppError> {
        let busy = || AppError::Busy {
            what: "the sign-in service",
            retry_after_secs: 1,
        };
        // A slot is held until the hash is done, not until the request is:
        // a request given up on (a client gone, a proxy's timeout) leaves
        // its hash running, and the slot with it, so the queue stays bounded.
        let permit = || async {
            tokio::time::timeout(self.wait, Arc::clone(&self.slots).acquire_owned())
                .await
                .map_err(|_| busy())?
                .map_err(|_| busy())
        };
        let (helper, fallback) = match self.hashing.as_ref() {
            Hashing::Threads(pool) => return Ok(on_threads(pool, task, permit().await?).await?),
            Hashing::Helper { fallback, .. } if fallback.get().is_some() => {
                let pool = fallback.get().ok_or_else(busy)?;
                return Ok(on_threads(pool, task, permit().await?).await?);
            }
            Hashing::Helper { helper, fallback } => (helper, fallback),
        };
        // A helper that stopped (killed, or crashed) is replaced and asked
        // once more: hashing has no side effects to repeat.
        for _ in 0..2 {
            match helper.perform(&task, permit().await?).await {
                Ok(outcome) => return Ok(outcome),
                Err(HelperError::Stopped) => continue,
                Err(HelperError::TooSlow) => return Err(busy()),
                Err(HelperError::Failed(error)) => return Err(error.into()),
                Err(HelperError::Unavailable(error)) => {
                    tracing::warn!("{error:#}: hashing on threads of this process instead");
                    let pool = fallback.get_or_init(|| HashPool::new(helper.threads()));
                    return Ok(on_threads(pool, task, permit().await?).await?);
                }
            }
        }
        tracing::error!("the password hashing helper stopped twice in a row");
        Err(busy())
    }
}

/// Runs `task` on a thread of `pool`, holding `permit` until it is done.
async fn on_threads(
    pool: &HashPool,
    task: Task,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> anyhow::Result<Outcome> {
    pool.run(move || {
        let outcome = task.perform();
        drop(permit);
        outcome
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(value: &str) -> SecretString {
        SecretString::from(value.to_string())
    }

    #[tokio::test]
    async fn hashes_verify_only_the_right_password() {
        let passwords = Passwords::on_threads(2, Duration::from_secs(5));
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
        let passwords = Passwords::on_threads(1, Duration::from_secs(5));
        let decoy_password = secret("decoy password nobody can sign in with");
        assert!(!passwords.verify(&decoy_password, None).await.unwrap());
    }

    #[tokio::test]
    async fn saturation_answers_busy_instead_of_queueing() {
        let passwords = Passwords::on_threads(1, Duration::from_millis(1));
        let held = Arc::clone(&passwords.slots).acquire_owned().await.unwrap();
        let error = passwords.hash(&secret("whatever1")).await.unwrap_err();
        assert!(matches!(error, AppError::Busy { .. }));
        drop(held);
        assert!(passwords.hash(&secret("whatever1")).await.is_ok());
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_run_behind_request_handling() {
        let pool = HashPool::new(1);
        let policy = pool
            .run(|| unsafe {
                // SAFETY: reads the calling thread's own scheduling policy.
                libc::sched_getscheduler(libc::gettid())
            })
            .await
            .unwrap();
        assert_eq!(policy, libc::SCHED_IDLE);
    }
}
