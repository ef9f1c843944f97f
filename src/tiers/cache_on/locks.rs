//! One load per key per process: concurrent misses for the same key wait
//! for the first to fill the cache instead of all reading the database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// Per-key locks, dropped when nobody holds or waits for them.
#[derive(Default)]
pub struct KeyLocks {
    locks: Mutex<HashMap<String, Weak<AsyncMutex<()>>>>,
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
            Err(_) => (lock.lock_owned().await, true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_second_caller_waits_for_the_first() {
        let locks = Arc::new(KeyLocks::default());
        let (first, waited) = locks.lock("k").await;
        assert!(!waited);
        let other = Arc::clone(&locks);
        let second = tokio::spawn(async move { other.lock("k").await.1 });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!second.is_finished());
        drop(first);
        assert!(second.await.unwrap(), "it waited");
        let (_, waited) = locks.lock("other").await;
        assert!(!waited, "keys are independent");
    }
}
