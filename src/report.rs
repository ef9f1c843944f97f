//! What one request cost and how it was served: database queries and the
//! cache's verdict, collected while it runs and sent back as `X-Db-Queries`
//! and `X-Cache`. Process-wide totals feed `/metrics`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

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
}

/// What a finished request reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub queries: u64,
    /// `None` when the request never asked the cache.
    pub cache: Option<CacheOutcome>,
}

tokio::task_local! {
    static REPORT: Arc<Report>;
}

static TOTAL_QUERIES: AtomicU64 = AtomicU64::new(0);

/// Runs `work` with a report of its own, and returns both.
pub async fn collect<F: Future>(work: F) -> (F::Output, Summary) {
    let report = Arc::new(Report::default());
    let output = REPORT.scope(Arc::clone(&report), work).await;
    let summary = Summary {
        queries: report.queries.load(Ordering::Relaxed),
        cache: CacheOutcome::from_u8(report.cache.load(Ordering::Relaxed)),
    };
    (output, summary)
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
        .try_with(|report| Summary {
            queries: report.queries.load(Ordering::Relaxed),
            cache: CacheOutcome::from_u8(report.cache.load(Ordering::Relaxed)),
        })
        .unwrap_or(Summary {
            queries: 0,
            cache: None,
        })
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
        assert_eq!(
            quiet,
            Summary {
                queries: 0,
                cache: None
            }
        );
    }
}
