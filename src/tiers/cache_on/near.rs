//! The near cache: a small in-process map in front of Redis, so a hot read
//! costs neither a round trip nor a parse.
//!
//! - **Bounded**: entries are weighed by the size of what Redis held for
//!   them, and the map keeps under `near_capacity_kib` (moka: TinyLFU
//!   admission, LRU eviction).
//! - **Short-lived**: an entry is served for at most `near_ttl_ms` after the
//!   Redis read that produced it *began*, and never past the Redis entry's own
//!   expiry. A write's invalidation reaches Redis before the write returns, so
//!   a read begun after that cannot bring the old value back: another server
//!   serves an old value for at most `near_ttl_ms` after a write returned,
//!   even if it never hears of the write.
//! - **Told of writes**: this server's invalidations evict here at once; other
//!   servers' arrive by pub/sub ([`super::subscriber`]).
//! - **No stale fills**: a reader takes a [`Ticket`] before reading Redis and
//!   its value goes in only if no invalidation of that key (nor a reset of the
//!   whole map) happened meanwhile; the check and the insert are atomic with
//!   respect to invalidations.

use std::any::Any;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::sync::Cache as Map;

/// Invalidation counters, by key hash: more stripes, fewer fills dropped
/// because an unrelated key was invalidated meanwhile.
const STRIPES: usize = 1024;
/// What an entry costs beyond its key and payload (map node, `Arc`, value).
const ENTRY_OVERHEAD: usize = 128;

#[derive(Clone)]
struct Entry {
    /// An `Option<T>` for the `T` its key holds.
    value: Arc<dyn Any + Send + Sync>,
    valid_until: Instant,
    weight: u32,
}

/// Each entry expires at its own `valid_until`.
struct UntilValid;

impl Expiry<String, Entry> for UntilValid {
    fn expire_after_create(&self, _: &String, entry: &Entry, now: Instant) -> Option<Duration> {
        Some(entry.valid_until.saturating_duration_since(now))
    }

    fn expire_after_update(
        &self,
        _: &String,
        entry: &Entry,
        now: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.valid_until.saturating_duration_since(now))
    }
}

/// How many invalidations each stripe of keys has seen, and how many times
/// the whole map was reset.
struct Sequences {
    stripes: Vec<u64>,
    resets: u64,
}

/// Taken before reading a value that may be kept here.
pub struct Ticket {
    stripe: usize,
    seen: u64,
    resets: u64,
    taken: Instant,
}

/// The near cache (none when its TTL or capacity is zero).
pub struct Near {
    map: Option<Map<String, Entry>>,
    ttl: Duration,
    sequences: Mutex<Sequences>,
    /// Whether this server hears other servers' invalidations right now.
    subscribed: AtomicBool,
}

fn stripe(key: &str) -> usize {
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    (hasher.finish() % STRIPES as u64) as usize
}

impl Near {
    /// Entries live at most `ttl`; all of them weigh at most `capacity_bytes`.
    pub fn new(ttl: Duration, capacity_bytes: u64) -> Self {
        let map = (!ttl.is_zero() && capacity_bytes > 0).then(|| {
            Map::builder()
                .max_capacity(capacity_bytes)
                .weigher(|_, entry: &Entry| entry.weight)
                .expire_after(UntilValid)
                .build()
        });
        Self {
            map,
            ttl,
            sequences: Mutex::new(Sequences {
                stripes: vec![0; STRIPES],
                resets: 0,
            }),
            subscribed: AtomicBool::new(false),
        }
    }

    /// Whether there is a near cache at all.
    pub fn enabled(&self) -> bool {
        self.map.is_some()
    }

    fn sequences(&self) -> MutexGuard<'_, Sequences> {
        self.sequences
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The value held for `key`, if one is held and still valid.
    pub fn get<T: Clone + 'static>(&self, key: &str) -> Option<Option<T>> {
        let entry = self.map.as_ref()?.get(key)?;
        if entry.valid_until <= Instant::now() {
            return None;
        }
        entry.value.downcast_ref::<Option<T>>().cloned()
    }

    /// Taken before reading `key` from Redis (or the database).
    pub fn ticket(&self, key: &str) -> Ticket {
        let stripe = stripe(key);
        let sequences = self.sequences();
        Ticket {
            stripe,
            seen: sequences.stripes[stripe],
            resets: sequences.resets,
            taken: Instant::now(),
        }
    }

    /// Keeps `value` (`weight` bytes in Redis, which expires it in
    /// `expires_in`) under `key`, unless an invalidation came since `ticket`.
    pub fn offer<T: Send + Sync + 'static>(
        &self,
        key: &str,
        ticket: &Ticket,
        value: Option<T>,
        weight: usize,
        expires_in: Duration,
    ) {
        let Some(map) = &self.map else {
            return;
        };
        let valid_until = (ticket.taken + self.ttl).min(Instant::now() + expires_in);
        let weight = u32::try_from(key.len() + weight + ENTRY_OVERHEAD).unwrap_or(u32::MAX);
        let sequences = self.sequences();
        if sequences.stripes[ticket.stripe] != ticket.seen || sequences.resets != ticket.resets {
            return;
        }
        map.insert(
            key.to_string(),
            Entry {
                value: Arc::new(value),
                valid_until,
                weight,
            },
        );
    }

    /// Drops `key` and any fill of it in flight.
    pub fn forget(&self, key: &str) {
        let Some(map) = &self.map else {
            return;
        };
        let mut sequences = self.sequences();
        sequences.stripes[stripe(key)] += 1;
        map.invalidate(key);
    }

    /// Drops everything, and every fill in flight.
    pub fn forget_all(&self) {
        let Some(map) = &self.map else {
            return;
        };
        let mut sequences = self.sequences();
        sequences.resets += 1;
        map.invalidate_all();
    }

    /// Records whether other servers' invalidations reach this one. Either
    /// way everything held is dropped: while unsubscribed some may have been
    /// missed, and the map is not read.
    pub fn set_subscribed(&self, subscribed: bool) {
        self.forget_all();
        self.subscribed.store(subscribed, Ordering::SeqCst);
    }

    /// Whether other servers' invalidations reach this one.
    pub fn subscribed(&self) -> bool {
        self.subscribed.load(Ordering::SeqCst)
    }

    /// Entries held and their weight in bytes (after pending evictions).
    pub fn size(&self) -> (u64, u64) {
        let Some(map) = &self.map else {
            return (0, 0);
        };
        map.run_pending_tasks();
        (map.entry_count(), map.weighted_size())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAR: Duration = Duration::from_secs(600);

    fn near() -> Near {
        Near::new(Duration::from_secs(60), 1 << 20)
    }

    #[test]
    fn a_value_offered_is_served_until_forgotten() {
        let near = near();
        let ticket = near.ticket("k");
        near.offer("k", &ticket, Some("v".to_string()), 10, FAR);
        assert_eq!(near.get::<String>("k"), Some(Some("v".to_string())));
        near.forget("k");
        assert_eq!(near.get::<String>("k"), None);
    }

    #[test]
    fn missing_things_are_held_too() {
        let near = near();
        let ticket = near.ticket("k");
        near.offer::<String>("k", &ticket, None, 10, FAR);
        assert_eq!(near.get::<String>("k"), Some(None));
    }

    #[test]
    fn a_fill_that_raced_an_invalidation_is_dropped() {
        let near = near();
        let ticket = near.ticket("k");
        near.forget("k");
        near.offer("k", &ticket, Some(1u32), 10, FAR);
        assert_eq!(near.get::<u32>("k"), None);

        let ticket = near.ticket("k");
        near.forget_all();
        near.offer("k", &ticket, Some(1u32), 10, FAR);
        assert_eq!(near.get::<u32>("k"), None, "a reset drops fills in flight");

        let ticket = near.ticket("k");
        near.offer("k", &ticket, Some(2u32), 10, FAR);
        assert_eq!(near.get::<u32>("k"), Some(Some(2)));
    }

    #[test]
    fn entries_expire_with_the_redis_entry_or_the_ttl_whichever_is_first() {
        let near = Near::new(Duration::from_secs(60), 1 << 20);
        let ticket = near.ticket("redis-expires");
        near.offer("redis-expires", &ticket, Some(1u8), 1, Duration::ZERO);
        assert_eq!(near.get::<u8>("redis-expires"), None);

        let short = Near::new(Duration::from_nanos(1), 1 << 20);
        let ticket = short.ticket("ttl");
        while Instant::now() <= ticket.taken + short.ttl {}
        short.offer("ttl", &ticket, Some(1u8), 1, FAR);
        assert_eq!(
            short.get::<u8>("ttl"),
            None,
            "the TTL counts from the ticket, not the insert"
        );
    }

    #[test]
    fn a_zero_ttl_or_capacity_turns_it_off() {
        for near in [Near::new(Duration::ZERO, 1 << 20), Near::new(FAR, 0)] {
            assert!(!near.enabled());
            let ticket = near.ticket("k");
            near.offer("k", &ticket, Some(1u8), 1, FAR);
            assert_eq!(near.get::<u8>("k"), None);
        }
    }

    #[test]
    fn the_weight_stays_under_the_capacity() {
        let capacity = 16 * 1024;
        let near = Near::new(FAR, capacity);
        for n in 0..200 {
            let key = format!("key:{n}");
            let ticket = near.ticket(&key);
            near.offer(&key, &ticket, Some(vec![0u8; 1000]), 1000, FAR);
        }
        let (entries, bytes) = near.size();
        assert!(bytes <= capacity, "{bytes} bytes held");
        assert!(entries > 0 && entries < 200, "{entries} entries held");
    }
}
