//! The replica monitor: about once a second, the primary's WAL position and
//! each replica's replay position, lag and reachability; a replica within
//! the lag bounds is in rotation, any other is out.
//!
//! It has connections of its own, to the primary as to each replica, so a
//! request pool that is merely busy never reads as a server that is down;
//! and the primary is taken for down only after `PRIMARY_FAILURES` checks
//! in a row have failed.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use futures_util::future::join_all;

use super::{Inner, Node};
use crate::db::connect::Target;

/// Failed checks in a row before the primary counts as down.
const PRIMARY_FAILURES: u32 = 2;

pub(super) fn start(inner: Arc<Inner>) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(inner.settings.check_interval());
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut primary: Option<tokio_postgres::Client> = None;
        let mut failures = 0u32;
        let mut history = History::default();
        let mut watched: Vec<Option<tokio_postgres::Client>> =
            inner.nodes.iter().map(|_| None).collect();
        loop {
            ticks.tick().await;
            // The primary first: a replica read after it that has replayed
            // at least this far is current at that moment.
            let timeout = inner.settings.check_interval();
            let head = tokio::time::timeout(
                timeout,
                position(&inner.primary_check, &mut primary, PRIMARY_POSITION),
            )
            .await
            .ok()
            .flatten();
            match head {
                Some(head) => {
                    failures = 0;
                    history.record(head, inner.settings.max_lag_ms);
                    inner.head.fetch_max(head, Ordering::Relaxed);
                }
                None => {
                    primary = None;
                    failures = failures.saturating_add(1);
                }
            }
            let down = failures >= PRIMARY_FAILURES;
            if inner.primary_down.swap(down, Ordering::Relaxed) != down {
                super::super::replicas_common::set_primary_down(down);
                if down {
                    tracing::warn!(
                        "the primary is not answering: reads stay on the replicas, writes are refused"
                    );
                } else {
                    tracing::info!("the primary is answering again");
                }
            }
            let checks = inner
                .nodes
                .iter()
                .zip(watched.iter_mut())
                .map(|(node, connection)| check(node, connection, head, &history, &inner));
            join_all(checks).await;
        }
    });
}

const PRIMARY_POSITION: &str = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint";
const REPLAY_POSITION: &str =
    "SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint, pg_is_wal_replay_paused()";

/// The primary's positions over the last moments, to tell how long ago it
/// stood where a replica stands now.
#[derive(Default)]
struct History {
    samples: VecDeque<(u64, Instant)>,
}

impl History {
    fn record(&mut self, head: u64, max_lag_ms: u64) {
        let now = Instant::now();
        self.samples.push_back((head, now));
        // Enough to measure any lag up to twice the bound.
        let keep = std::time::Duration::from_millis(max_lag_ms.saturating_mul(2).max(2_000));
        while self
            .samples
            .front()
            .is_some_and(|(_, at)| now.duration_since(*at) > keep)
        {
            self.samples.pop_front();
        }
    }

    /// How long since the primary last stood at or behind `replayed`: the
    /// replica's lag in time. `None` when it is further behind than every
    /// sample kept.
    fn lag_ms(&self, replayed: u64) -> Option<u64> {
        let (_, at) = self
            .samples
            .iter()
            .rev()
            .find(|(head, _)| *head <= replayed)?;
        Some(u64::try_from(at.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    fn oldest_ms(&self) -> u64 {
        self.samples.front().map_or(0, |(_, at)| {
            u64::try_from(at.elapsed().as_millis()).unwrap_or(u64::MAX)
        })
    }
}

/// Checks one replica and puts it in or out of rotation.
async fn check(
    node: &Node,
    connection: &mut Option<tokio_postgres::Client>,
    head: Option<u64>,
    history: &History,
    inner: &Inner,
) {
    let timeout = inner.settings.check_interval();
    let observed = tokio::time::timeout(timeout, observe(node, connection)).await;
    let Ok(Some((replayed, paused))) = observed else {
        *connection = None;
        node.reachable.store(false, Ordering::Relaxed);
        if node.in_rotation.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                "{} ({}) left rotation: not answering",
                node.name,
                node.address
            );
        }
        return;
    };
    node.reachable.store(true, Ordering::Relaxed);
    node.paused.store(paused, Ordering::Relaxed);
    node.replayed.fetch_max(replayed, Ordering::Relaxed);
    let settings = &inner.settings;
    let (lag_bytes, lag_ms) = match head {
        Some(head) if replayed >= head => (0, 0),
        // Lag in time: how long ago the primary stood where this replica
        // stands now (not since its last replayed commit, which after an
        // idle spell is long ago even for a replica one commit behind).
        Some(head) => (
            head - replayed,
            history
                .lag_ms(replayed)
                .unwrap_or_else(|| history.oldest_ms().max(settings.max_lag_ms + 1)),
        ),
        // The primary is not answering: nothing new can be replayed, so the
        // replicas keep their last verdict and reads keep flowing from them.
        None => (
            node.lag_bytes.load(Ordering::Relaxed),
            node.lag_ms.load(Ordering::Relaxed),
        ),
    };
    node.lag_bytes.store(lag_bytes, Ordering::Relaxed);
    node.lag_ms.store(lag_ms, Ordering::Relaxed);
    let fit = lag_bytes <= settings.max_lag_bytes && lag_ms <= settings.max_lag_ms;
    let was = node.in_rotation.swap(fit, Ordering::Relaxed);
    if was != fit {
        if fit {
            tracing::info!("{} ({}) is in rotation", node.name, node.address);
        } else {
            tracing::warn!(
                "{} ({}) left rotation: {lag_bytes} bytes and {lag_ms} ms behind the primary",
                node.name,
                node.address
            );
        }
    }
}

/// One number from `query` on the server `config` names, over `connection`
/// (opened, or opened again, as needed).
async fn position(
    target: &Target,
    connection: &mut Option<tokio_postgres::Client>,
    query: &str,
) -> Option<u64> {
    let client = connect(target, connection).await?;
    let row = client.query_one(query, &[]).await.ok()?;
    u64::try_from(row.get::<_, Option<i64>>(0)?).ok()
}

async fn connect<'a>(
    target: &Target,
    connection: &'a mut Option<tokio_postgres::Client>,
) -> Option<&'a tokio_postgres::Client> {
    if connection
        .as_ref()
        .is_none_or(tokio_postgres::Client::is_closed)
    {
        *connection = Some(target.client().await.ok()?);
    }
    connection.as_ref()
}

/// A replica's replay position and whether replay is paused.
async fn observe(
    node: &Node,
    connection: &mut Option<tokio_postgres::Client>,
) -> Option<(u64, bool)> {
    let client = connect(&node.check, connection).await?;
    let row = client.query_one(REPLAY_POSITION, &[]).await.ok()?;
    let replayed: Option<i64> = row.get(0);
    Some((u64::try_from(replayed?).ok()?, row.get(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_how_long_ago_the_primary_stood_where_the_replica_stands() {
        let mut history = History::default();
        history.record(100, 5_000);
        std::thread::sleep(std::time::Duration::from_millis(30));
        history.record(200, 5_000);
        history.record(300, 5_000);

        // Caught up with the newest sample: no lag to speak of.
        assert!(history.lag_ms(300).unwrap() < 30);
        // Where the primary stood 30 ms ago.
        assert!((30..1_000).contains(&history.lag_ms(150).unwrap()));
        // Behind everything kept.
        assert_eq!(history.lag_ms(50), None);
        assert!(history.oldest_ms() >= 30);
    }
}
