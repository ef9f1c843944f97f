//! `million bench scale`: does a request cost the same on a big site as on
//! a small one?
//!
//! The same binary serves a small data set and a large one, each on a
//! one-server stack of its own (phase 1, no cache tier), side by side. Every
//! API endpoint and page is driven with wrk on both, small and large
//! alternating, and the report gives each one's throughput on both and the
//! ratio large ÷ small. The project's goal: every endpoint keeps at least
//! half of its small-site throughput on the large site.

use anyhow::{Context, bail};
use clap::Args;

use super::dataset::{DataSet, api_token, browser_cookie, thousands};
use crate::domain::paging::Cursor;
use crate::load::{Measurement, Request, WrkRun, run_wrk_with, tempfile_dir, tool};

/// The throughput ratio every endpoint should keep.
const GOAL: f64 = 0.5;

/// Options of `million bench scale`.
#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// Users in the large data set.
    #[arg(long, default_value_t = 1_000_000)]
    pub users: u64,
    /// Articles in the large data set.
    #[arg(long, default_value_t = 2_000_000)]
    pub articles: u64,
    /// Users in the small data set.
    #[arg(long, default_value_t = 10_000)]
    pub small_users: u64,
    /// Articles in the small data set.
    #[arg(long, default_value_t = 20_000)]
    pub small_articles: u64,
    /// Seconds of each wrk run.
    #[arg(long, default_value_t = 3)]
    pub duration: u64,
    /// Runs per endpoint and data set, small and large alternating; the
    /// best counts (on a shared machine a neighbour only ever slows a run).
    #[arg(long, default_value_t = 2)]
    pub rounds: u64,
    /// Open connections.
    #[arg(long, default_value_t = 32)]
    pub connections: u64,
    /// Random articles and people the endpoints of one item rotate through.
    #[arg(long, default_value_t = 100)]
    pub sample: usize,
}

/// What one data set's URLs are made of, picked from its data.
struct Picks {
    /// The most used tag, and its articles.
    tag: (String, i64),
    /// The author with the most articles, and how many.
    author: (String, i64),
    /// The account with the most favorites, and how many.
    fan: (String, i64),
    /// The account following the most people (among those with
    /// favorites), how many it follows, its API token and its browser's
    /// cookies.
    reader: (String, i64),
    token: String,
    cookie: String,
    /// A cursor halfway down the global list, and how deep that is.
    cursor: (String, i64),
    slugs: Vec<String>,
    people: Vec<String>,
}

/// An endpoint and the requests that exercise it on one data set.
struct Endpoint {
    label: &'static str,
    requests: Vec<Request>,
}

/// One endpoint's figures on both data sets.
struct Row {
    label: &'static str,
    small: Measurement,
    large: Measurement,
    queries: (Option<u64>, Option<u64>),
}

/// Runs the comparison and prints it.
pub async fn run(args: ScaleArgs) -> anyhow::Result<()> {
    if args.users <= args.small_users || args.articles <= args.small_articles {
        bail!("the large data set must be larger than the small one");
    }
    let wrk = tool("wrk", "sudo apt-get install wrk (or `make phase-deps`)")?;
    // Two databases share the machine: each is sized for half of it.
    let small = DataSet::open(args.small_users, args.small_articles, 2).await?;
    let large = DataSet::open(args.users, args.articles, 2).await?;
    eprintln!("\nPicking the URLs from the data…");
    let small_picks = picks(&small, args.sample).await?;
    let large_picks = picks(&large, args.sample).await?;
    for (set, picks) in [(&small, &small_picks), (&large, &large_picks)] {
        describe(set, picks);
    }
    let small_endpoints = endpoints(&small_picks);
    let large_endpoints = endpoints(&large_picks);

    let work = tempfile_dir()?;
    let mut rows = Vec::new();
    eprintln!(
        "\nMeasuring {} endpoints: wrk, {} connections, best of {} × {} s on each data set",
        small_endpoints.len(),
        args.connections,
        args.rounds,
        args.duration
    );
    for (index, (on_small, on_large)) in small_endpoints.iter().zip(&large_endpoints).enumerate() {
        let queries = (
            check(&small.app, on_small).await?,
            check(&large.app, on_large).await?,
        );
        let mut best: [Option<Measurement>; 2] = [None, None];
        for round in 0..args.rounds.max(1) {
            // Alternate which goes first, so a drift in the machine's load
            // favours neither.
            let order = if (index as u64 + round).is_multiple_of(2) {
                [0, 1]
            } else {
                [1, 0]
            };
            for which in order {
                let (set, endpoint) = if which == 0 {
                    (&small, on_small)
                } else {
                    (&large, on_large)
                };
                let measured = run_wrk_with(&WrkRun {
                    wrk: &wrk,
                    target: &set.app,
                    requests: &endpoint.requests,
                    work: &work,
                    seconds: args.duration,
                    connections: args.connections,
                    threads: 2,
                    progress: true,
                })?;
                let slot = &mut best[which];
                if slot
                    .as_ref()
                    .is_none_or(|kept| measured.requests_per_second > kept.requests_per_second)
                {
                    *slot = Some(measured);
                }
            }
        }
        let [Some(small_run), Some(large_run)] = best else {
            bail!("no measurement of {}", on_small.label);
        };
        eprintln!(
            "  {:<40} {:>8.0}/s {:>8.0}/s {:>6.2}×",
            on_small.label,
            small_run.requests_per_second,
            large_run.requests_per_second,
            ratio(&small_run, &large_run)
        );
        rows.push(Row {
            label: on_small.label,
            small: small_run,
            large: large_run,
            queries,
        });
    }
    let _ = std::fs::remove_dir_all(&work);
    let (small_text, large_text) = (small.describe(), large.describe());
    small.close().await;
    large.close().await;
    print_report(&rows, &small_text, &large_text, &args);
    Ok(())
}

fn ratio(small: &Measurement, large: &Measurement) -> f64 {
    if small.requests_per_second > 0.0 {
        large.requests_per_second / small.requests_per_second
    } else {
        0.0
    }
}

/// Picks the URLs' ingredients from `set`'s database, and signs in.
async fn picks(set: &DataSet, sample: usize) -> anyhow::Result<Picks> {
    let client = set.client().await?;
    let pair = |row: tokio_postgres::Row| -> (String, i64) { (row.get(0), row.get(1)) };
    let tag = pair(
        client
            .query_one(
                "SELECT name, articles_count::int8 FROM tags ORDER BY articles_count DESC, name LIMIT 1",
                &[],
            )
            .await
            .context("finding the most used tag")?,
    );
    let author = pair(
        client
            .query_one(
                "SELECT username, articles_count::int8 FROM users ORDER BY articles_count DESC, id LIMIT 1",
                &[],
            )
            .await?,
    );
    let fan = pair(
        client
            .query_one(
                "SELECT username, favorites_count::int8 FROM users ORDER BY favorites_count DESC, id LIMIT 1",
                &[],
            )
            .await?,
    );
    let reader = client
        .query_one(
            "SELECT u.username, u.email, count(*) FROM follows f JOIN users u ON u.id = f.follower_id \
             WHERE u.favorites_count > 0 GROUP BY u.id ORDER BY count(*) DESC, u.id LIMIT 1",
            &[],
        )
        .await
        .context("finding someone who follows many")?;
    let email: String = reader.get(1);
    let total: i64 = client
        .query_one("SELECT sum(articles)::int8 FROM article_counts", &[])
        .await?
        .get(0);
    let depth = total / 2;
    let middle = client
        .query_one(
            "SELECT created_at, id FROM articles ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 1",
            &[&depth],
        )
        .await
        .context("finding the middle of the list")?;
    let cursor = Cursor {
        at: middle.get(0),
        id: middle.get(1),
    };
    check_cursor_links(&set.app).await?;
    Ok(Picks {
        tag,
        author,
        fan,
        reader: (reader.get(0), reader.get(2)),
        token: api_token(&set.app, &email).await?,
        cookie: browser_cookie(&set.app, &email).await?,
        cursor: (cursor.to_param(), depth),
        slugs: set.sample("articles", "slug", sample).await?,
        people: set.sample("users", "username", sample).await?,
    })
}

/// The home page's "Older" link carries `?before=` with the cursor format
/// of [`Cursor`]: the deep cursor built from the data is one a reader could follow.
async fn check_cursor_links(app: &str) -> anyhow::Result<()> {
    let home = reqwest::get(format!("{app}/")).await?.text().await?;
    let older = home
        .split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .find_map(|href| {
            href.split_once("before=")
                .map(|(_, cursor)| cursor.to_string())
        })
        .context("the home page has no \"Older\" link with ?before=")?;
    let cursor = older.split('&').next().unwrap_or_default();
    if Cursor::parse(cursor).is_none() {
        bail!("the home page's \"Older\" cursor `{cursor}` is not one this benchmark can build");
    }
    Ok(())
}

fn describe(set: &DataSet, picks: &Picks) {
    eprintln!(
        "  {}: tag `{}` ({} articles), author `{}` ({} articles), `{}` ({} favorites), \
         reader `{}` (follows {}), cursor {} articles deep, {} articles and {} people at random",
        set.describe(),
        picks.tag.0,
        picks.tag.1,
        picks.author.0,
        picks.author.1,
        picks.fan.0,
        picks.fan.1,
        picks.reader.0,
        picks.reader.1,
        picks.cursor.1,
        picks.slugs.len(),
        picks.people.len()
    );
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Every endpoint and page, over `picks`.
fn endpoints(picks: &Picks) -> Vec<Endpoint> {
    let get = |path: String| vec![Request::get(&path)];
    let each = |items: &[String], path: &dyn Fn(&str) -> String| -> Vec<Request> {
        items
            .iter()
            .map(|item| Request::get(&path(&encode(item))))
            .collect()
    };
    let token = format!("Token {}", picks.token);
    let tag = encode(&picks.tag.0);
    let author = encode(&picks.author.0);
    let fan = encode(&picks.fan.0);
    let endpoint = |label, requests| Endpoint { label, requests };
    vec![
        endpoint("GET /healthz (bare route)", get("/healthz".into())),
        endpoint("/api/articles", get("/api/articles".into())),
        endpoint(
            "/api/articles?offset=10000",
            get("/api/articles?offset=10000".into()),
        ),
        endpoint(
            "/api/articles?tag={most used}",
            get(format!("/api/articles?tag={tag}")),
        ),
        endpoint(
            "/api/articles?author={most articles}",
            get(format!("/api/articles?author={author}")),
        ),
        endpoint(
            "/api/articles?favorited={most favs}",
            get(format!("/api/articles?favorited={fan}")),
        ),
        endpoint(
            "/api/articles/feed (follows most)",
            vec![Request::get("/api/articles/feed").with_header("Authorization", &token)],
        ),
        endpoint(
            "/api/articles/{slug}",
            each(&picks.slugs, &|slug| format!("/api/articles/{slug}")),
        ),
        endpoint(
            "/api/articles/{slug}/comments",
            each(&picks.slugs, &|slug| {
                format!("/api/articles/{slug}/comments")
            }),
        ),
        endpoint(
            "/api/profiles/{username}",
            each(&picks.people, &|user| format!("/api/profiles/{user}")),
        ),
        endpoint("/api/tags", get("/api/tags".into())),
        endpoint(
            "/api/user (token)",
            vec![Request::get("/api/user").with_header("Authorization", &token)],
        ),
        endpoint("/ (home)", get("/".into())),
        endpoint("/?tag={most used}", get(format!("/?tag={tag}"))),
        endpoint(
            "/?feed=your (signed in)",
            vec![Request::get("/?feed=your").with_header("Cookie", &picks.cookie)],
        ),
        endpoint(
            "/?before={cursor halfway down}",
            get(format!("/?before={}", picks.cursor.0)),
        ),
        endpoint(
            "/article/{slug}",
            each(&picks.slugs, &|slug| format!("/article/{slug}")),
        ),
        endpoint(
            "/profile/{most articles}",
            get(format!("/profile/{author}")),
        ),
        endpoint(
            "/profile/{most favs}/favorites",
            get(format!("/profile/{fan}/favorites")),
        ),
        endpoint("/people?q=a", get("/people?q=a".into())),
    ]
}

/// Sends each of `endpoint`'s requests once (warming the caches), insists on
/// 200, and returns the database queries the first one made.
async fn check(app: &str, endpoint: &Endpoint) -> anyhow::Result<Option<u64>> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let mut queries = None;
    for request in &endpoint.requests {
        let mut call = client.get(format!("{app}{}", request.path));
        for (name, value) in &request.headers {
            call = call.header(name, value);
        }
        let response = call.send().await.with_context(|| {
            format!("{app} does not answer: its log is under .million/bench-scale/*/logs/app-1.log")
        })?;
        if response.status() != reqwest::StatusCode::OK {
            bail!(
                "{} answered {} for {}: the benchmark's URL is wrong",
                app,
                response.status(),
                request.path
            );
        }
        queries = queries.or_else(|| {
            response
                .headers()
                .get("x-db-queries")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.parse().ok())
        });
    }
    Ok(queries)
}

fn print_report(rows: &[Row], small: &str, large: &str, args: &ScaleArgs) {
    println!(
        "\nScale: the same binary (phase 1, no cache) on {small} and on {large}; \
         wrk, {} connections, best of {} × {} s each\n",
        args.connections, args.rounds, args.duration
    );
    println!(
        "| {:<38} | {:>11} | {:>11} | {:>11} | {:>9} | {:>9} | {:>7} |",
        "endpoint",
        "small req/s",
        "large req/s",
        "large÷small",
        "p99 small",
        "p99 large",
        "queries"
    );
    println!(
        "|{}|{}:|{}:|{}:|{}:|{}:|{}:|",
        "-".repeat(40),
        "-".repeat(12),
        "-".repeat(12),
        "-".repeat(12),
        "-".repeat(10),
        "-".repeat(10),
        "-".repeat(8)
    );
    let mut below = Vec::new();
    let mut errors = 0;
    for row in rows {
        let kept = ratio(&row.small, &row.large);
        let mark = if kept < GOAL {
            below.push(row.label);
            " ✗"
        } else {
            ""
        };
        let queries = match row.queries {
            (Some(small), Some(large)) if small == large => small.to_string(),
            (Some(small), Some(large)) => format!("{small}/{large}"),
            _ => "-".to_string(),
        };
        errors += row.small.errors + row.large.errors;
        println!(
            "| {:<38} | {:>11} | {:>11} | {:>11} | {:>6.1} ms | {:>6.1} ms | {:>7} |",
            format!("`{}`", row.label),
            thousands(row.small.requests_per_second.round() as u64),
            thousands(row.large.requests_per_second.round() as u64),
            format!("{kept:.2}×{mark}"),
            row.small.p99_ms,
            row.large.p99_ms,
            queries
        );
    }
    println!();
    if below.is_empty() {
        println!("Every endpoint keeps at least {GOAL}× of its small-data throughput.");
    } else {
        println!(
            "Below the goal of {GOAL}× ({} of {}): {}",
            below.len(),
            rows.len(),
            below.join(", ")
        );
    }
    if errors > 0 {
        println!(
            "{errors} requests failed during the runs: see the app logs under .million/bench-scale/*/logs/."
        );
    }
}
