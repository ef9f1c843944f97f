//! What both forms of the cache tier share: the shape of an invalidation and
//! the counters `/metrics` reports.

/// What to forget after a write.
#[derive(Debug, Default)]
pub struct Invalidation {
    /// Entries to delete.
    pub keys: Vec<String>,
    /// Generations to advance (every entry keyed under them is orphaned).
    pub generations: Vec<String>,
}

/// Cache counters for `/metrics`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CacheCounters {
    pub hits: u64,
    /// Hits answered by this process's near cache (counted in `hits` too).
    pub near_hits: u64,
    pub misses: u64,
    pub bypasses: u64,
    pub errors: u64,
    pub coalesced: u64,
    pub stale_sets_prevented: u64,
    pub early_refreshes: u64,
    /// Reads waiting right now for another caller's refill (a gauge).
    pub waiting: u64,
    /// Entries in the near cache, and what they weigh in bytes (gauges).
    pub near_entries: u64,
    pub near_bytes: u64,
    /// Whether this process hears other servers' invalidations (the near
    /// cache is off while it does not).
    pub near_subscribed: bool,
    pub circuit_open: bool,
}
