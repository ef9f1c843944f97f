//! Counting database queries: every pooled connection reports each statement
//! it starts to [`crate::report`], per request and in total.

use diesel::connection::{Instrumentation, InstrumentationEvent};

/// Counts the statements a connection starts.
pub struct QueryCounter;

impl Instrumentation for QueryCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if matches!(event, InstrumentationEvent::StartQuery { .. }) {
            crate::report::query();
        }
    }
}
