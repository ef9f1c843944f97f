//! What one request cost and how it was served: database queries, the
//! cache's verdict and the database nodes its reads went to, collected while
//! it runs and sent back as `X-Db-Queries`, `X-Cache` and `X-Db-Node`.
//! Process-wide totals feed `/metrics`.
//!
//! The report also carries what the request's reads must see: the primary's
//! WAL position after its author's last write (read-your-writes), and whether
//! the request wrote, so that the position can be handed back.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// How the cache served a request (or one lookup of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum CacheOutcome {
    /// Every lookup was answered from the cache.
    Hit = 1,
    /// At least one lookup had to go to the database.
    Miss = 2,
    /// The cache was skipped (Redis down, slow, or its circuit open).
    Bypass = 3,
}

impl CacheOutcome {
    /// The `X-Cache` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Miss => "miss",
            Self::Bypass => "bypass",
        }
    }

    fn from_u8(value: u8) -> Option<Self> {
        match value {
            1 => Some(Self::Hit),
            2 => Some(Self::Miss),
            3 => Some(Self::Bypass),
            _ => None,
        }
    }
}

/// One request's report.
#[derive(Default)]
struct Report {
    queries: AtomicU64,
    cache: AtomicU8,
    /// The WAL position its reads must have (0: none).
    read_after: AtomicU64,
    wrote: AtomicBool,
    read_nodes: Mutex<Vec<Arc<str>>>,
    /// The account making the request, once known (0: none).
    viewer: AtomicI64,
}

/// What a finished request reports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    pub queries: u64,
    /// `None` when the request never asked the cache.
    pub cache: Option<CacheOutcome>,
    /// Whether it took a connection for writing.
    pub wrote: bool,
    /// The database nodes its reads went to, in order of first use.
    pub read_nodes: Vec<Arc<str>>,
    /// The account that made it, when it had one.
    pub viewer: Option<i64>,
}

tokio::task_local! {
    static REPORT: Arc<Report>;
}

static TOTAL_QUERIES: AtomicU64 = AtomicU64::new(0);

/// Runs `work` with a report of its own, and returns both.
pub async fn collect<F: Future>(work: F) -> (F::Output, Summary) {
    collect_reading_after(None, work).await
}

/// [`collect`] for a request whose reads must see WAL position `read_after`.
pub async fn collect_reading_after<F: Future>(
    read_after: Option<u64>,
    work: F,
) -> (F::Output, Summary) {
    let report = Arc::new(Report::default());
    report
        .read_after
        .store(read_after.unwrap_or(0), Ordering::Relaxed);
    let output = REPORT.scope(Arc::clone(&report), work).await;
    (output, summarise(&report))
}

fn summarise(report: &Report) -> Summary {
    Summary {
        queries: report.queries.load(Ordering::Relaxed),
        cache: CacheOutcome::from_u8(report.cache.load(Ordering::Relaxed)),
        wrote: report.wrote.load(Ordering::Relaxed),
        read_nodes: report
            .read_nodes
            .lock()
            .map(|nodes| nodes.clone())
            .unwrap_or_default(),
        viewer: Some(report.viewer.load(Ordering::Relaxed)).filter(|id| *id != 0),
    }
}

/// Notes which account the running request is made by.
pub fn viewer(user: i64) {
    let _ = REPORT.try_with(|report| report.viewer.store(user, Ordering::Relaxed));
}

/// Makes the running request's reads wait for WAL position `lsn` too.
pub fn read_after_at_least(lsn: u64) {
    let _ = REPORT.try_with(|report| report.read_after.fetch_max(lsn, Ordering::Relaxed));
}

/// The WAL position the running request's reads must have, if any.
pub fn read_after() -> Option<u64> {
    REPORT
        .try_with(|report| report.read_after.load(Ordering::Relaxed))
        .ok()
        .filter(|lsn| *lsn > 0)
}

/// Notes that the running request took a connection for writing.
pub fn wrote() {
    let _ = REPORT.try_with(|report| report.wrote.store(true, Ordering::Relaxed));
}

/// Notes that the running request read from `node`.
pub fn read_from(node: &Arc<str>) {
    let _ = REPORT.try_with(|report| {
        if let Ok(mut nodes) = report.read_nodes.lock()
            && !nodes.iter().any(|known| known == node)
        {
            nodes.push(Arc::clone(node));
        }
    });
}

/// Counts one database query.
pub fn query() {
    TOTAL_QUERIES.fetch_add(1, Ordering::Relaxed);
    let _ = REPORT.try_with(|report| report.queries.fetch_add(1, Ordering::Relaxed));
}

/// Records one cache lookup; the request reports the worst outcome it saw.
pub fn cache(outcome: CacheOutcome) {
    let _ = REPORT.try_with(|report| report.cache.fetch_max(outcome as u8, Ordering::Relaxed));
}

/// What the running request has reported so far.
pub fn so_far() -> Summary {
    REPORT
        .try_with(|report| summarise(report))
        .unwrap_or_default()
}

/// Queries made by this process since it started.
pub fn total_queries() -> u64 {
    TOTAL_QUERIES.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_reports_its_queries_and_its_worst_cache_outcome() {
        let ((), summary) = collect(async {
            query();
            query();
            cache(CacheOutcome::Hit);
            cache(CacheOutcome::Miss);
            cache(CacheOutcome::Hit);
        })
        .await;
        assert_eq!(summary.queries, 2);
        assert_eq!(summary.cache, Some(CacheOutcome::Miss));
        let ((), quiet) = collect(async {}).await;
        assert_eq!(quiet, Summary::default());
    }

    #[tokio::test]
    async fn a_request_reports_its_reads_nodes_and_writes() {
        let primary: Arc<str> = Arc::from("primary");
        let replica: Arc<str> = Arc::from("replica-1");
        let (seen, summary) = collect_reading_after(Some(42), async {
            read_from(&replica);
            read_from(&primary);
            read_from(&replica);
            wrote();
            read_after()
        })
        .await;
        assert_eq!(seen, Some(42));
        assert!(summary.wrote);
        assert_eq!(summary.read_nodes, vec![replica, primary]);
        let (none, summary) = collect(async { read_after() }).await;
        assert_eq!(none, None);
        assert!(!summary.wrote);
    }
}
