//! Getting invalidations to Redis: one round trip deletes the entries (with
//! their leases) and advances generations. What cannot be delivered is
//! queued; until the queue has been delivered, reads bypass the cache,
//! because Redis may still hold entries those writes replaced.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use deadpool_redis::redis;

use super::breaker::Transition;
use super::pending::Pending;
use super::{Inner, Invalidation};

impl Inner {
    /// Forgets what a committed write changed, here and in Redis; says
    /// whether Redis has it (false: queued, to be replayed).
    pub(super) async fn invalidate(self: &Arc<Self>, invalidation: Invalidation) -> bool {
        if self.undelivered.load(Ordering::SeqCst) {
            // Behind what is already waiting, in order.
            self.queue(invalidation);
            self.replay().await
        } else if self.deliver(&invalidation).await {
            true
        } else {
            self.queue(invalidation);
            false
        }
    }

    /// Deletes entries (and their leases) and advances generations; false
    /// when Redis could not be reached.
    async fn deliver(self: &Arc<Self>, invalidation: &Invalidation) -> bool {
        let pipeline = self.pipeline(&invalidation.keys, &invalidation.generations);
        self.attempt(async |conn| pipeline.query_async::<()>(conn).await)
            .await
            .is_some()
    }

    /// One round trip deleting entries with their leases and advancing
    /// generations.
    fn pipeline(&self, keys: &[String], generations: &[String]) -> redis::Pipeline {
        let mut pipeline = redis::pipe();
        for key in keys {
            let full = format!("{}{key}", self.prefix);
            pipeline
                .del(&full)
                .ignore()
                .del(format!("{full}:lease"))
                .ignore();
        }
        for name in generations {
            pipeline
                .incr(format!("{}gen:{name}", self.prefix), 1)
                .ignore();
        }
        pipeline
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn queue(&self, invalidation: Invalidation) {
        let mut pending = self.pending();
        pending.push(invalidation);
        self.undelivered.store(true, Ordering::SeqCst);
    }

    /// Delivers what is queued, one caller at a time; says whether all of
    /// it (as of the call) was delivered. Cancel-safe: the queue keeps
    /// everything until it has been delivered.
    pub(super) async fn replay(self: &Arc<Self>) -> bool {
        let Ok(_turn) = self.replaying.try_lock() else {
            return false;
        };
        let batch = {
            let pending = self.pending();
            if pending.is_empty() {
                self.undelivered.store(false, Ordering::SeqCst);
                return true;
            }
            pending.batch()
        };
        let Some(permit) = self.breaker.allow() else {
            return false;
        };
        let delivered = if batch.everything {
            self.forget_everything().await
        } else {
            let pipeline = self.pipeline(&batch.keys, &batch.generations);
            self.raw(async |conn| pipeline.query_async::<()>(conn).await)
                .await
                .is_ok()
        };
        if !delivered {
            self.failed(Some(permit), "replaying missed invalidations failed");
            return false;
        }
        if permit.success() == Transition::Recovered {
            tracing::info!("Redis answers again: the cache is back on");
        }
        let mut pending = self.pending();
        pending.delivered(&batch);
        self.undelivered
            .store(!pending.is_empty(), Ordering::SeqCst);
        tracing::info!("delivered the invalidations missed while Redis was away");
        true
    }

    /// Drops every entry of ours (after losing track of invalidations).
    async fn forget_everything(&self) -> bool {
        let pattern = format!("{}*", self.prefix);
        let mut cursor: u64 = 0;
        loop {
            let step: Result<(u64, Vec<String>), String> = self
                .raw(async |conn| {
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(1000)
                        .query_async(conn)
                        .await
                })
                .await;
            let Ok((next, keys)) = step else {
                return false;
            };
            if !keys.is_empty()
                && self
                    .raw(async |conn| {
                        redis::cmd("UNLINK")
                            .arg(&keys)
                            .query_async::<()>(conn)
                            .await
                    })
                    .await
                    .is_err()
            {
                return false;
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        tracing::warn!(
            "too many invalidations were missed while Redis was away: dropped every cache entry"
        );
        true
    }
}
