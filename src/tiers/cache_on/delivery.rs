//! Getting invalidations to Redis and to the other servers: one round trip
//! deletes the entries (with their leases), advances generations and
//! publishes what every near cache must drop. What cannot be delivered is
//! queued; until the queue has been delivered, reads bypass the cache (both
//! Redis and the near cache), because Redis may still hold entries those
//! writes replaced.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use deadpool_redis::redis;

use super::breaker::Transition;
use super::pending::{Batch, Pending};
use super::subscriber::Message;
use super::{Inner, Invalidation};

impl Inner {
    /// Forgets what a committed write changed, here and in Redis; says
    /// whether Redis has it (false: queued, to be replayed).
    pub(super) async fn invalidate(self: &Arc<Self>, invalidation: Invalidation) -> bool {
        let near_keys = self.near_keys(&invalidation.keys, &invalidation.generations);
        for key in &near_keys {
            self.near.forget(key);
        }
        let delivered = if self.undelivered.load(Ordering::SeqCst) {
            // Behind what is already waiting, in order.
            self.queue(invalidation);
            self.replay().await
        } else if self.deliver(&invalidation).await {
            true
        } else {
            self.queue(invalidation);
            false
        };
        // A read here that fetched the old value from Redis before it was
        // deleted there may have kept it since the first eviction.
        for key in &near_keys {
            self.near.forget(key);
        }
        delivered
    }

    /// The near-cache keys an invalidation drops: its entries and the
    /// generations it advances.
    fn near_keys(&self, keys: &[String], generations: &[String]) -> Vec<String> {
        keys.iter()
            .map(|key| format!("{}{key}", self.prefix))
            .chain(generations.iter().map(|name| self.generation_key(name)))
            .collect()
    }

    /// Deletes entries (and their leases), advances generations and tells
    /// the other servers; false when Redis could not be reached.
    async fn deliver(self: &Arc<Self>, invalidation: &Invalidation) -> bool {
        let pipeline = self.pipeline(&invalidation.keys, &invalidation.generations);
        self.attempt(async |conn| pipeline.query_async::<()>(conn).await)
            .await
            .is_some()
    }

    /// One round trip deleting entries with their leases, advancing
    /// generations and publishing the near-cache keys to drop.
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
            pipeline.incr(self.generation_key(name), 1).ignore();
        }
        let message = Message {
            from: self.me.clone(),
            forget: self.near_keys(keys, generations),
            all: false,
        };
        pipeline.publish(&self.channel, message.encode()).ignore();
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
            self.forget_everything(&batch).await
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

    /// Drops every entry of ours (after losing track of invalidations), and
    /// tells every server to empty its near cache.
    async fn forget_everything(&self, batch: &Batch) -> bool {
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
        let message = Message {
            from: self.me.clone(),
            forget: self.near_keys(&batch.keys, &batch.generations),
            all: true,
        };
        if self
            .raw(async |conn| {
                redis::cmd("PUBLISH")
                    .arg(&self.channel)
                    .arg(message.encode())
                    .query_async::<()>(conn)
                    .await
            })
            .await
            .is_err()
        {
            return false;
        }
        self.near.forget_all();
        tracing::warn!(
            "too many invalidations were missed while Redis was away: dropped every cache entry"
        );
        true
    }
}
