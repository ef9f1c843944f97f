//! Invalidations that could not be delivered while Redis was away, kept
//! until they have been: a replay copies them out, and only what it
//! delivered is removed, so a replay that fails or is cancelled halfway
//! (its request went away) loses nothing.

use std::collections::VecDeque;

use super::Invalidation;

/// Invalidations kept while Redis is unreachable, to replay when it is back.
const LIMIT: usize = 10_000;

/// The queue.
#[derive(Default)]
pub struct Pending {
    keys: VecDeque<String>,
    generations: VecDeque<String>,
    /// Too many were lost to replay: drop every entry instead.
    overflowed: bool,
    /// Times the queue overflowed, to tell a batch from before one.
    overflows: u64,
}

/// A copy of the queue's head, to deliver.
#[derive(Debug, Default)]
pub struct Batch {
    pub keys: Vec<String>,
    pub generations: Vec<String>,
    /// Every entry must be dropped (the queue overflowed).
    pub everything: bool,
    overflows: u64,
}

impl Pending {
    /// Whether anything waits to be delivered.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.generations.is_empty() && !self.overflowed
    }

    /// Queues `invalidation` behind the others.
    pub fn push(&mut self, invalidation: Invalidation) {
        self.keys.extend(invalidation.keys);
        self.generations.extend(invalidation.generations);
        if self.keys.len() + self.generations.len() > LIMIT {
            self.keys.clear();
            self.generations.clear();
            self.overflowed = true;
            self.overflows += 1;
        }
    }

    /// A copy of everything queued; nothing is removed.
    pub fn batch(&self) -> Batch {
        Batch {
            keys: self.keys.iter().cloned().collect(),
            generations: self.generations.iter().cloned().collect(),
            everything: self.overflowed,
            overflows: self.overflows,
        }
    }

    /// Removes what `batch` delivered. What was queued after it was taken
    /// stays; if the queue overflowed since, the batch is stale and nothing
    /// is removed (the overflow is delivered next).
    pub fn delivered(&mut self, batch: &Batch) {
        if batch.overflows != self.overflows {
            return;
        }
        self.keys.drain(..batch.keys.len().min(self.keys.len()));
        self.generations
            .drain(..batch.generations.len().min(self.generations.len()));
        if batch.everything {
            self.overflowed = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(names: &[&str]) -> Invalidation {
        Invalidation {
            keys: names.iter().map(|name| name.to_string()).collect(),
            generations: Vec::new(),
        }
    }

    #[test]
    fn a_batch_is_removed_only_once_delivered() {
        let mut pending = Pending::default();
        pending.push(keys(&["a", "b"]));
        let batch = pending.batch();
        assert_eq!(batch.keys, ["a", "b"]);
        assert!(!pending.is_empty(), "taking a batch removes nothing");

        // Queued while the batch was on its way: kept.
        pending.push(keys(&["c"]));
        pending.delivered(&batch);

        assert_eq!(pending.batch().keys, ["c"]);
        pending.delivered(&pending.batch());
        assert!(pending.is_empty());
    }

    #[test]
    fn an_overflow_asks_for_everything_and_outdates_older_batches() {
        let mut pending = Pending::default();
        pending.push(keys(&["a"]));
        let old = pending.batch();
        let flood: Vec<String> = (0..=LIMIT).map(|n| n.to_string()).collect();
        pending.push(Invalidation {
            keys: flood,
            generations: Vec::new(),
        });
        pending.delivered(&old);
        let batch = pending.batch();
        assert!(batch.everything && batch.keys.is_empty());

        pending.push(keys(&["late"]));
        pending.delivered(&batch);
        assert!(!pending.is_empty(), "what came after the batch stays");
        assert!(!pending.batch().everything);
    }
}
