//! The Redis cache tier (built with `cache`): cache-aside with a TTL, done
//! the way it survives real traffic.
//!
//! - Entries carry the version of their shape ([`SCHEMA`]) inside the value,
//!   not in the key: while a rolling deploy runs two releases with different
//!   shapes, each reads the other's entries as misses (and refills them), and
//!   an invalidation from either release deletes the one key both read, so
//!   neither can serve what the other's write replaced. "Does not exist" is
//!   cached too, briefly.
//! - A miss is filled under a lease (`SET key:lease token NX PX`): one server
//!   refills while others wait briefly for it. A write deletes the entry and
//!   its lease after the transaction commits; a fill whose lease was deleted
//!   meanwhile is dropped (a Lua compare-and-set), so a slow reader can never
//!   put back the value the write just replaced.
//! - Within a process, concurrent misses for one key wait for the first.
//! - Hot entries are refreshed a little before they expire (XFetch), by one
//!   caller, while the others keep reading the current value.
//! - In front of Redis, a small near cache in each process ([`near`]) serves
//!   hot entries without a round trip. **Staleness bound**: on the server that
//!   wrote, the near entry is gone before the write returns; on any other
//!   server an old value is served for at most `near_ttl_ms` (1 s by default)
//!   after the write returned — invalidations are published to every server
//!   ([`subscriber`]), and the TTL covers a message lost or a subscription
//!   down (while it is down the near cache is not read at all).
//! - Every call has a short timeout; failures open a circuit breaker that
//!   leaves Redis alone for a while, then probes it. Reads fall back to the
//!   database; invalidations that could not be delivered are queued and
//!   replayed, and reads bypass the cache until they have been ([`delivery`]).
//!   Nothing answers 5xx because of the cache.
//! - Each account's session generation is kept here too, so an API token is
//!   checked with one `GET` instead of a database query, exactly: see
//!   [`Cache::session_generation`] and [`Cache::sessions_ended`].

mod breaker;
mod delivery;
mod envelope;
mod locks;
mod near;
mod pending;
mod subscriber;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deadpool_redis::redis::{self, AsyncCommands};
use rand::RngExt;
use serde::Serialize;
use serde::de::DeserializeOwned;

use breaker::{Breaker, Permit, Transition};
use envelope::{Envelope, now_ms};
use locks::{KeyLocks, Waiting};
use near::{Near, Ticket};
use pending::Pending;
use subscriber::Listener;

use crate::error::AppError;
use crate::report::{self, CacheOutcome};
use crate::settings::CacheSettings;

/// Bumped whenever a cached shape changes: entries of another version are
/// then read as misses. Keys carry no version (see the module's notes).
pub const SCHEMA: u32 = 2;

/// Every key and channel of the cache starts with this.
const PREFIX: &str = "million:";

/// Stores `ARGV[2]` under `KEYS[1]` for `ARGV[3]` ms only if this caller
/// still holds the lease `KEYS[2]` (`ARGV[1]`), then drops the lease.
const FILL_SCRIPT: &str = r"
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  redis.call('DEL', KEYS[2])
  return 1
end
return 0
";

pub use super::cache_common::{CacheCounters, Invalidation};

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    /// Hits answered by the near cache (counted in `hits` too).
    near_hits: AtomicU64,
    misses: AtomicU64,
    bypasses: AtomicU64,
    errors: AtomicU64,
    coalesced: AtomicU64,
    stale_sets_prevented: AtomicU64,
    early_refreshes: AtomicU64,
    /// Callers waiting for another server's refill right now.
    waiting_for_lease: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

struct Inner {
    pool: deadpool_redis::Pool,
    settings: CacheSettings,
    breaker: Breaker,
    locks: KeyLocks,
    counters: Counters,
    /// Invalidations not yet delivered to Redis.
    pending: Mutex<Pending>,
    /// Whether `pending` holds anything: reads bypass the cache meanwhile.
    undelivered: AtomicBool,
    /// Held by the one caller replaying `pending`.
    replaying: tokio::sync::Mutex<()>,
    near: Arc<Near>,
    /// The task listening for other servers' invalidations.
    listener: Option<tokio::task::AbortHandle>,
    /// This server, as invalidation messages name it.
    me: String,
    /// The pub/sub channel of invalidations.
    channel: String,
    prefix: String,
    /// The version of the shapes this release stores.
    schema: u32,
    fill: redis::Script,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(listener) = &self.listener {
            listener.abort();
        }
    }
}

/// The cache: Redis when configured, otherwise nothing.
#[derive(Clone, Default)]
pub struct Cache {
    inner: Option<Arc<Inner>>,
}

/// What a read of one key found.
enum Read<T> {
    /// The entry, and the size of what Redis held.
    Found(Envelope<T>, usize),
    Missing,
    /// Redis is unavailable: use the database.
    Unavailable,
}

/// Whether this caller may refill a key.
enum Lease {
    Granted(String),
    Held,
    Unavailable,
}

/// How a lookup uses the tier.
#[derive(Clone, Copy)]
struct Mode {
    /// Whether the near cache may answer (and keep what Redis answered).
    near: bool,
    /// Whether the outcome is the request's `X-Cache`.
    reported: bool,
}

impl Mode {
    /// What pages and the API show: near cache, reported.
    const SHARED: Self = Self {
        near: true,
        reported: true,
    };
    /// Checks that must be exact (session generations): Redis only, and not
    /// what `X-Cache` describes (the content).
    const EXACT: Self = Self {
        near: false,
        reported: false,
    };
}

/// The key of account `user`'s session generation.
fn session_key(user: i64) -> String {
    format!("session:{user}")
}

fn random_token() -> String {
    let mut rng = rand::rng();
    (0..16)
        .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
        .collect()
}

impl Cache {
    /// A cache on `settings.redis_url`, or none when it is empty. Connections
    /// are made lazily: Redis being down does not stop the app from starting.
    /// Called within a Tokio runtime, it also starts listening for other
    /// servers' invalidations (without one the near cache stays off).
    pub fn new(settings: &CacheSettings) -> anyhow::Result<Self> {
        Self::for_schema(settings, SCHEMA)
    }

    /// The cache as a release whose cached shapes are at version `schema`
    /// sees it: how two releases share one Redis during a rolling deploy
    /// (what the tests of mixed releases build).
    pub fn for_schema(settings: &CacheSettings, schema: u32) -> anyhow::Result<Self> {
        if !settings.enabled() {
            return Ok(Self::default());
        }
        let timeout = settings.timeout();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let pool = deadpool_redis::Config::from_url(settings.redis_url.clone())
            .builder()
            .map_err(|error| anyhow::anyhow!("cache.redis_url: {error}"))?
            .max_size(cores * 4)
            .runtime(deadpool_redis::Runtime::Tokio1)
            .wait_timeout(Some(timeout))
            .create_timeout(Some(timeout))
            .recycle_timeout(Some(timeout))
            .build()
            .map_err(|error| anyhow::anyhow!("building the Redis pool: {error}"))?;
        let prefix = PREFIX.to_string();
        let channel = format!("{prefix}invalidations");
        let me = random_token();
        let near = Arc::new(Near::new(
            Duration::from_millis(settings.near_ttl_ms),
            settings.near_capacity_kib.saturating_mul(1024),
        ));
        let listener = match tokio::runtime::Handle::try_current() {
            Ok(runtime) if near.enabled() => {
                let listener = Listener {
                    client: redis::Client::open(settings.redis_url.as_str())
                        .map_err(|error| anyhow::anyhow!("cache.redis_url: {error}"))?,
                    channel: channel.clone(),
                    me: me.clone(),
                    patience: timeout.max(Duration::from_secs(1)),
                    near: Arc::clone(&near),
                };
                Some(runtime.spawn(listener.run()).abort_handle())
            }
            _ => None,
        };
        Ok(Self {
            inner: Some(Arc::new(Inner {
                pool,
                // A probe reports within the call's time limit unless its
                // future was dropped (which releases it at once) or the
                // process stalls; twice the limit lets a probe that timed out
                // reopen the circuit before another is sent.
                breaker: Breaker::new(
                    settings.breaker_failures,
                    Duration::from_millis(settings.breaker_cooldown_ms),
                    timeout * 2,
                ),
                settings: settings.clone(),
                locks: KeyLocks::default(),
                counters: Counters::default(),
                pending: Mutex::new(Pending::default()),
                undelivered: AtomicBool::new(false),
                replaying: tokio::sync::Mutex::new(()),
                near,
                listener,
                me,
                channel,
                prefix,
                schema,
                fill: redis::Script::new(FILL_SCRIPT),
            })),
        })
    }

    /// Whether a cache tier is configured.
    pub fn enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// What the architecture page says about the cache tier.
    pub fn describe(&self) -> String {
        match &self.inner {
            None => "none".to_string(),
            Some(inner) => {
                let address = inner
                    .settings
                    .redis_url
                    .trim_start_matches("redis://")
                    .trim_start_matches("rediss://")
                    .rsplit('@')
                    .next()
                    .unwrap_or_default()
                    .trim_end_matches('/')
                    .to_string();
                if inner.breaker.is_open() {
                    format!("Redis {address} (unreachable: bypassed)")
                } else {
                    format!("Redis {address}")
                }
            }
        }
    }

    /// The value cached under `key`, or what `load` returns (cached for
    /// `ttl`; a `None` is cached as "does not exist" for the missing TTL).
    pub async fn get_or_load<T, F, Fut>(
        &self,
        key: &str,
        ttl: Duration,
        load: F,
    ) -> Result<Option<T>, AppError>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<T>, AppError>>,
    {
        match &self.inner {
            None => load().await,
            // A refill reads the primary: a lagging replica would put back
            // the value a write has just invalidated.
            // With the primary down, what the replicas show may lack its
            // last writes: serve what the cache holds, but fill nothing, so
            // that nothing read during the outage outlives it.
            Some(inner) if super::replicas_common::primary_down() => {
                let full = format!("{}{key}", inner.prefix);
                if let Read::Found(entry, _) = inner.read::<T>(&full).await {
                    return Ok(inner.hit(entry.value, Mode::SHARED));
                }
                bump(&inner.counters.bypasses);
                report::cache(CacheOutcome::Bypass);
                crate::db::reading_current(load()).await
            }
            Some(inner) => {
                let load = move || crate::db::reading_current(load());
                inner.lookup(key, ttl, Mode::SHARED, load).await
            }
        }
    }

    /// The current number of generation `name` (0 before the first bump), or
    /// `None` when Redis is unavailable.
    pub async fn generation(&self, name: &str) -> Option<u64> {
        let inner = self.inner.as_ref()?;
        let key = inner.generation_key(name);
        let ticket = if inner.near_usable() {
            if let Some(Some(generation)) = inner.near.get::<u64>(&key) {
                return Some(generation);
            }
            Some(inner.near.ticket(&key))
        } else {
            None
        };
        let value: Option<Option<u64>> = inner.call(async |conn| conn.get(&key).await).await;
        match value {
            Some(generation) => {
                let generation = generation.unwrap_or(0);
                if let Some(ticket) = ticket {
                    // Generations never expire in Redis.
                    let forever = Duration::from_secs(3600);
                    inner
                        .near
                        .offer(&key, &ticket, Some(generation), 8, forever);
                }
                Some(generation)
            }
            None => {
                bump(&inner.counters.bypasses);
                report::cache(CacheOutcome::Bypass);
                None
            }
        }
    }

    /// A counter shared by every app server, and how long its window has
    /// left; `None` when Redis is unavailable (the caller counts locally).
    pub async fn window_count(&self, key: &str) -> Option<(u64, Duration)> {
        let inner = self.inner.as_ref()?;
        let key = format!("{}{key}", inner.prefix);
        let (count, ttl_ms): (Option<u64>, i64) = inner
            .attempt(async |conn| redis::pipe().get(&key).pttl(&key).query_async(conn).await)
            .await?;
        Some((
            count.unwrap_or(0),
            Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(0)),
        ))
    }

    /// Adds one to the shared counter `key`, whose window of `window`
    /// starts with its first count; `None` when Redis is unavailable.
    pub async fn window_increment(&self, key: &str, window: Duration) -> Option<u64> {
        let inner = self.inner.as_ref()?;
        let key = format!("{}{key}", inner.prefix);
        let window_ms = window.as_millis().max(1) as u64;
        let (count,): (u64,) = inner
            .attempt(async |conn| {
                redis::pipe()
                    .incr(&key, 1)
                    .cmd("PEXPIRE")
                    .arg(&key)
                    .arg(window_ms)
                    .arg("NX")
                    .ignore()
                    .query_async(conn)
                    .await
            })
            .await?;
        Some(count)
    }

    /// Remembers, for `ttl`, the WAL position after `user`'s last write, so
    /// that their reads through any app server wait for a replica to have
    /// replayed it (read-your-writes for API clients, who carry no cookie).
    /// The stored position only ever grows: of two racing writes, the later
    /// position stays.
    pub async fn remember_write_position(&self, user: i64, position: u64, ttl: Duration) {
        let Some(inner) = &self.inner else {
            return;
        };
        let key = format!("{}rw:{user}", inner.prefix);
        // Fixed-width hexadecimal compares as text exactly as the numbers do.
        let value = format!("{position:016x}");
        let ttl_ms = ttl.as_millis().max(1) as u64;
        let script = redis::Script::new(
            "local current = redis.call('GET', KEYS[1]) \
             if (not current) or current < ARGV[1] then \
               redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) \
             else \
               redis.call('PEXPIRE', KEYS[1], ARGV[2]) \
             end \
             return 1",
        );
        let stored: Option<i64> = inner
            .attempt(async |conn| {
                script
                    .key(&key)
                    .arg(&value)
                    .arg(ttl_ms)
                    .invoke_async(conn)
                    .await
            })
            .await;
        if stored.is_none() {
            tracing::debug!("could not record user {user}'s write position");
        }
    }

    /// The WAL position after `user`'s last write, while remembered.
    pub async fn write_position(&self, user: i64) -> Option<u64> {
        let inner = self.inner.as_ref()?;
        let key = format!("{}rw:{user}", inner.prefix);
        let value: Option<String> = inner.attempt(async |conn| conn.get(&key).await).await?;
        u64::from_str_radix(&value?, 16).ok()
    }

    /// Forgets what a committed write changed. Call after the commit, never
    /// before: a read in between would cache the old value again.
    pub async fn invalidate(&self, invalidation: Invalidation) {
        let Some(inner) = &self.inner else {
            return;
        };
        if invalidation.keys.is_empty() && invalidation.generations.is_empty() {
            return;
        }
        inner.invalidate(invalidation).await;
    }

    /// The session generation of account `user` that its tokens must carry,
    /// or `None` when there is no such account; `load` reads it from the
    /// database, which Redis stands in front of for `session_ttl_secs`.
    ///
    /// Exact: never from the near cache, and filled under a lease like every
    /// entry, so a read of the old generation cannot be put back after
    /// [`Cache::sessions_ended`] deleted it. With Redis unavailable, or
    /// invalidations waiting for it, `load` answers.
    pub async fn session_generation<F, Fut>(
        &self,
        user: i64,
        load: F,
    ) -> Result<Option<i32>, AppError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<i32>, AppError>>,
    {
        let Some(inner) = &self.inner else {
            return load().await;
        };
        if super::replicas_common::primary_down() {
            // Read from a replica during an outage: never kept.
            return crate::db::reading_current(load()).await;
        }
        let ttl = Duration::from_secs(inner.settings.session_ttl_secs);
        let load = move || crate::db::reading_current(load());
        inner
            .lookup(&session_key(user), ttl, Mode::EXACT, load)
            .await
    }

    /// Call after a committed change of `user`'s session generation (signing
    /// out everywhere, a new password, deleting the account), before
    /// answering: deletes the generation Redis holds, so every server reads
    /// the new one from the database next. If Redis cannot be told, waits
    /// until every copy of the old generation has expired there
    /// (`session_ttl_secs` plus `lease_ms`, the longest a fill under a lease
    /// taken before the change can land): once this returns, no server
    /// accepts an ended token.
    pub async fn sessions_ended(&self, user: i64) {
        let Some(inner) = &self.inner else {
            return;
        };
        let invalidation = Invalidation {
            keys: vec![session_key(user)],
            generations: Vec::new(),
        };
        if inner.invalidate(invalidation).await {
            return;
        }
        let expired = Duration::from_secs(inner.settings.session_ttl_secs)
            + Duration::from_millis(inner.settings.lease_ms);
        tracing::warn!(
            "Redis did not hear that account {user}'s sessions ended: waiting {} ms for its copy to expire",
            expired.as_millis()
        );
        tokio::time::sleep(expired).await;
    }

    /// Counters for `/metrics`.
    pub fn counters(&self) -> CacheCounters {
        let Some(inner) = &self.inner else {
            return CacheCounters::default();
        };
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let counters = &inner.counters;
        let (near_entries, near_bytes) = inner.near.size();
        CacheCounters {
            hits: read(&counters.hits),
            near_hits: read(&counters.near_hits),
            misses: read(&counters.misses),
            bypasses: read(&counters.bypasses),
            errors: read(&counters.errors),
            coalesced: read(&counters.coalesced),
            stale_sets_prevented: read(&counters.stale_sets_prevented),
            early_refreshes: read(&counters.early_refreshes),
            waiting: read(&counters.waiting_for_lease) + inner.locks.waiting(),
            near_entries,
            near_bytes,
            near_subscribed: inner.near.subscribed(),
            circuit_open: inner.breaker.is_open(),
        }
    }
}

/// Keeps what Redis answered in the near cache, when the lookup may.
struct Keep<'a> {
    near: &'a Near,
    key: &'a str,
    ticket: Option<Ticket>,
}

impl Keep<'_> {
    fn entry<T: Clone + Send + Sync + 'static>(&self, entry: &Envelope<T>, size: usize) {
        let Some(ticket) = &self.ticket else {
            return;
        };
        let expires_in = Duration::from_millis(entry.expires_at_ms.saturating_sub(now_ms()));
        self.near
            .offer(self.key, ticket, entry.value.clone(), size, expires_in);
    }
}

impl Inner {
    fn generation_key(&self, name: &str) -> String {
        format!("{}gen:{name}", self.prefix)
    }

    /// Whether the near cache may be read: other servers' invalidations
    /// reach this one, none of this one's wait for Redis, and Redis answers.
    fn near_usable(&self) -> bool {
        self.near.enabled()
            && self.near.subscribed()
            && !self.undelivered.load(Ordering::SeqCst)
            && !self.breaker.is_open()
    }

    /// [`Cache::get_or_load`], and the exact lookups.
    async fn lookup<T, F, Fut>(
        self: &Arc<Self>,
        key: &str,
        ttl: Duration,
        mode: Mode,
        load: F,
    ) -> Result<Option<T>, AppError>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<T>, AppError>>,
    {
        let key = format!("{}{key}", self.prefix);
        let ticket = if mode.near && self.near_usable() {
            if let Some(value) = self.near.get::<T>(&key) {
                bump(&self.counters.near_hits);
                return Ok(self.hit(value, mode));
            }
            // Taken before Redis is read: the value is kept only if no
            // invalidation of the key comes meanwhile.
            Some(self.near.ticket(&key))
        } else {
            None
        };
        let keep = Keep {
            near: &self.near,
            key: &key,
            ticket,
        };
        match self.read::<T>(&key).await {
            Read::Unavailable => return self.bypass(load, mode).await,
            Read::Found(entry, size) => {
                let random: f64 = rand::rng().random_range(f64::EPSILON..=1.0);
                if !entry.should_refresh(now_ms(), self.settings.early_refresh_beta, random) {
                    keep.entry(&entry, size);
                    return Ok(self.hit(entry.value, mode));
                }
                // Refresh early, if nobody else is already doing it.
                let Lease::Granted(token) = self.lease(&key).await else {
                    keep.entry(&entry, size);
                    return Ok(self.hit(entry.value, mode));
                };
                bump(&self.counters.early_refreshes);
                return match self.load_and_fill(&token, ttl, load, &keep).await {
                    Ok(value) => {
                        self.missed(mode);
                        Ok(value)
                    }
                    // The entry has not expired: a failed refresh must not
                    // turn a hit into an error. Its lease is left to expire,
                    // so a failing database sees one refresh per lease, not
                    // one per hit.
                    Err(error) => {
                        tracing::warn!(
                            error = ?error,
                            "refreshing {key} early failed: serving the cached value"
                        );
                        Ok(self.hit(entry.value, mode))
                    }
                };
            }
            Read::Missing => {}
        }
        let (_guard, waited) = self.locks.lock(&key).await;
        if waited {
            // Another task of this process just filled it, most likely.
            match self.read::<T>(&key).await {
                Read::Found(entry, size) => {
                    bump(&self.counters.coalesced);
                    keep.entry(&entry, size);
                    return Ok(self.hit(entry.value, mode));
                }
                Read::Unavailable => return self.bypass(load, mode).await,
                Read::Missing => {}
            }
        }
        match self.lease(&key).await {
            Lease::Granted(token) => {
                self.missed(mode);
                self.load_and_fill(&token, ttl, load, &keep).await
            }
            Lease::Unavailable => self.bypass(load, mode).await,
            // Another server is refilling: wait briefly for it.
            Lease::Held => match self.wait_for_fill::<T>(&key).await {
                Read::Found(entry, size) => {
                    bump(&self.counters.coalesced);
                    keep.entry(&entry, size);
                    Ok(self.hit(entry.value, mode))
                }
                Read::Unavailable => self.bypass(load, mode).await,
                Read::Missing => {
                    self.missed(mode);
                    load().await
                }
            },
        }
    }

    /// Runs one Redis call with the time limit, without the breaker.
    async fn raw<T>(
        &self,
        work: impl AsyncFnOnce(&mut deadpool_redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, String> {
        let attempt = tokio::time::timeout(self.settings.timeout(), async {
            let mut conn = self.pool.get().await.map_err(|error| error.to_string())?;
            work(&mut conn).await.map_err(|error| error.to_string())
        })
        .await;
        attempt.unwrap_or_else(|_| Err("timed out".to_string()))
    }

    /// Runs one Redis call with the time limit and the breaker; `None` when
    /// Redis is unavailable.
    async fn attempt<T>(
        self: &Arc<Self>,
        work: impl AsyncFnOnce(&mut deadpool_redis::Connection) -> redis::RedisResult<T>,
    ) -> Option<T> {
        // Held across the call: if this future is dropped mid-probe, the
        // permit's drop hands the probe to the next caller.
        let permit = self.breaker.allow()?;
        match self.raw(work).await {
            Ok(value) => {
                if permit.success() == Transition::Recovered {
                    tracing::info!("Redis answers again: the cache is back on");
                }
                Some(value)
            }
            Err(error) => {
                self.failed(Some(permit), &error);
                None
            }
        }
    }

    /// A call that reads (or fills) the cache: `None` while invalidations
    /// wait to be delivered, since Redis may still hold what they replace —
    /// this caller delivers them if nobody else is, and uses the database.
    async fn call<T>(
        self: &Arc<Self>,
        work: impl AsyncFnOnce(&mut deadpool_redis::Connection) -> redis::RedisResult<T>,
    ) -> Option<T> {
        if self.undelivered.load(Ordering::SeqCst) {
            self.replay().await;
            return None;
        }
        self.attempt(work).await
    }

    /// Counts a failed call (`permit` its leave, if it had one).
    fn failed(&self, permit: Option<Permit<'_>>, error: &str) {
        bump(&self.counters.errors);
        let transition = match permit {
            Some(permit) => permit.failure(),
            None => self.breaker.failure(),
        };
        if transition == Transition::Opened {
            tracing::warn!(
                "Redis is unavailable ({error}): reading from the database without the cache for {} ms",
                self.settings.breaker_cooldown_ms
            );
        }
    }

    async fn read<T: DeserializeOwned>(self: &Arc<Self>, key: &str) -> Read<T> {
        let raw: Option<Option<String>> = self.call(async |conn| conn.get(key).await).await;
        match raw {
            None => Read::Unavailable,
            Some(None) => Read::Missing,
            // An entry of another release's shape, or one that no longer
            // parses, is as good as missing.
            Some(Some(text)) => match serde_json::from_str::<Envelope<T>>(&text) {
                Ok(entry) if entry.schema == self.schema => Read::Found(entry, text.len()),
                _ => Read::Missing,
            },
        }
    }

    async fn lease(self: &Arc<Self>, key: &str) -> Lease {
        let token = random_token();
        let lease_key = format!("{key}:lease");
        let lease_ms = self.settings.lease_ms;
        let granted: Option<bool> = self
            .call(async |conn| {
                let reply: Option<String> = redis::cmd("SET")
                    .arg(&lease_key)
                    .arg(&token)
                    .arg("NX")
                    .arg("PX")
                    .arg(lease_ms)
                    .query_async(conn)
                    .await?;
                Ok(reply.is_some())
            })
            .await;
        match granted {
            Some(true) => Lease::Granted(token),
            Some(false) => Lease::Held,
            None => Lease::Unavailable,
        }
    }

    /// Reads `key` until another server fills it, for up to `lease_wait_ms`;
    /// `Missing` when it was not filled in time.
    async fn wait_for_fill<T: DeserializeOwned>(self: &Arc<Self>, key: &str) -> Read<T> {
        let _waiting = Waiting::on(&self.counters.waiting_for_lease);
        let deadline = Instant::now() + Duration::from_millis(self.settings.lease_wait_ms);
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
            match self.read::<T>(key).await {
                Read::Missing => {}
                found_or_unavailable => return found_or_unavailable,
            }
        }
        Read::Missing
    }

    fn hit<T>(&self, value: Option<T>, mode: Mode) -> Option<T> {
        bump(&self.counters.hits);
        if mode.reported {
            report::cache(CacheOutcome::Hit);
        }
        value
    }

    /// Counts a read the cache could not answer.
    fn missed(&self, mode: Mode) {
        bump(&self.counters.misses);
        if mode.reported {
            report::cache(CacheOutcome::Miss);
        }
    }

    async fn bypass<T, F, Fut>(&self, load: F, mode: Mode) -> Result<Option<T>, AppError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<T>, AppError>>,
    {
        bump(&self.counters.bypasses);
        if mode.reported {
            report::cache(CacheOutcome::Bypass);
        }
        load().await
    }

    /// Loads the value and stores it if this caller still holds the lease
    /// `token` (keeping it near too, when `keep` may); the caller counts the
    /// miss.
    async fn load_and_fill<T, F, Fut>(
        self: &Arc<Self>,
        token: &str,
        ttl: Duration,
        load: F,
        keep: &Keep<'_>,
    ) -> Result<Option<T>, AppError>
    where
        T: Serialize + Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<T>, AppError>>,
    {
        let key = keep.key;
        let started = Instant::now();
        let value = load().await?;
        let ttl = if value.is_some() {
            ttl
        } else {
            Duration::from_secs(self.settings.missing_ttl_secs)
        };
        let entry = Envelope {
            schema: self.schema,
            value,
            delta_ms: started.elapsed().as_millis() as u64,
            expires_at_ms: now_ms() + ttl.as_millis() as u64,
        };
        if let Ok(payload) = serde_json::to_string(&entry) {
            let lease_key = format!("{key}:lease");
            let stored: Option<i64> = self
                .call(async |conn| {
                    self.fill
                        .key(key)
                        .key(&lease_key)
                        .arg(token)
                        .arg(&payload)
                        .arg(ttl.as_millis() as u64)
                        .invoke_async(conn)
                        .await
                })
                .await;
            match stored {
                Some(1) => keep.entry(&entry, payload.len()),
                // A write invalidated the entry while we were reading it.
                Some(0) => bump(&self.counters.stale_sets_prevented),
                _ => {}
            }
        }
        Ok(entry.value)
    }
}
