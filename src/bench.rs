//! `million bench`: what the architecture buys and what it costs, measured.
//!
//! Three legs, each reporting ratios against a reference measured in the
//! same run, since absolute numbers on a shared machine mean little:
//! - (no subcommand) the cache tier: phase 3 and then phase 4 on the same
//!   data with the same binary, the same read mix (profiles and articles,
//!   API and pages) through the front door of each: throughput, latency at
//!   one fixed rate and database queries per request, phase 4 ÷ phase 3;
//!   then, on one of phase 4's app servers directly, a hot profile and a
//!   hot article (near-cache hits) against a bare route;
//! - then phase 4 against phase 5 with reads the cache does not hold: what
//!   the read replicas take off the primary ([`replicas`]);
//! - `scale`: every endpoint on a small and a large data set
//!   ([`scale`]);
//! - `signin`: reads while sign-ins saturate the password hashing
//!   ([`signin`]).

mod cpu_caps;
mod dataset;
mod replicas;
pub mod scale;
pub mod signin;

use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use rand::seq::SliceRandom;

use crate::load::{Measurement, run_oha, run_wrk, tempfile_dir, tool};
use crate::stack::Stack;
use crate::stack::components::app_conninfo;
use crate::stack::plan::Plan;
use crate::stack::secrets::Secrets;

/// Options of `million bench`: a leg, or the cache comparison's own options.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub leg: Option<Leg>,
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// The legs besides the cache comparison.
#[derive(Debug, Subcommand)]
pub enum Leg {
    /// Every endpoint on a small and a large data set: does it keep half its throughput?
    Scale(scale::ScaleArgs),
    /// Reads' latency while sign-ins saturate the password hashing.
    Signin(signin::SigninArgs),
}

/// Options of the cache comparison (`million bench` alone).
#[derive(Debug, Args)]
pub struct CacheArgs {
    /// Seconds each measurement runs.
    #[arg(long, default_value_t = 15)]
    pub duration: u64,
    /// Open connections.
    #[arg(long, default_value_t = 32)]
    pub connections: u64,
    /// Users in the data set (seeded once, kept in .million/bench).
    #[arg(long, default_value_t = 20_000)]
    pub users: u64,
    /// Articles in the data set.
    #[arg(long, default_value_t = 40_000)]
    pub articles: u64,
}

/// One phase's figures.
struct PhaseResult {
    peak: Measurement,
    fixed: Measurement,
    queries_per_request: f64,
    hit_ratio: Option<f64>,
}

/// Hot reads served from the near cache against a bare route, on one app
/// server directly (no proxy in between), in requests per second.
struct NearCacheResult {
    bare: Measurement,
    profile: Measurement,
    article: Measurement,
}

/// A hot read should reach this share of the bare route's throughput.
const NEAR_CACHE_GOAL: f64 = 0.55;

/// Runs the leg asked for.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.leg {
        Some(Leg::Scale(scale)) => scale::run(scale).await,
        Some(Leg::Signin(signin)) => signin::run(signin).await,
        None => compare_cache(args.cache).await,
    }
}

/// Runs the cache comparison and prints it.
async fn compare_cache(args: CacheArgs) -> anyhow::Result<()> {
    if crate::tiers::require("cache", "the cache benchmark").is_err()
        || crate::tiers::require("stateless-sessions", "the cache benchmark").is_err()
        || crate::tiers::require("replicas", "the cache benchmark").is_err()
    {
        bail!("the benchmark needs a binary with every tier: run `make bench` (it builds one)");
    }
    let wrk = tool("wrk", "sudo apt-get install wrk")?;
    let oha = tool("oha", "cargo install oha --locked")?;
    let project = std::env::current_dir()?;
    if !project.join("deploy").is_dir() {
        bail!("run `million bench` from the project folder");
    }
    let binary = std::env::current_exe()?;
    let state_dir = project.join(".million").join("bench");
    let plan_for = |phase: u8| -> anyhow::Result<Plan> {
        let mut plan = Plan::standard(phase, project.clone(), binary.clone())?;
        plan.state_dir = state_dir.clone();
        Ok(plan)
    };

    eprintln!(
        "Preparing the data set ({} users, {} articles)…",
        args.users, args.articles
    );
    let urls = {
        let stack = Stack::up(plan_for(3)?).await?;
        let secrets = Secrets::load_or_create(&state_dir)?;
        let conninfo = app_conninfo(&stack.plan, &secrets)?;
        seed_to_size(&conninfo, args.users, args.articles).await?;
        let urls = read_mix(&conninfo, &format!("http://{}", stack.plan.front)).await?;
        stack.down().await;
        urls
    };

    let work = tempfile_dir()?;
    let mut results = Vec::new();
    let mut near = None;
    let mut fixed_rate = None;
    for phase in [3u8, 4] {
        eprintln!("\nPhase {phase}:");
        let stack = Stack::up(plan_for(phase)?).await?;
        let front = format!("http://{}", stack.plan.front);
        let paths: Vec<String> = urls
            .iter()
            .map(|url| url.trim_start_matches(&front).to_string())
            .collect();
        eprintln!("  warming up (every URL once)…");
        let (queries_per_request, hit_ratio) = sample(&front, &paths).await?;
        eprintln!("  peak throughput (wrk, {} s)…", args.duration);
        let peak = run_wrk(&wrk, &front, &paths, &work, args.duration, args.connections)?;
        // Both phases are measured at the same rate: half of phase 3's peak.
        let rate = *fixed_rate.get_or_insert(((peak.requests_per_second / 2.0) as u64).max(1));
        eprintln!("  latency at a fixed {rate}/s (oha, {} s)…", args.duration);
        let fixed = run_oha(
            &oha,
            &front,
            &paths,
            &work,
            args.duration,
            args.connections,
            rate,
        )?;
        if phase == 4 {
            near = Some(near_cache(&wrk, &stack, &paths, &work, &args)?);
        }
        stack.down().await;
        results.push(PhaseResult {
            peak,
            fixed,
            queries_per_request,
            hit_ratio,
        });
    }
    print_report(&results, fixed_rate.unwrap_or_default(), &args, urls.len());
    if let Some(near) = near {
        print_near_cache(&near, &args);
    }
    let replicas = replicas::compare(&args, &state_dir, &plan_for, &wrk, &oha, &work).await;
    let _ = std::fs::remove_dir_all(&work);
    replicas
}

/// One hot profile and one hot article, each read over and over from one
/// app server, against `GET /healthz` on the same server.
fn near_cache(
    wrk: &std::path::Path,
    stack: &Stack,
    paths: &[String],
    work: &std::path::Path,
    args: &CacheArgs,
) -> anyhow::Result<NearCacheResult> {
    let app = stack
        .plan
        .apps
        .first()
        .map(|app| format!("http://{}", app.address))
        .context("phase 4 without an app server")?;
    let first = |prefix: &str| {
        paths
            .iter()
            .find(|path| path.starts_with(prefix))
            .cloned()
            .with_context(|| format!("no {prefix}… path in the read mix"))
    };
    let (profile, article) = (first("/api/profiles/")?, first("/api/articles/")?);
    let seconds = args.duration.min(5);
    eprintln!(
        "  near cache: one app server directly, a bare route and two hot reads ({seconds} s each)…"
    );
    let measure = |path: &str| {
        run_wrk(
            wrk,
            &app,
            &[path.to_string()],
            work,
            seconds,
            args.connections,
        )
    };
    let before = measure("/healthz")?;
    let profile = measure(&profile)?;
    let article = measure(&article)?;
    // The bare route again, and the better of the two is the reference: a
    // noisy first run must not flatter the ratios.
    let after = measure("/healthz")?;
    let bare = if after.requests_per_second > before.requests_per_second {
        after
    } else {
        before
    };
    Ok(NearCacheResult {
        bare,
        profile,
        article,
    })
}

fn print_near_cache(near: &NearCacheResult, args: &CacheArgs) {
    println!(
        "\nNear cache: one phase 4 app server directly, one URL read over and over, {} connections\n",
        args.connections
    );
    println!("{:<34} {:>14} {:>10}", "", "requests/s", "÷ bare");
    let bare = near.bare.requests_per_second;
    for (label, measured) in [
        ("GET /healthz (bare route)", &near.bare),
        ("hot GET /api/profiles/{u}", &near.profile),
        ("hot GET /api/articles/{slug}", &near.article),
    ] {
        let ratio = if bare > 0.0 {
            measured.requests_per_second / bare
        } else {
            0.0
        };
        println!(
            "{label:<34} {:>14.0} {:>9.2}×",
            measured.requests_per_second, ratio
        );
    }
    let worst = near
        .profile
        .requests_per_second
        .min(near.article.requests_per_second);
    let met = bare > 0.0 && worst / bare >= NEAR_CACHE_GOAL;
    println!(
        "Goal: a hot read at least {NEAR_CACHE_GOAL}× the bare route: {}.",
        if met { "met" } else { "NOT met" }
    );
}

/// Seeds the database at `conninfo` up to the requested size; whether it
/// had to.
async fn seed_to_size(conninfo: &str, users: u64, articles: u64) -> anyhow::Result<bool> {
    let (client, connection) = tokio_postgres::connect(conninfo, tokio_postgres::NoTls).await?;
    let driver = tokio::spawn(connection);
    let have_users: i64 = client
        .query_one("SELECT count(*) FROM users", &[])
        .await?
        .get(0);
    let have_articles: i64 = client
        .query_one("SELECT count(*) FROM articles", &[])
        .await?
        .get(0);
    drop(client);
    let _ = driver.await;
    let more_users = users.saturating_sub(have_users as u64);
    let more_articles = articles.saturating_sub(have_articles as u64);
    if more_users > 0 || more_articles > 0 {
        crate::seed::run(
            conninfo,
            &crate::seed::Plan::new(more_users.max(1), more_articles),
            false,
        )
        .await?;
        return Ok(true);
    }
    Ok(false)
}

/// The first column of each query's rows, as text, over one connection.
async fn text_columns<const N: usize>(
    conninfo: &str,
    queries: [&str; N],
) -> anyhow::Result<[Vec<String>; N]> {
    let (client, connection) = tokio_postgres::connect(conninfo, tokio_postgres::NoTls).await?;
    let driver = tokio::spawn(connection);
    let mut columns: [Vec<String>; N] = std::array::from_fn(|_| Vec::new());
    for (query, column) in queries.iter().zip(columns.iter_mut()) {
        *column = client
            .query(*query, &[])
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
    }
    drop(client);
    let _ = driver.await;
    Ok(columns)
}

/// The read mix: profiles and articles through the API and as pages.
async fn read_mix(conninfo: &str, front: &str) -> anyhow::Result<Vec<String>> {
    let [users, slugs] = text_columns(
        conninfo,
        [
            "SELECT username FROM users ORDER BY random() LIMIT 300",
            "SELECT slug FROM articles ORDER BY random() LIMIT 300",
        ],
    )
    .await?;
    let mut urls = Vec::new();
    for user in &users {
        urls.push(format!("{front}/api/profiles/{user}"));
    }
    for slug in &slugs {
        urls.push(format!("{front}/api/articles/{slug}"));
        urls.push(format!("{front}/article/{slug}"));
    }
    urls.shuffle(&mut rand::rng());
    Ok(urls)
}

/// Requests every path once; returns queries per request and the hit ratio.
async fn sample(front: &str, paths: &[String]) -> anyhow::Result<(f64, Option<f64>)> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    // The first pass warms caches (PostgreSQL's and Redis); the second is counted.
    for path in paths {
        client.get(format!("{front}{path}")).send().await?;
    }
    let mut queries = 0u64;
    let mut hits = 0u64;
    let mut cached = 0u64;
    for path in paths {
        let response = client
            .get(format!("{front}{path}"))
            .send()
            .await
            .with_context(|| format!("reading {path}"))?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string)
        };
        queries += header("x-db-queries")
            .and_then(|value| value.parse().ok())
            .unwrap_or(0);
        if let Some(outcome) = header("x-cache") {
            cached += 1;
            hits += u64::from(outcome == "hit");
        }
    }
    let count = paths.len().max(1) as f64;
    Ok((
        queries as f64 / count,
        (cached > 0).then(|| hits as f64 / cached as f64),
    ))
}

/// The header of a two-column comparison: `before`, `after`, their ratio.
fn comparison_header(before: &str, after: &str, ratio: &str) {
    println!("{:<34} {:>14} {:>14} {:>10}", "", before, after, ratio);
}

/// One row of a two-column comparison, with `after ÷ before`.
fn comparison_row(label: &str, before: f64, after: f64, unit: &str) {
    println!(
        "{label:<34} {:>11.1}{unit:<3} {:>11.1}{unit:<3} {:>10}",
        before,
        after,
        ratio(before, after)
    );
}

/// `after ÷ before` as `1.23×`, or `-` when there is nothing to divide by.
fn ratio(before: f64, after: f64) -> String {
    if before > 0.0 {
        format!("{:.2}×", after / before)
    } else {
        "-".to_string()
    }
}

fn print_report(results: &[PhaseResult], rate: u64, args: &CacheArgs, urls: usize) {
    let [phase3, phase4] = results else {
        return;
    };
    println!(
        "\nCache tier benchmark: {urls} profile and article reads (API and pages), {} connections, {} s per run\n",
        args.connections, args.duration
    );
    comparison_header("phase 3", "phase 4", "4 ÷ 3");
    let row = comparison_row;
    row(
        "peak throughput (wrk)",
        phase3.peak.requests_per_second,
        phase4.peak.requests_per_second,
        "/s",
    );
    row("p50 at peak", phase3.peak.p50_ms, phase4.peak.p50_ms, "ms");
    row("p99 at peak", phase3.peak.p99_ms, phase4.peak.p99_ms, "ms");
    row(
        &format!("p50 at {rate}/s (oha)"),
        phase3.fixed.p50_ms,
        phase4.fixed.p50_ms,
        "ms",
    );
    row(
        &format!("p99 at {rate}/s (oha)"),
        phase3.fixed.p99_ms,
        phase4.fixed.p99_ms,
        "ms",
    );
    row(
        "database queries per request",
        phase3.queries_per_request,
        phase4.queries_per_request,
        "",
    );
    println!(
        "{:<34} {:>14} {:>13.0}%",
        "cache hits",
        "-",
        phase4.hit_ratio.unwrap_or_default() * 100.0
    );
    println!(
        "{:<34} {:>14} {:>14}",
        "errors",
        phase3.peak.errors + phase3.fixed.errors,
        phase4.peak.errors + phase4.fixed.errors
    );
}
