//! PostgreSQL read replicas: reads spread across the replicas that are fit,
//! with read-your-writes, and the primary whenever none will do.
//!
//! - A background task ([`monitor`]) checks every replica's replay position
//!   about once a second. A replica further behind than the lag bounds, or
//!   not answering, leaves rotation until it catches up.
//! - A read that must see its author's last write (a WAL position, see
//!   [`crate::report::read_after`]) goes only to a replica that has replayed
//!   past it; the position a replica was last seen at only grows, so that
//!   check is never wrong in the unsafe direction.
//! - Getting a replica connection has a short timeout; a replica that fails
//!   it leaves rotation at once and the read goes to the primary.
//! - Replica connections are read-only (`default_transaction_read_only`), on
//!   top of the replica refusing writes itself.

mod monitor;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use anyhow::Context;

use crate::db::connect::Target;
use crate::db::{PgPool, PooledConnection};
use crate::settings::{DatabaseSettings, ReplicaSettings};

pub use super::replicas_common::{NodeStatus, ReplicaCounters};

/// How far past the furthest position seen a position may be and still be
/// believed: a second of heavy writing.
const PLAUSIBLE_AHEAD: u64 = 256 * 1024 * 1024;

/// How to reach the server at `host` (the primary's own address when
/// `None`) with the primary's database, user, password and TLS, outside any
/// pool.
fn check_target(primary: &Target, host: Option<(&str, u16)>, settings: &ReplicaSettings) -> Target {
    let mut target = match host {
        Some((name, port)) => primary.at(name, port),
        None => primary.clone(),
    };
    target
        .config_mut()
        .connect_timeout(settings.check_interval())
        .application_name("million replica monitor");
    target
}

/// The read replicas of one primary.
#[derive(Clone, Default)]
pub struct Replicas {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    nodes: Vec<Node>,
    next: AtomicUsize,
    settings: ReplicaSettings,
    fallbacks: AtomicU64,
    read_your_writes: AtomicU64,
    primary_reads: AtomicU64,
    /// The primary failed its last checks.
    primary_down: AtomicBool,
    /// Where the monitor reaches the primary, outside the request pool.
    primary_check: Target,
    /// The furthest WAL position the primary was seen at.
    head: AtomicU64,
}

/// One replica and what its last check found.
struct Node {
    name: Arc<str>,
    address: String,
    pool: PgPool,
    /// Where the monitor connects: the same server, outside the pool.
    check: Target,
    reachable: AtomicBool,
    in_rotation: AtomicBool,
    paused: AtomicBool,
    /// The WAL position replayed at the last check (only grows).
    replayed: AtomicU64,
    lag_bytes: AtomicU64,
    lag_ms: AtomicU64,
    reads: AtomicU64,
}

impl Replicas {
    /// The replicas `settings` name, reached with the primary's database,
    /// user and password. Connections are opened lazily.
    pub fn new(
        settings: &ReplicaSettings,
        database: &DatabaseSettings,
        primary_conninfo: &str,
        instance: &str,
    ) -> anyhow::Result<Self> {
        if !settings.enabled() {
            return Ok(Self::default());
        }
        let primary = Target::parse(primary_conninfo)?;
        let mut nodes = Vec::new();
        for (index, host) in settings.hosts.iter().enumerate() {
            let (name, port) = host
                .rsplit_once(':')
                .and_then(|(name, port)| Some((name, port.parse::<u16>().ok()?)))
                .with_context(|| format!("replicas.hosts: `{host}` is not host:port"))?;
            let check = check_target(&primary, Some((name, port)), settings);
            let pool = crate::db::pool::build_read_only(
                primary.at(name, port),
                database,
                settings.acquire_timeout(),
                instance,
            )?;
            nodes.push(Node {
                name: Arc::from(format!("replica-{}", index + 1)),
                address: host.clone(),
                pool,
                check,
                reachable: AtomicBool::new(false),
                in_rotation: AtomicBool::new(false),
                paused: AtomicBool::new(false),
                replayed: AtomicU64::new(0),
                lag_bytes: AtomicU64::new(0),
                lag_ms: AtomicU64::new(0),
                reads: AtomicU64::new(0),
            });
        }
        Ok(Self {
            inner: Some(Arc::new(Inner {
                nodes,
                next: AtomicUsize::new(0),
                settings: settings.clone(),
                fallbacks: AtomicU64::new(0),
                read_your_writes: AtomicU64::new(0),
                primary_reads: AtomicU64::new(0),
                primary_down: AtomicBool::new(false),
                primary_check: check_target(&primary, None, settings),
                head: AtomicU64::new(0),
            })),
        })
    }

    /// Whether any replica is configured.
    pub fn enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Starts checking the primary and the replicas, once now and then
    /// every `replicas.check_interval_ms`, for as long as the process runs.
    pub fn start_monitor(&self) {
        if let Some(inner) = &self.inner {
            monitor::start(Arc::clone(inner));
        }
    }

    /// Whether `position` is one the primary could have handed out: at most
    /// a little past the furthest position seen (its WAL moves on between
    /// checks). A larger one, from a forged header or cookie, would send
    /// every read of its bearer to the primary; it is ignored instead.
    pub fn plausible(&self, position: u64) -> bool {
        let Some(inner) = &self.inner else {
            return false;
        };
        let head = inner.head.load(Ordering::Relaxed);
        head == 0 || position <= head.saturating_add(PLAUSIBLE_AHEAD)
    }

    /// A position past any write so far (the furthest seen, plus the most
    /// that is believed): for when a write's own position cannot be read.
    pub fn conservative_position(&self) -> u64 {
        self.inner.as_ref().map_or(0, |inner| {
            inner
                .head
                .load(Ordering::Relaxed)
                .saturating_add(PLAUSIBLE_AHEAD)
        })
    }

    /// A replica connection for a read that must see everything the primary
    /// was last seen to have, while the primary is down.
    pub async fn checkout_current(&self) -> Option<(PooledConnection, Arc<str>)> {
        let inner = self.inner.as_ref()?;
        let head = inner.head.load(Ordering::Relaxed);
        self.checkout(Some(head.max(1))).await
    }

    /// A connection to a replica fit for a read that must see WAL position
    /// `read_after`, with the replica's name; `None` sends the read to the
    /// primary.
    pub async fn checkout(&self, read_after: Option<u64>) -> Option<(PooledConnection, Arc<str>)> {
        let inner = self.inner.as_ref()?;
        let count = inner.nodes.len();
        let start = inner.next.fetch_add(1, Ordering::Relaxed);
        let mut any_fit = false;
        for offset in 0..count {
            let node = &inner.nodes[(start + offset) % count];
            if !node.in_rotation.load(Ordering::Relaxed) {
                continue;
            }
            any_fit = true;
            if read_after.is_some_and(|lsn| node.replayed.load(Ordering::Relaxed) < lsn) {
                continue;
            }
            match node.pool.get().await {
                Ok(connection) => {
                    node.reads.fetch_add(1, Ordering::Relaxed);
                    return Some((connection, Arc::clone(&node.name)));
                }
                // Busy, not broken: this read goes elsewhere, the replica stays.
                Err(deadpool::managed::PoolError::Timeout(
                    deadpool::managed::TimeoutType::Wait,
                )) => {}
                Err(error) => {
                    // Out until the monitor finds it answering again.
                    if node.in_rotation.swap(false, Ordering::Relaxed) {
                        tracing::warn!(
                            "{} ({}) left rotation: no connection in time ({error})",
                            node.name,
                            node.address
                        );
                    }
                }
            }
        }
        if any_fit && read_after.is_some() {
            inner.read_your_writes.fetch_add(1, Ordering::Relaxed);
        } else {
            inner.fallbacks.fetch_add(1, Ordering::Relaxed);
        }
        inner.primary_reads.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// Whether the primary failed its last check while a replica is still
    /// in rotation: the site can read, but not write.
    pub fn primary_down(&self) -> bool {
        self.inner.as_ref().is_some_and(|inner| {
            inner.primary_down.load(Ordering::Relaxed)
                && inner
                    .nodes
                    .iter()
                    .any(|node| node.in_rotation.load(Ordering::Relaxed))
        })
    }

    /// Every replica as its last check found it.
    pub fn nodes(&self) -> Vec<NodeStatus> {
        let Some(inner) = &self.inner else {
            return Vec::new();
        };
        inner
            .nodes
            .iter()
            .map(|node| NodeStatus {
                name: node.name.to_string(),
                address: node.address.clone(),
                reachable: node.reachable.load(Ordering::Relaxed),
                in_rotation: node.in_rotation.load(Ordering::Relaxed),
                paused: node.paused.load(Ordering::Relaxed),
                lag_bytes: node.lag_bytes.load(Ordering::Relaxed),
                lag_ms: node.lag_ms.load(Ordering::Relaxed),
                reads: node.reads.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// Routing counters since start.
    pub fn counters(&self) -> ReplicaCounters {
        let Some(inner) = &self.inner else {
            return ReplicaCounters::default();
        };
        ReplicaCounters {
            fallbacks: inner.fallbacks.load(Ordering::Relaxed),
            read_your_writes: inner.read_your_writes.load(Ordering::Relaxed),
            primary_reads: inner.primary_reads.load(Ordering::Relaxed),
        }
    }

    /// Counts a read the caller sent to the primary itself (one that must
    /// be current, such as the viewer's revocation check).
    pub fn primary_read(&self) {
        if let Some(inner) = &self.inner {
            inner.primary_reads.fetch_add(1, Ordering::Relaxed);
        }
    }
}
