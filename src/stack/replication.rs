//! Watching and breaking a running stack's replication (phase 5+): each
//! replica's replay state and lag for `make phase-status`, and
//! `make pause-replica` / `make resume-replica`.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};

use super::components::postgres_location;
use super::state::{ComponentState, StackState};

/// A connection as the admin to the stack's PostgreSQL server whose state
/// lives under `server_state_dir`, over its unix socket.
async fn admin(server_state_dir: &Path, address: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (dir, _) = postgres_location(server_state_dir)?;
    let port = address
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse::<u16>().ok())
        .unwrap_or(5432);
    let conninfo = format!(
        "host={} port={port} user=postgres dbname=postgres connect_timeout=2",
        dir.join("run").display()
    );
    let (client, connection) = tokio::time::timeout(
        Duration::from_secs(3),
        tokio_postgres::connect(&conninfo, tokio_postgres::NoTls),
    )
    .await
    .context("timed out")??;
    tokio::spawn(connection);
    Ok(client)
}

/// Where the state of the replica component `replica` lives.
fn replica_dir(state_dir: &Path, replica: &ComponentState) -> std::path::PathBuf {
    state_dir.join(&replica.name)
}

fn find<'a>(state: &'a StackState, name: &str) -> anyhow::Result<&'a ComponentState> {
    let replicas: Vec<&str> = state
        .components
        .iter()
        .filter(|component| component.kind == "replica")
        .map(|component| component.name.as_str())
        .collect();
    match state
        .components
        .iter()
        .find(|component| component.name == name)
    {
        Some(component) if component.kind == "replica" => Ok(component),
        _ if replicas.is_empty() => {
            bail!("this phase has no replicas: `make phase5` runs two")
        }
        _ => bail!(
            "no replica named `{name}` (there are: {})",
            replicas.join(", ")
        ),
    }
}

/// Pauses (or resumes) WAL replay on replica `name`: it keeps answering
/// reads, with data that no longer moves.
pub async fn set_replay(
    state_dir: &Path,
    state: &StackState,
    name: &str,
    pause: bool,
) -> anyhow::Result<()> {
    let replica = find(state, name)?;
    let client = admin(&replica_dir(state_dir, replica), &replica.address)
        .await
        .with_context(|| format!("connecting to {name}: is it running? (`make phase-status`)"))?;
    let call = if pause {
        "SELECT pg_wal_replay_pause()"
    } else {
        "SELECT pg_wal_replay_resume()"
    };
    client
        .batch_execute(call)
        .await
        .with_context(|| format!("{call} on {name}"))?;
    if pause {
        println!(
            "Replay paused on {name}: it still answers, but shows nothing written from now on. \
             Write something, and within a few seconds the app servers take it out of rotation \
             (`make phase-status` shows its lag; /architecture and /metrics too). \
             `make resume-replica N={}` lets it catch up.",
            name.trim_start_matches("replica-")
        );
    } else {
        println!("Replay resumed on {name}: it catches up and comes back into rotation.");
    }
    Ok(())
}

/// How far replica `replica` is behind the primary, in words.
pub async fn describe(state_dir: &Path, state: &StackState, replica: &ComponentState) -> String {
    let head = match state
        .components
        .iter()
        .find(|component| component.kind == "postgres")
    {
        Some(primary) => match admin(state_dir, &primary.address).await {
            Ok(client) => client
                .query_one("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint", &[])
                .await
                .ok()
                .map(|row| row.get::<_, i64>(0)),
            Err(_) => None,
        },
        None => None,
    };
    let Ok(client) = admin(&replica_dir(state_dir, replica), &replica.address).await else {
        return "not answering".to_string();
    };
    let Ok(row) = client
        .query_one(
            "SELECT pg_is_wal_replay_paused(), \
                    (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint, \
                    COALESCE(extract(epoch FROM now() - pg_last_xact_replay_timestamp())::bigint, 0)",
            &[],
        )
        .await
    else {
        return "answering, but not a standby".to_string();
    };
    let paused: bool = row.get(0);
    let replayed: i64 = row.get(1);
    let since: i64 = row.get(2);
    let state = if paused { "replay PAUSED" } else { "streaming" };
    match head {
        Some(head) if head <= replayed => format!("{state}, caught up"),
        Some(head) => format!(
            "{state}, {} behind (last replayed commit {since} s ago)",
            bytes((head - replayed) as u64)
        ),
        None => format!("{state}; the primary is not answering"),
    }
}

fn bytes(count: u64) -> String {
    match count {
        0..1024 => format!("{count} B"),
        1024..1_048_576 => format!("{:.1} kB", count as f64 / 1024.0),
        _ => format!("{:.1} MB", count as f64 / 1_048_576.0),
    }
}
