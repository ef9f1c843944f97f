//! `GET /metrics`: counters in the Prometheus text format — database queries,
//! pool use, how the cache is doing, and the read replicas.

use std::fmt::Write;

use actix_web::{HttpResponse, web};

use crate::report;
use crate::state::AppState;

/// Registers `/metrics`.
pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(metrics));
}

fn metric(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(&str, u64)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

fn samples(owned: &[(String, u64)]) -> Vec<(&str, u64)> {
    owned
        .iter()
        .map(|(labels, value)| (labels.as_str(), *value))
        .collect()
}

/// The replicas tier: reads per node, each replica's lag and rotation, and
/// the reads that went to the primary instead.
fn replica_metrics(out: &mut String, state: &AppState) {
    let replicas = state.db.replicas();
    if !replicas.enabled() {
        return;
    }
    let nodes = replicas.nodes();
    let counters = replicas.counters();
    let labelled = |value: fn(&crate::tiers::replicas::NodeStatus) -> u64| -> Vec<(String, u64)> {
        nodes
            .iter()
            .map(|node| (format!("node=\"{}\"", node.name), value(node)))
            .collect()
    };
    let mut reads = labelled(|node| node.reads);
    reads.push(("node=\"primary\"".to_string(), counters.primary_reads));
    metric(
        out,
        "million_db_reads_total",
        "counter",
        "Read connections handed out, by database node.",
        &samples(&reads),
    );
    metric(
        out,
        "million_db_replica_lag_bytes",
        "gauge",
        "WAL bytes each replica was behind the primary at its last check.",
        &samples(&labelled(|node| node.lag_bytes)),
    );
    metric(
        out,
        "million_db_replica_lag_milliseconds",
        "gauge",
        "How long each replica had been behind the primary at its last check.",
        &samples(&labelled(|node| node.lag_ms)),
    );
    metric(
        out,
        "million_db_replica_in_rotation",
        "gauge",
        "1 while a replica takes reads: answering, and within the lag bounds.",
        &samples(&labelled(|node| u64::from(node.in_rotation))),
    );
    metric(
        out,
        "million_db_replica_fallbacks_total",
        "counter",
        "Reads meant for a replica that went to the primary: none fit, or no connection in time.",
        &[("", counters.fallbacks)],
    );
    metric(
        out,
        "million_db_read_your_writes_total",
        "counter",
        "Reads sent to the primary because no replica had replayed their author's last write.",
        &[("", counters.read_your_writes)],
    );
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let mut out = String::new();
    metric(
        &mut out,
        "million_db_queries_total",
        "counter",
        "Database queries made by this process.",
        &[("", report::total_queries())],
    );
    let pool = state.db.status();
    metric(
        &mut out,
        "million_db_pool_connections",
        "gauge",
        "Database connections held by the pool, by state.",
        &[
            ("state=\"idle\"", pool.available as u64),
            (
                "state=\"busy\"",
                pool.size.saturating_sub(pool.available) as u64,
            ),
        ],
    );
    let cache = state.cache.counters();
    metric(
        &mut out,
        "million_cache_lookups_total",
        "counter",
        "Cache lookups by outcome: hit, miss (read from the database), bypass (Redis unavailable).",
        &[
            ("outcome=\"hit\"", cache.hits),
            ("outcome=\"miss\"", cache.misses),
            ("outcome=\"bypass\"", cache.bypasses),
        ],
    );
    metric(
        &mut out,
        "million_cache_near_hits_total",
        "counter",
        "Hits answered by this process's near cache, without asking Redis (counted as hits too).",
        &[("", cache.near_hits)],
    );
    metric(
        &mut out,
        "million_cache_near_entries",
        "gauge",
        "Entries in this process's near cache.",
        &[("", cache.near_entries)],
    );
    metric(
        &mut out,
        "million_cache_near_bytes",
        "gauge",
        "What the near cache's entries weigh (their size in Redis), bounded by cache.near_capacity_kib.",
        &[("", cache.near_bytes)],
    );
    metric(
        &mut out,
        "million_cache_near_subscribed",
        "gauge",
        "1 while this process hears other servers' invalidations; the near cache is off otherwise.",
        &[("", u64::from(cache.near_subscribed))],
    );
    metric(
        &mut out,
        "million_cache_waiting",
        "gauge",
        "Reads waiting right now for another caller's refill.",
        &[("", cache.waiting)],
    );
    metric(
        &mut out,
        "million_cache_errors_total",
        "counter",
        "Redis calls that failed or timed out.",
        &[("", cache.errors)],
    );
    metric(
        &mut out,
        "million_cache_coalesced_total",
        "counter",
        "Misses answered by another caller's refill instead of the database.",
        &[("", cache.coalesced)],
    );
    metric(
        &mut out,
        "million_cache_stale_sets_prevented_total",
        "counter",
        "Refills dropped because a write invalidated the entry meanwhile.",
        &[("", cache.stale_sets_prevented)],
    );
    metric(
        &mut out,
        "million_cache_early_refreshes_total",
        "counter",
        "Entries refreshed before they expired (XFetch).",
        &[("", cache.early_refreshes)],
    );
    metric(
        &mut out,
        "million_cache_circuit_open",
        "gauge",
        "1 while Redis is being left alone after failures.",
        &[("", u64::from(cache.circuit_open))],
    );
    replica_metrics(&mut out, &state);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(out)
}
