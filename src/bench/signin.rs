//! `million bench signin`: does a storm of sign-ins starve the reads?
//!
//! One app server (phase 1, no cache tier). Reads — articles and profiles
//! through the API — run at a fixed, moderate rate with oha (so a slow answer
//! is not hidden by the tool waiting for it), first alone, then while wrk
//! sends `POST /api/users/login` with valid credentials as fast as the
//! server answers. The report gives the reads' p50 and p99 both ways, the
//! sign-ins per second achieved, and that against what the cores could hash
//! at best: cores ÷ the time of one hash, timed here in-process with the
//! application's own password code. The goals: reads' p99 under the storm
//! within 2× of idle, and sign-ins at least 0.7 × cores ÷ hash time.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use rand::seq::SliceRandom;
use secrecy::SecretString;

use super::dataset::{DataSet, login_body, thousands};
use crate::auth::password::Passwords;
use crate::load::{
    Measurement, Request, WrkRun, run_oha, run_wrk, run_wrk_with, tempfile_dir, tool,
};
use crate::seed::PASSWORD;

/// Reads' p99 under the storm may be at most this many times idle's.
const P99_GOAL: f64 = 2.0;
/// Sign-ins per second should reach this share of cores ÷ hash time.
const SIGNIN_GOAL: f64 = 0.7;

/// Options of `million bench signin`.
#[derive(Debug, Args)]
pub struct SigninArgs {
    /// Users in the data set (shared with `million bench scale`'s small one).
    #[arg(long, default_value_t = 10_000)]
    pub users: u64,
    /// Articles in the data set.
    #[arg(long, default_value_t = 20_000)]
    pub articles: u64,
    /// Seconds of each measurement.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Reads per second (default: a quarter of the reads' peak, measured first).
    #[arg(long)]
    pub rate: Option<u64>,
    /// Connections for the reads.
    #[arg(long, default_value_t = 32)]
    pub connections: u64,
    /// Connections signing in at once during the storm.
    #[arg(long, default_value_t = 8)]
    pub storm_connections: u64,
}

/// Runs the storm and prints the report.
pub async fn run(args: SigninArgs) -> anyhow::Result<()> {
    let wrk = tool("wrk", "sudo apt-get install wrk (or `make phase-deps`)")?;
    let oha = tool("oha", "cargo install oha --locked")?;
    let set = DataSet::open(args.users, args.articles, 1).await?;
    let outcome = measure(&set, &args, &wrk, &oha).await;
    let described = set.describe();
    set.close().await;
    let report = outcome?;
    report.print(&described, &args);
    Ok(())
}

/// Everything the storm leg measured.
struct Report {
    hash: Duration,
    alone: Duration,
    cores: u64,
    rate: u64,
    peak: Measurement,
    idle: Measurement,
    stormy: Measurement,
    storm: Measurement,
    reads: usize,
}

async fn measure(
    set: &DataSet,
    args: &SigninArgs,
    wrk: &std::path::Path,
    oha: &std::path::Path,
) -> anyhow::Result<Report> {
    let mut paths: Vec<String> = set
        .sample("articles", "slug", 100)
        .await?
        .iter()
        .map(|slug| format!("/api/articles/{slug}"))
        .chain(
            set.sample("users", "username", 100)
                .await?
                .iter()
                .map(|user| format!("/api/profiles/{user}")),
        )
        .collect();
    paths.shuffle(&mut rand::rng());
    let client = set.client().await?;
    let accounts = client
        .query("SELECT email FROM users ORDER BY id LIMIT 64", &[])
        .await?;
    let emails: Vec<String> = accounts.iter().map(|row| row.get(0)).collect();
    // The accounts signing in get a hash made with today's parameters: the
    // data set may have been seeded under others, and a PHC string verifies
    // with the parameters it names.
    let stored = crate::auth::password::hash_phc(PASSWORD.as_bytes())?;
    client
        .execute(
            "UPDATE users SET password_hash = $1 WHERE email = ANY($2)",
            &[&stored, &emails],
        )
        .await?;

    eprintln!("\nTiming one password hash in-process (the application's own code)…");
    let hash = hash_time(stored).await?;
    let alone = signin_alone(&set.app, &emails).await?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
    eprintln!(
        "  one hash {:.1} ms; one sign-in over HTTP, nothing else running, {:.1} ms",
        ms(hash),
        ms(alone)
    );

    let work = tempfile_dir()?;
    eprintln!("Reads' peak (wrk, 5 s), to choose a moderate rate…");
    let peak = run_wrk(wrk, &set.app, &paths, &work, 5, args.connections)?;
    let rate = args
        .rate
        .unwrap_or(((peak.requests_per_second / 4.0) as u64).max(1));
    eprintln!(
        "Reads alone at a fixed {rate}/s (oha, {} s)…",
        args.duration
    );
    let idle = run_oha(
        oha,
        &set.app,
        &paths,
        &work,
        args.duration,
        args.connections,
        rate,
    )?;

    eprintln!(
        "The same reads while {} connections sign in as fast as they are answered (wrk)…",
        args.storm_connections
    );
    let logins: Vec<Request> = emails
        .iter()
        .map(|email| Request::post_json("/api/users/login", login_body(email)))
        .collect();
    // The storm starts first and ends last, so the reads run inside it.
    let storm_seconds = args.duration + 3;
    let storm = {
        let (wrk, app, work) = (wrk.to_path_buf(), set.app.clone(), work.clone());
        let connections = args.storm_connections;
        std::thread::spawn(move || {
            run_wrk_with(&WrkRun {
                wrk: &wrk,
                target: &app,
                requests: &logins,
                work: &work,
                seconds: storm_seconds,
                connections,
                threads: 1,
                progress: false,
            })
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stormy = run_oha(
        oha,
        &set.app,
        &paths,
        &work,
        args.duration,
        args.connections,
        rate,
    );
    let storm = storm
        .join()
        .map_err(|_| anyhow::anyhow!("the sign-in storm could not be waited for"))?
        .context("the sign-in storm")?;
    let stormy = stormy?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(Report {
        hash,
        alone,
        cores,
        rate,
        peak,
        idle,
        stormy,
        storm,
        reads: paths.len(),
    })
}

/// The median time of one password verification, as sign-in does it.
async fn hash_time(stored: String) -> anyhow::Result<Duration> {
    let passwords = Passwords::new(1, Duration::from_secs(60));
    let password = SecretString::from(PASSWORD.to_string());
    let mut times = Vec::new();
    // The first one is not counted: it pages in the code and the memory.
    for round in 0..10 {
        let started = Instant::now();
        let matched = passwords
            .verify(&password, Some(stored.clone()))
            .await
            .map_err(|error| anyhow::anyhow!("verifying a password: {error}"))?;
        if !matched {
            bail!("the seeded password did not verify");
        }
        if round > 0 {
            times.push(started.elapsed());
        }
    }
    Ok(median(times))
}

/// The median time of one sign-in through the API with nothing else running.
async fn signin_alone(app: &str, emails: &[String]) -> anyhow::Result<Duration> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut times = Vec::new();
    for email in emails.iter().take(5) {
        let started = Instant::now();
        let response = client
            .post(format!("{app}/api/users/login"))
            .header("Content-Type", "application/json")
            .body(login_body(email))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("signing in as {email}: {}", response.status());
        }
        times.push(started.elapsed());
    }
    Ok(median(times))
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

impl Report {
    /// Sign-ins per second that succeeded (refusals and failures left out).
    fn signins_per_second(&self) -> f64 {
        let storm = &self.storm;
        if storm.requests == 0 {
            return 0.0;
        }
        let succeeded = storm.requests.saturating_sub(storm.errors) as f64;
        storm.requests_per_second * succeeded / storm.requests as f64
    }

    fn print(&self, data: &str, args: &SigninArgs) {
        let ceiling = self.cores as f64 / self.hash.as_secs_f64();
        let signins = self.signins_per_second();
        println!(
            "\nSign-in storm: one app server on {data} (phase 1, no cache); reads: {} articles and \
             profiles (API) at a fixed {}/s (oha, {} connections; their peak alone: {}/s); \
             storm: POST /api/users/login, valid credentials (wrk, {} connections); {} s each\n",
            self.reads,
            thousands(self.rate),
            args.connections,
            thousands(self.peak.requests_per_second.round() as u64),
            args.storm_connections,
            args.duration
        );
        println!(
            "| {:<30} | {:>10} | {:>12} | {:>12} |",
            "", "idle", "under storm", "storm ÷ idle"
        );
        println!(
            "|{}|{}:|{}:|{}:|",
            "-".repeat(32),
            "-".repeat(11),
            "-".repeat(13),
            "-".repeat(13)
        );
        let row = |label: &str, idle: f64, storm: f64, unit: &str| {
            let ratio = super::ratio(idle, storm);
            println!(
                "| {label:<30} | {:>10} | {:>12} | {ratio:>12} |",
                format!("{idle:.1}{unit}"),
                format!("{storm:.1}{unit}")
            );
        };
        row("reads p50", self.idle.p50_ms, self.stormy.p50_ms, " ms");
        row("reads p99", self.idle.p99_ms, self.stormy.p99_ms, " ms");
        row(
            "reads/s",
            self.idle.requests_per_second,
            self.stormy.requests_per_second,
            "",
        );
        println!(
            "| {:<30} | {:>10} | {:>12} | {:>12} |",
            "read errors", self.idle.errors, self.stormy.errors, ""
        );
        println!(
            "| {:<30} | {:>10} | {:>12} | {:>12} |",
            "sign-ins/s (200 OK)",
            "-",
            format!("{signins:.1}"),
            ""
        );
        println!(
            "| {:<30} | {:>10} | {:>12} | {:>12} |",
            "sign-ins refused or failed", "-", self.storm.errors, ""
        );
        let p99 = if self.idle.p99_ms > 0.0 {
            self.stormy.p99_ms / self.idle.p99_ms
        } else {
            0.0
        };
        println!(
            "\nOne password hash (argon2id, in-process, median of 9): {:.1} ms; one sign-in over HTTP alone: {:.1} ms.",
            ms(self.hash),
            ms(self.alone)
        );
        println!(
            "Cores ÷ hash time: {} ÷ {:.1} ms = {:.1} sign-ins/s; achieved {:.1}/s = {:.2}× of it (goal ≥ {SIGNIN_GOAL}×){}.",
            self.cores,
            ms(self.hash),
            ceiling,
            signins,
            signins / ceiling,
            verdict(signins / ceiling >= SIGNIN_GOAL)
        );
        println!(
            "Reads' p99 under the storm: {p99:.2}× idle (goal ≤ {P99_GOAL}×){}.",
            verdict(p99 <= P99_GOAL)
        );
        if autogroups_on() {
            println!(
                "Autogroups are on (kernel.sched_autogroup_enabled = 1): the kernel weighs the \
                 application's threads, hashing included, as one group against PostgreSQL's and \
                 the load tools', so hashing's low priority holds only inside the application. \
                 `sysctl kernel.sched_autogroup_enabled=0` (as root) measures without them."
            );
        }
    }
}

/// Whether the kernel groups processes by session for scheduling.
fn autogroups_on() -> bool {
    std::fs::read_to_string("/proc/sys/kernel/sched_autogroup_enabled")
        .is_ok_and(|value| value.trim() == "1")
}

fn verdict(met: bool) -> &'static str {
    if met { ": met" } else { ": NOT met" }
}
