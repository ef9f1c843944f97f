//! Counting database queries: in total, and per HTTP request.
//!
//! Every pooled connection reports each statement it starts. A request runs
//! inside [`count_queries`], which gives it its own counter, so the app can
//! say in `X-Db-Queries` what a page cost, and tests can hold lists to a
//! constant number of queries.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use diesel::connection::{Instrumentation, InstrumentationEvent};

static TOTAL_QUERIES: AtomicU64 = AtomicU64::new(0);

tokio::task_local! {
    static REQUEST_QUERIES: Arc<AtomicU64>;
}

/// Counts the statements a connection starts.
pub struct QueryCounter;

impl Instrumentation for QueryCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if matches!(event, InstrumentationEvent::StartQuery { .. }) {
            TOTAL_QUERIES.fetch_add(1, Ordering::Relaxed);
            let _ = REQUEST_QUERIES.try_with(|count| count.fetch_add(1, Ordering::Relaxed));
        }
    }
}

/// Runs `work`, returning its output and the queries it made.
pub async fn count_queries<F: Future>(work: F) -> (F::Output, u64) {
    let count = Arc::new(AtomicU64::new(0));
    let output = REQUEST_QUERIES.scope(Arc::clone(&count), work).await;
    (output, count.load(Ordering::Relaxed))
}

/// Queries made by this process since it started.
pub fn total_queries() -> u64 {
    TOTAL_QUERIES.load(Ordering::Relaxed)
}
