//! The replicas leg of `million bench`: phase 4 against phase 5 on the same
//! data, with reads the cache does not hold (filtered article lists, by
//! author and by tag): throughput at peak, latency at one fixed rate, and
//! the share of reads each phase's primary served, from the app servers'
//! own `/metrics`.

use std::path::Path;

use super::{CacheArgs, comparison_header, comparison_row, seed_to_size};
use crate::load::{Measurement, run_oha, run_wrk};
use crate::stack::Stack;
use crate::stack::components::app_conninfo;
use crate::stack::plan::Plan;
use crate::stack::secrets::Secrets;

/// One phase's figures for the uncached mix.
struct PhaseFigures {
    peak: Measurement,
    fixed: Measurement,
    /// Reads served by each node during the measurements, summed over the
    /// app servers: (node, reads).
    reads: Vec<(String, u64)>,
}

impl PhaseFigures {
    fn primary_share(&self) -> f64 {
        let total: u64 = self.reads.iter().map(|(_, reads)| reads).sum();
        if total == 0 {
            // No replicas tier: every read is the primary's.
            return 1.0;
        }
        let primary: u64 = self
            .reads
            .iter()
            .filter(|(node, _)| node == crate::db::PRIMARY)
            .map(|(_, reads)| reads)
            .sum();
        primary as f64 / total as f64
    }
}

/// Runs phase 4 and phase 5 on the data set in `state_dir` and prints the
/// comparison.
pub(super) async fn compare(
    args: &CacheArgs,
    state_dir: &Path,
    plan_for: &dyn Fn(u8) -> anyhow::Result<Plan>,
    wrk: &Path,
    oha: &Path,
    work: &Path,
) -> anyhow::Result<()> {
    eprintln!("\nRead replicas: reads the cache does not hold, phase 4 against phase 5…");
    let paths = {
        let stack = Stack::up(plan_for(4)?).await?;
        let secrets = Secrets::load_or_create(state_dir)?;
        let conninfo = app_conninfo(&stack.plan, &secrets)?;
        seed_to_size(&conninfo, args.users, args.articles).await?;
        let paths = uncached_mix(&conninfo).await?;
        stack.down().await;
        paths
    };
    let shared = measure_pair(args, plan_for, &paths, None, wrk, oha, work).await?;
    print(&shared, paths.len(), args, None);
    // Each database server held to a share of a core, as on hosts of its own.
    match measure_pair(args, plan_for, &paths, Some(DB_HOST_SHARE), wrk, oha, work).await {
        Ok(capped) => print(&capped, paths.len(), args, Some(DB_HOST_SHARE)),
        Err(error) => eprintln!("\nThe capped comparison did not run: {error:#}"),
    }
    Ok(())
}

/// The share of a core each database server gets in the capped comparison.
const DB_HOST_SHARE: f64 = 0.25;

/// Both phases' figures, and the fixed rate they were measured at.
struct Pair {
    figures: Vec<PhaseFigures>,
    rate: u64,
}

/// Phase 4, then phase 5, with the database servers capped at `cap` of a
/// core each when given.
async fn measure_pair(
    args: &CacheArgs,
    plan_for: &dyn Fn(u8) -> anyhow::Result<Plan>,
    paths: &[String],
    cap: Option<f64>,
    wrk: &Path,
    oha: &Path,
    work: &Path,
) -> anyhow::Result<Pair> {
    let mut figures = Vec::new();
    let mut fixed_rate = None;
    for phase in [4u8, 5] {
        match cap {
            Some(share) => eprintln!(
                "\nPhase {phase} (uncached reads, each database server capped at {share} of a core):"
            ),
            None => eprintln!("\nPhase {phase} (uncached reads):"),
        }
        let stack = Stack::up(plan_for(phase)?).await?;
        let caps = match cap {
            Some(share) => Some(super::cpu_caps::CpuCaps::apply(&stack, share)?),
            None => None,
        };
        let front = format!("http://{}", stack.plan.front);
        let apps: Vec<String> = stack
            .plan
            .apps
            .iter()
            .map(|app| format!("http://{}", app.address))
            .collect();
        eprintln!("  warming up (every URL once)…");
        let client = reqwest::Client::new();
        for path in paths {
            client.get(format!("{front}{path}")).send().await?;
        }
        let before = reads_by_node(&apps).await;
        eprintln!("  peak throughput (wrk, {} s)…", args.duration);
        let peak = run_wrk(wrk, &front, paths, work, args.duration, args.connections)?;
        let rate = *fixed_rate.get_or_insert(((peak.requests_per_second / 2.0) as u64).max(1));
        eprintln!("  latency at a fixed {rate}/s (oha, {} s)…", args.duration);
        let fixed = run_oha(
            oha,
            &front,
            paths,
            work,
            args.duration,
            args.connections,
            rate,
        )?;
        let after = reads_by_node(&apps).await;
        drop(caps);
        stack.down().await;
        let reads = after
            .into_iter()
            .map(|(node, count)| {
                let earlier = before
                    .iter()
                    .find(|(known, _)| *known == node)
                    .map_or(0, |(_, count)| *count);
                (node, count.saturating_sub(earlier))
            })
            .collect();
        figures.push(PhaseFigures { peak, fixed, reads });
    }
    Ok(Pair {
        figures,
        rate: fixed_rate.unwrap_or_default(),
    })
}

/// Filtered article lists (by author, by tag): read from the database on
/// every request, whatever the cache tier.
async fn uncached_mix(conninfo: &str) -> anyhow::Result<Vec<String>> {
    use rand::seq::SliceRandom;
    let [authors, tags] = super::text_columns(
        conninfo,
        [
            "SELECT username FROM users WHERE articles_count > 0 ORDER BY random() LIMIT 200",
            "SELECT name FROM tags ORDER BY random() LIMIT 100",
        ],
    )
    .await?;
    let mut paths: Vec<String> = authors
        .iter()
        .map(|author| format!("/api/articles?author={author}&limit=10"))
        .chain(
            tags.iter()
                .map(|tag| format!("/api/articles?tag={}&limit=10", url_escape(tag))),
        )
        .collect();
    paths.shuffle(&mut rand::rng());
    Ok(paths)
}

fn url_escape(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// `million_db_reads_total` by node, summed over the app servers.
async fn reads_by_node(apps: &[String]) -> Vec<(String, u64)> {
    let client = reqwest::Client::new();
    let mut totals: Vec<(String, u64)> = Vec::new();
    for app in apps {
        let Ok(response) = client.get(format!("{app}/metrics")).send().await else {
            continue;
        };
        let Ok(text) = response.text().await else {
            continue;
        };
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("million_db_reads_total{node=\"") else {
                continue;
            };
            let Some((node, value)) = rest.split_once("\"} ") else {
                continue;
            };
            let count: u64 = value.trim().parse().unwrap_or(0);
            match totals.iter_mut().find(|(known, _)| known == node) {
                Some((_, total)) => *total += count,
                None => totals.push((node.to_string(), count)),
            }
        }
    }
    totals.sort();
    totals
}

fn print(pair: &Pair, urls: usize, args: &CacheArgs, cap: Option<f64>) {
    let [phase4, phase5] = &pair.figures[..] else {
        return;
    };
    let rate = pair.rate;
    let capped = cap.map_or(String::new(), |share| {
        format!(", each database server capped at {share} of a core (a host of its own)")
    });
    println!(
        "\nRead replicas: {urls} filtered article lists (by author and by tag: never cached), {} connections, {} s per run{capped}\n",
        args.connections, args.duration
    );
    comparison_header("phase 4", "phase 5", "5 ÷ 4");
    let row = comparison_row;
    row(
        "peak throughput (wrk)",
        phase4.peak.requests_per_second,
        phase5.peak.requests_per_second,
        "/s",
    );
    row("p99 at peak", phase4.peak.p99_ms, phase5.peak.p99_ms, "ms");
    row(
        &format!("p50 at {rate}/s (oha)"),
        phase4.fixed.p50_ms,
        phase5.fixed.p50_ms,
        "ms",
    );
    row(
        &format!("p99 at {rate}/s (oha)"),
        phase4.fixed.p99_ms,
        phase5.fixed.p99_ms,
        "ms",
    );
    row(
        "reads on the primary",
        phase4.primary_share() * 100.0,
        phase5.primary_share() * 100.0,
        "%",
    );
    println!(
        "{:<34} {:>14} {:>14}",
        "errors",
        phase4.peak.errors + phase4.fixed.errors,
        phase5.peak.errors + phase5.fixed.errors
    );
    let spread: Vec<String> = phase5
        .reads
        .iter()
        .map(|(node, reads)| format!("{node} {reads}"))
        .collect();
    println!("\nPhase 5's reads by node: {}.", spread.join(", "));
}
