//! `million load`: traffic through the front door of the running phase, a
//! mix of real pages and API calls over the seeded data, for a bounded time.
//!
//! Two measurements, because one tool cannot give both honestly:
//! - peak throughput with `wrk` (as many requests as the site will take);
//! - latency with `oha` at a fixed rate (half the peak by default) and
//!   latency correction, so slow responses are not hidden by the load tool
//!   waiting for them ("coordinated omission").

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use rand::seq::IndexedRandom;
use serde::Deserialize;

use crate::stack::state::StackState;

/// Options of `million load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Where to send traffic (default: the running stack's front door).
    #[arg(long)]
    pub target: Option<String>,
    /// Seconds each measurement runs.
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
    /// Open connections.
    #[arg(long, default_value_t = 64)]
    pub connections: u64,
    /// Requests per second for the latency run (default: half the measured peak).
    #[arg(long)]
    pub rate: Option<u64>,
}

/// One measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
    pub requests: u64,
}

/// Runs both measurements and prints them.
pub async fn run(args: LoadArgs) -> anyhow::Result<()> {
    let target = match args.target {
        Some(target) => target.trim_end_matches('/').to_string(),
        None => default_target()?,
    };
    let wrk = tool("wrk", "sudo apt-get install wrk (or `make phase-deps`)")?;
    let oha = tool("oha", "cargo install oha --locked").ok();
    let paths = request_mix(&target).await?;
    let work = tempfile_dir()?;
    eprintln!(
        "Load on {target}: {} requests in the mix (pages and API), {} connections, {} s per run.",
        paths.len(),
        args.connections,
        args.duration
    );

    eprintln!("Peak throughput (wrk, as fast as it answers)…");
    let peak = run_wrk(
        &wrk,
        &target,
        &paths,
        &work,
        args.duration,
        args.connections,
    )?;
    let rate = args
        .rate
        .unwrap_or_else(|| ((peak.requests_per_second / 2.0) as u64).max(1));
    let latency = match &oha {
        Some(oha) => {
            eprintln!(
                "Latency at a fixed {rate} requests/s (oha, corrected for coordinated omission)…"
            );
            Some(run_oha(
                oha,
                &target,
                &paths,
                &work,
                args.duration,
                args.connections,
                rate,
            )?)
        }
        None => {
            eprintln!(
                "oha is not installed (`cargo install oha --locked`): skipping the fixed-rate latency run. \
                 wrk's latency below understates the tail."
            );
            None
        }
    };
    let _ = std::fs::remove_dir_all(&work);

    println!(
        "\n{:<32} {:>12} {:>10} {:>10} {:>8}",
        "", "requests/s", "p50", "p99", "errors"
    );
    print_row("peak (wrk)", &peak);
    if let Some(latency) = &latency {
        print_row(&format!("fixed rate {rate}/s (oha)"), latency);
    }
    if peak.errors > 0 || latency.as_ref().is_some_and(|latency| latency.errors > 0) {
        println!("\nSome requests failed: the logs in .million/stack/logs/ say why.");
    }
    Ok(())
}

fn print_row(label: &str, measurement: &Measurement) {
    println!(
        "{:<32} {:>12.0} {:>8.1}ms {:>8.1}ms {:>8}",
        label,
        measurement.requests_per_second,
        measurement.p50_ms,
        measurement.p99_ms,
        measurement.errors
    );
}

fn default_target() -> anyhow::Result<String> {
    let state_dir = std::env::current_dir()?.join(".million").join("stack");
    match StackState::load(&state_dir)? {
        Some(state) if state.supervisor_alive() => Ok(state.front_url),
        _ => bail!(
            "no stack is running here: start one (`make phase3`) or pass --target http://host:port"
        ),
    }
}

pub(crate) fn tool(name: &str, install: &str) -> anyhow::Result<PathBuf> {
    let mut folders: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        folders.push(PathBuf::from(home).join(".cargo/bin"));
    }
    folders
        .into_iter()
        .map(|folder| folder.join(name))
        .find(|path| path.is_file())
        .with_context(|| format!("{name} is not installed: {install}"))
}

pub(crate) fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("million-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[derive(Deserialize)]
struct ArticleList {
    articles: Vec<ArticleItem>,
}

#[derive(Deserialize)]
struct ArticleItem {
    slug: String,
    author: Author,
}

#[derive(Deserialize)]
struct Author {
    username: String,
}

#[derive(Deserialize)]
struct TagList {
    tags: Vec<String>,
}

/// `GET target + path`: status and body. Over HTTPS (phase 6) the front
/// door's certificate is verified against the stack's own authority.
async fn get(target: &str, path: &str) -> anyhow::Result<(u16, String)> {
    let url = format!("{target}{path}");
    if target.starts_with("https://") {
        let authority = std::env::current_dir()?.join(".million/ca/ca.pem");
        let answer = tokio::time::timeout(
            Duration::from_secs(10),
            crate::tls::https_get(&url, &authority),
        )
        .await
        .with_context(|| format!("{url} did not answer within 10 s"))??;
        return Ok((answer.status, answer.body));
    }
    let response = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?
        .get(&url)
        .send()
        .await?;
    Ok((response.status().as_u16(), response.text().await?))
}

/// Paths over real data: pages and API calls in a fixed proportion.
async fn request_mix(target: &str) -> anyhow::Result<Vec<String>> {
    let health = get(target, "/healthz").await;
    if !matches!(&health, Ok((status, _)) if (200..300).contains(status)) {
        bail!("nothing healthy answers at {target}: start a phase first (`make phase3`)");
    }
    let (_, body) = get(target, "/api/articles?limit=100").await?;
    let articles: ArticleList = serde_json::from_str(&body).context("reading the article list")?;
    let (_, body) = get(target, "/api/tags").await?;
    let tags: TagList = serde_json::from_str(&body).context("reading the tags")?;
    if articles.articles.is_empty() {
        bail!("the site has no articles to read: seed it first (`make phase-seed`)");
    }
    let mut rng = rand::rng();
    let mut paths = Vec::new();
    for article in &articles.articles {
        let tag = tags.tags.choose(&mut rng).cloned().unwrap_or_default();
        let slug = &article.slug;
        let user = &article.author.username;
        // Per article: four pages and four API calls.
        paths.push("/".to_string());
        paths.push(format!("/article/{slug}"));
        paths.push(format!("/profile/{user}"));
        paths.push(format!("/?tag={tag}"));
        paths.push("/api/articles".to_string());
        paths.push(format!("/api/articles/{slug}"));
        paths.push(format!("/api/profiles/{user}"));
        paths.push("/api/tags".to_string());
    }
    Ok(paths)
}

pub(crate) fn run_wrk(
    wrk: &Path,
    target: &str,
    paths: &[String],
    work: &Path,
    seconds: u64,
    connections: u64,
) -> anyhow::Result<Measurement> {
    let requests: Vec<Request> = paths.iter().map(|path| Request::get(path)).collect();
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get() as u64)
        .max(1);
    run_wrk_with(&WrkRun {
        wrk,
        target,
        requests: &requests,
        work,
        seconds,
        connections,
        threads,
        progress: true,
    })
}

/// A request for wrk to send: method, path, headers and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: &'static str,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

impl Request {
    /// `GET path`.
    pub fn get(path: &str) -> Self {
        Self {
            method: "GET",
            path: path.to_string(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// `POST path` with a JSON body.
    pub fn post_json(path: &str, body: String) -> Self {
        Self {
            method: "POST",
            path: path.to_string(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: Some(body),
        }
    }

    /// The same request with one more header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// One wrk run: `requests` sent in turn over `connections` for `seconds`.
pub(crate) struct WrkRun<'a> {
    pub wrk: &'a Path,
    pub target: &'a str,
    pub requests: &'a [Request],
    /// A folder for the script.
    pub work: &'a Path,
    pub seconds: u64,
    pub connections: u64,
    pub threads: u64,
    /// Show a progress bar (off when another tool shows one meanwhile).
    pub progress: bool,
}

/// Runs wrk and reads its report.
pub(crate) fn run_wrk_with(run: &WrkRun) -> anyhow::Result<Measurement> {
    static SCRIPTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let number = SCRIPTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let script = run.work.join(format!("wrk-{number}.lua"));
    std::fs::write(&script, wrk_script(run.requests))?;
    let mut command = Command::new(run.wrk);
    command
        .arg(format!(
            "-t{}",
            run.threads.clamp(1, run.connections.max(1))
        ))
        .arg(format!("-c{}", run.connections))
        .arg(format!("-d{}s", run.seconds))
        .arg("--latency")
        .arg("-s")
        .arg(&script)
        .arg(run.target);
    let output = if run.progress {
        run_with_progress(command, run.seconds, "wrk")?
    } else {
        command.output().context("running wrk")?
    };
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed: {}{}",
            text,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse_wrk(&text).with_context(|| format!("reading wrk's report:\n{text}"))
}

/// A wrk script that sends `requests` in turn (each thread walks the list from its start).
pub fn wrk_script(requests: &[Request]) -> String {
    let formatted: Vec<String> = requests
        .iter()
        .map(|request| {
            let headers: Vec<String> = request
                .headers
                .iter()
                .map(|(name, value)| format!("[{}] = {}", lua_string(name), lua_string(value)))
                .collect();
            format!(
                "wrk.format({}, {}, {{ {} }}, {})",
                lua_string(request.method),
                lua_string(&request.path),
                headers.join(", "),
                request
                    .body
                    .as_deref()
                    .map_or("nil".to_string(), lua_string)
            )
        })
        .collect();
    format!(
        "local requests = {{}}\n\
         local n = 0\n\
         init = function(args)\n\
         \x20 requests = {{ {} }}\n\
         end\n\
         request = function()\n\
         \x20 n = n + 1\n\
         \x20 return requests[(n % #requests) + 1]\n\
         end\n",
        formatted.join(",\n    ")
    )
}

/// `text` as a Lua string literal: printable ASCII as is, every other byte escaped.
fn lua_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for byte in text.bytes() {
        match byte {
            b'"' | b'\\' => {
                quoted.push('\\');
                quoted.push(byte as char);
            }
            0x20..=0x7e => quoted.push(byte as char),
            other => quoted.push_str(&format!("\\{other:03}")),
        }
    }
    quoted.push('"');
    quoted
}

/// Runs a load tool for about `seconds`, showing a bar as time passes.
fn run_with_progress(
    mut command: Command,
    seconds: u64,
    name: &str,
) -> anyhow::Result<std::process::Output> {
    let child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("running {name}"))?;
    let bar = indicatif::ProgressBar::new(seconds);
    bar.set_style(
        indicatif::ProgressStyle::with_template("  {prefix:<4} [{bar:30}] {pos}/{len} s")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(name.to_string());
    let started = std::time::Instant::now();
    let waiter = std::thread::spawn(move || child.wait_with_output());
    while !waiter.is_finished() {
        bar.set_position(started.elapsed().as_secs().min(seconds));
        std::thread::sleep(Duration::from_millis(200));
    }
    bar.finish_and_clear();
    waiter
        .join()
        .map_err(|_| anyhow::anyhow!("{name} could not be waited for"))?
        .with_context(|| format!("waiting for {name}"))
}

/// Reads wrk's text report.
pub fn parse_wrk(text: &str) -> anyhow::Result<Measurement> {
    let mut measurement = Measurement {
        requests_per_second: 0.0,
        p50_ms: 0.0,
        p99_ms: 0.0,
        errors: 0,
        requests: 0,
    };
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", value] => measurement.p50_ms = milliseconds(value)?,
            ["99%", value] => measurement.p99_ms = milliseconds(value)?,
            ["Requests/sec:", value] => measurement.requests_per_second = value.parse()?,
            [count, "requests", "in", ..] => measurement.requests = count.parse()?,
            ["Non-2xx", "or", "3xx", "responses:", count] => {
                measurement.errors += count.parse::<u64>()?
            }
            ["Socket", "errors:", rest @ ..] => {
                measurement.errors += rest
                    .iter()
                    .filter_map(|word| word.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    if measurement.requests == 0 {
        bail!("no requests were counted");
    }
    Ok(measurement)
}

fn milliseconds(value: &str) -> anyhow::Result<f64> {
    let split = value
        .find(|c: char| c.is_ascii_alphabetic())
        .with_context(|| format!("no unit in {value}"))?;
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse()?;
    Ok(match unit {
        "us" => number / 1000.0,
        "ms" => number,
        "s" => number * 1000.0,
        "m" => number * 60_000.0,
        other => bail!("unknown time unit {other}"),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OhaReport {
    summary: OhaSummary,
    latency_percentiles: OhaPercentiles,
    #[serde(default)]
    status_code_distribution: std::collections::HashMap<String, u64>,
    #[serde(default)]
    error_distribution: std::collections::HashMap<String, u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OhaSummary {
    requests_per_sec: f64,
}

#[derive(Deserialize)]
struct OhaPercentiles {
    p50: Option<f64>,
    p99: Option<f64>,
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn run_oha(
    oha: &Path,
    target: &str,
    paths: &[String],
    work: &Path,
    seconds: u64,
    connections: u64,
    rate: u64,
) -> anyhow::Result<Measurement> {
    let urls = work.join("urls.txt");
    let lines: Vec<String> = paths.iter().map(|path| format!("{target}{path}")).collect();
    std::fs::write(&urls, lines.join("\n"))?;
    let mut command = Command::new(oha);
    command
        .arg("-z")
        .arg(format!("{seconds}s"))
        .arg("-c")
        .arg(connections.to_string())
        .arg("-q")
        .arg(rate.to_string())
        .args([
            "--latency-correction",
            "--no-tui",
            "--output-format",
            "json",
            "--urls-from-file",
        ])
        .arg(&urls);
    let output = run_with_progress(command, seconds, "oha")?;
    if !output.status.success() {
        bail!("oha failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    parse_oha(&String::from_utf8_lossy(&output.stdout))
}

/// Reads oha's JSON report.
pub fn parse_oha(json: &str) -> anyhow::Result<Measurement> {
    let report: OhaReport = serde_json::from_str(json).context("reading oha's JSON report")?;
    let ok: u64 = report
        .status_code_distribution
        .iter()
        .filter(|(code, _)| code.starts_with('2') || code.starts_with('3'))
        .map(|(_, count)| count)
        .sum();
    let bad_status: u64 = report
        .status_code_distribution
        .iter()
        .filter(|(code, _)| !(code.starts_with('2') || code.starts_with('3')))
        .map(|(_, count)| count)
        .sum();
    // Requests cut off by the end of the run are not failures.
    let errors: u64 = report
        .error_distribution
        .iter()
        .filter(|(kind, _)| !kind.contains("deadline"))
        .map(|(_, count)| count)
        .sum();
    Ok(Measurement {
        requests_per_second: report.summary.requests_per_sec,
        p50_ms: report.latency_percentiles.p50.unwrap_or_default() * 1000.0,
        p99_ms: report.latency_percentiles.p99.unwrap_or_default() * 1000.0,
        errors: errors + bad_status,
        requests: ok + bad_status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRK: &str = "Running 10s test @ http://127.0.0.1:8080
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    10.12ms    5.01ms  80.00ms   90.00%
  Latency Distribution
     50%    9.50ms
     75%   12.00ms
     90%   15.00ms
     99%  950.00us
  61234 requests in 10.00s, 512.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 4
Requests/sec:   6123.40
Transfer/sec:     51.20MB
";

    #[test]
    fn wrk_reports_are_read() {
        let measured = parse_wrk(WRK).unwrap();
        assert_eq!(measured.requests, 61234);
        assert_eq!(measured.requests_per_second, 6123.4);
        assert_eq!(measured.p50_ms, 9.5);
        assert!((measured.p99_ms - 0.95).abs() < 1e-9);
        assert_eq!(measured.errors, 9);
    }

    #[test]
    fn wrk_scripts_carry_methods_headers_and_bodies() {
        let script = wrk_script(&[
            Request::get("/api/user").with_header("Authorization", "Token a.b.c"),
            Request::post_json("/api/users/login", r#"{"user":{"email":"é"}}"#.to_string()),
        ]);
        assert!(script.contains(
            r#"wrk.format("GET", "/api/user", { ["Authorization"] = "Token a.b.c" }, nil)"#
        ));
        assert!(script.contains(r#"["Content-Type"] = "application/json""#));
        // Quotes are escaped and bytes beyond ASCII are spelled out.
        assert!(script.contains(r#""{\"user\":{\"email\":\"\195\169\"}}""#));
        assert!(script.contains("return requests[(n % #requests) + 1]"));
    }

    #[test]
    fn oha_reports_are_read() {
        let json = r#"{"summary":{"successRate":1.0,"requestsPerSec":2000.5},
            "latencyPercentiles":{"p50":0.002,"p99":0.0125},
            "statusCodeDistribution":{"200":39000,"502":10},
            "errorDistribution":{"aborted due to deadline":64,"connection refused":2}}"#;
        let measured = parse_oha(json).unwrap();
        assert_eq!(measured.requests_per_second, 2000.5);
        assert_eq!(measured.p50_ms, 2.0);
        assert_eq!(measured.p99_ms, 12.5);
        assert_eq!(measured.errors, 12);
    }
}
