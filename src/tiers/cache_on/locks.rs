//! One load per key per process: concurrent misses for the same key wait
//! for the first to fill the cache instead of all reading the database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// Per-key locks, dropped when nobody holds or waits for them.
#[derive(Default)]
pub struct KeyLocks {
    locks: Mutex<HashMap<String, Weak<AsyncMutex<()>>>>,
    /// Callers waiting for a lock right now.
    waiting: AtomicU64,
}

/// Counts one caller as waiting for as long as it lives, even when the
/// caller's future is dropped mid-wait.
pub struct Waiting<'a>(&'a AtomicU64);

impl<'a> Waiting<'a> {
    /// Starts counting on `gauge`.
    pub fn on(gauge: &'a AtomicU64) -> Self {
        gauge.fetch_add(1, Ordering::Relaxed);
        Self(gauge)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl KeyLocks {
    /// Locks `key`; also says whether another task held it first.
    pub async fn lock(&self, key: &str) -> (OwnedMutexGuard<()>, bool) {
        let lock = {
            let mut locks = self
                .locks
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if locks.len() > 10_000 {
                locks.retain(|_, lock| lock.strong_count() > 0);
            }
            match locks.get(key).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(AsyncMutex::new(()));
                    locks.insert(key.to_string(), Arc::downgrade(&lock));
                    lock
                }
            }
        };
        match Arc::clone(&lock).try_lock_owned() {
            Ok(guard) => (guard, false),
            Err(_) => {
                let _waiting = Waiting::on(&self.waiting);
                (lock.lock_owned().await, true)
            }
        }
    }

    /// How many callers are waiting for a lock right now.
    pub fn waiting(&self) -> u64 {
        self.waiting.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    /// Yields until `locks` has `count` waiters (a generous deadline, no fixed sleep).
    async fn until_waiting(locks: &KeyLocks, count: u64) {
        let started = Instant::now();
        while locks.waiting() != count {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{} waiting, not {count}",
                locks.waiting()
            );
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn the_second_caller_waits_for_the_first() {
        let locks = Arc::new(KeyLocks::default());
        let (first, waited) = locks.lock("k").await;
        assert!(!waited);
        let other = Arc::clone(&locks);
        let second = tokio::spawn(async move { other.lock("k").await.1 });

        until_waiting(&locks, 1).await;
        assert!(
            !second.is_finished(),
            "it waits while the first holds the lock"
        );
        drop(first);
        assert!(second.await.unwrap(), "it waited");
        assert_eq!(locks.waiting(), 0);
        let (_, waited) = locks.lock("other").await;
        assert!(!waited, "keys are independent");
    }

    #[tokio::test]
    async fn a_waiter_that_goes_away_stops_counting() {
        let locks = Arc::new(KeyLocks::default());
        let (_first, _) = locks.lock("k").await;
        let other = Arc::clone(&locks);
        let second = tokio::spawn(async move { other.lock("k").await.1 });
        until_waiting(&locks, 1).await;

        second.abort();
        assert!(second.await.unwrap_err().is_cancelled());

        assert_eq!(locks.waiting(), 0);
    }
}
