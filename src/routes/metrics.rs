//! `GET /metrics`: counters in the Prometheus text format — database queries,
//! pool use, and how the cache is doing.

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
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(out)
}
