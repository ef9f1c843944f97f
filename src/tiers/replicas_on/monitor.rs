//! The replica monitor: about once a second, the primary's WAL position and
//! each replica's replay position, lag and reachability; a replica within
//! the lag bounds is in rotation, any other is out.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use diesel::sql_types::BigInt;

use super::{Inner, Node};
use crate::db::PgPool;

pub(super) fn start(inner: Arc<Inner>, primary: PgPool) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(inner.settings.check_interval());
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut watched: Vec<Watched> = inner
            .nodes
            .iter()
            .map(|_| Watched {
                connection: None,
                current_at: Instant::now(),
            })
            .collect();
        loop {
            ticks.tick().await;
            // The primary first: a replica read after it that has replayed
            // at least this far is current at that moment.
            let head = primary_position(&primary, inner.settings.check_interval()).await;
            let down = head.is_none();
            if inner.primary_down.swap(down, Ordering::Relaxed) != down {
                if down {
                    tracing::warn!("the primary is not answering: reads stay on the replicas");
                } else {
                    tracing::info!("the primary is answering again");
                }
            }
            for (node, watched) in inner.nodes.iter().zip(watched.iter_mut()) {
                check(node, watched, head, &inner).await;
            }
        }
    });
}

#[derive(diesel::QueryableByName)]
struct Position {
    #[diesel(sql_type = BigInt)]
    lsn: i64,
}

/// The primary's current WAL position, if it answers in time.
async fn primary_position(primary: &PgPool, timeout: Duration) -> Option<u64> {
    use diesel_async::RunQueryDsl;
    let query = async {
        let mut connection = primary.get().await.ok()?;
        let position: Position =
            diesel::sql_query("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint AS lsn")
                .get_result(&mut connection)
                .await
                .ok()?;
        u64::try_from(position.lsn).ok()
    };
    tokio::time::timeout(timeout, query).await.ok().flatten()
}

/// What the monitor keeps about one replica between checks.
struct Watched {
    connection: Option<tokio_postgres::Client>,
    /// When it was last seen to have replayed all the primary had written.
    current_at: Instant,
}

/// Checks one replica and puts it in or out of rotation.
async fn check(node: &Node, watched: &mut Watched, head: Option<u64>, inner: &Inner) {
    let timeout = inner.settings.check_interval();
    let observed = tokio::time::timeout(timeout, observe(node, &mut watched.connection)).await;
    let Ok(Some(observation)) = observed else {
        watched.connection = None;
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
    node.paused.store(observation.paused, Ordering::Relaxed);
    node.replayed
        .fetch_max(observation.replayed, Ordering::Relaxed);
    let settings = &inner.settings;
    // Lag in time: how long since it was last seen caught up (not since its
    // last replayed commit, which after an idle spell is long ago even for
    // a replica one commit behind).
    let (lag_bytes, lag_ms) = match head {
        Some(head) if observation.replayed >= head => {
            watched.current_at = Instant::now();
            (0, 0)
        }
        Some(head) => (
            head - observation.replayed,
            u64::try_from(watched.current_at.elapsed().as_millis()).unwrap_or(u64::MAX),
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

struct Observation {
    replayed: u64,
    paused: bool,
}

async fn observe(
    node: &Node,
    connection: &mut Option<tokio_postgres::Client>,
) -> Option<Observation> {
    if connection
        .as_ref()
        .is_none_or(tokio_postgres::Client::is_closed)
    {
        let (client, driver) = node.check.connect(tokio_postgres::NoTls).await.ok()?;
        tokio::spawn(driver);
        *connection = Some(client);
    }
    let client = connection.as_ref()?;
    let row = client
        .query_one(
            "SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint, pg_is_wal_replay_paused()",
            &[],
        )
        .await
        .ok()?;
    let replayed: Option<i64> = row.get(0);
    Some(Observation {
        replayed: u64::try_from(replayed?).ok()?,
        paused: row.get(1),
    })
}
