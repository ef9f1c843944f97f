//! A steady stream of reads and writes through the front door while a
//! rolling deploy runs (`make deploy LOAD=1`), counting every request that
//! failed and which release answered each one (`X-App-Version`).
//!
//! Four clients each send, in turn, a read of the article list and a new
//! comment on one article (a write that must land exactly once), as a
//! signed-in user made for the purpose, each on a fresh connection so that
//! every request meets the balancer's current view of the servers.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// Concurrent clients.
const CLIENTS: usize = 4;
/// A pause between one client's requests, so the stream is steady rather
/// than as fast as the machine goes.
const PACE: Duration = Duration::from_millis(20);

/// The front door, and how to reach it.
#[derive(Clone)]
struct Front {
    url: String,
    /// The certificate authority to verify an `https` front door against.
    authority: Option<PathBuf>,
}

/// One answer: its status, its release and its body.
struct Answer {
    status: u16,
    release: Option<String>,
    body: String,
}

impl Front {
    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<Answer> {
        let url = format!("{}{path}", self.url);
        let authorization = token.map(|token| format!("Token {token}"));
        let body = body.map(Value::to_string);
        match &self.authority {
            Some(authority) => {
                let headers: Vec<(&str, &str)> = authorization
                    .as_deref()
                    .map(|value| vec![("Authorization", value)])
                    .unwrap_or_default();
                let answer = tokio::time::timeout(
                    Duration::from_secs(30),
                    crate::tls::https_request(method, &url, &headers, body.as_deref(), authority),
                )
                .await
                .map_err(|_| anyhow::anyhow!("no answer within 30 s"))??;
                Ok(Answer {
                    status: answer.status,
                    release: answer.header("x-app-version").map(str::to_string),
                    body: answer.body,
                })
            }
            None => {
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .pool_max_idle_per_host(0)
                    .build()?;
                let mut request = client.request(method.parse()?, &url);
                if let Some(authorization) = authorization {
                    request = request.header("Authorization", authorization);
                }
                if let Some(body) = body {
                    request = request
                        .header("Content-Type", "application/json")
                        .body(body);
                }
                let response = request.send().await?;
                let status = response.status().as_u16();
                let release = response
                    .headers()
                    .get("x-app-version")
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_string);
                Ok(Answer {
                    status,
                    release,
                    body: response.text().await?,
                })
            }
        }
    }
}

/// What one client saw.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub reads: u64,
    pub writes: u64,
    /// Writes answered with success: each must have landed exactly once.
    pub acknowledged: u64,
    /// Requests that got no answer or an error status.
    pub failed: u64,
    /// The first few failures, said plainly.
    pub failures: Vec<String>,
    /// Per release: how many answers, and when the first and last came
    /// (seconds after the traffic started).
    pub releases: BTreeMap<String, (u64, f64, f64)>,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.reads += other.reads;
        self.writes += other.writes;
        self.acknowledged += other.acknowledged;
        self.failed += other.failed;
        for failure in other.failures {
            if self.failures.len() < 10 {
                self.failures.push(failure);
            }
        }
        for (release, (count, first, last)) in other.releases {
            let entry = self.releases.entry(release).or_insert((0, f64::MAX, 0.0));
            entry.0 += count;
            entry.1 = entry.1.min(first);
            entry.2 = entry.2.max(last);
        }
    }

    fn answered(&mut self, release: Option<String>, at: f64) {
        let entry = self
            .releases
            .entry(release.unwrap_or_else(|| "(none)".to_string()))
            .or_insert((0, at, at));
        entry.0 += 1;
        entry.2 = at;
    }

    fn fail(&mut self, what: String) {
        self.failed += 1;
        if self.failures.len() < 10 {
            self.failures.push(what);
        }
    }

    /// The report: totals, failures, and how the answers switched release.
    pub fn report(&self) -> String {
        let mut out = format!(
            "Traffic through the front door: {} requests ({} reads, {} writes), {} failed.\n",
            self.reads + self.writes,
            self.reads,
            self.writes,
            self.failed
        );
        for failure in &self.failures {
            out.push_str(&format!("  failed: {failure}\n"));
        }
        let mut releases: Vec<_> = self.releases.iter().collect();
        releases.sort_by(|a, b| a.1.1.total_cmp(&b.1.1));
        out.push_str("Releases that answered, in order:\n");
        for (release, (count, first, last)) in releases {
            out.push_str(&format!(
                "  {release:<30} {count:>6} answers, from {first:.1}s to {last:.1}s\n"
            ));
        }
        out
    }
}

/// Traffic running in the background until [`Traffic::stop`].
pub struct Traffic {
    stop: Arc<AtomicBool>,
    clients: Vec<JoinHandle<Tally>>,
    /// The article the comments go to.
    slug: String,
}

impl Traffic {
    /// Signs up a user of its own, writes an article to comment on, then
    /// starts the clients against `front_url` (verified against `authority`
    /// when it is `https`).
    pub async fn start(front_url: &str, authority: Option<PathBuf>) -> anyhow::Result<Self> {
        let front = Front {
            url: front_url.trim_end_matches('/').to_string(),
            authority: authority.filter(|_| front_url.starts_with("https://")),
        };
        let name = format!("roll{}", std::process::id() ^ rand::random::<u32>());
        let signed_up = front
            .send(
                "POST",
                "/api/users",
                None,
                Some(&json!({"user": {
                    "username": name,
                    "email": format!("{name}@example.com"),
                    "password": "rolling deploys drop nothing",
                }})),
            )
            .await
            .context("signing up the traffic's user")?;
        let token = field(&signed_up, "/user/token")?;
        let article = front
            .send(
                "POST",
                "/api/articles",
                Some(&token),
                Some(&json!({"article": {
                    "title": format!("Rolling deploy watched by {name}"),
                    "description": "Comments arrive while the servers change",
                    "body": "Every comment on this article was written during a deploy.",
                }})),
            )
            .await
            .context("writing the traffic's article")?;
        let slug = field(&article, "/article/slug")?;
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let clients = (0..CLIENTS)
            .map(|client| {
                let (front, token, slug, stop) = (
                    front.clone(),
                    token.clone(),
                    slug.clone(),
                    Arc::clone(&stop),
                );
                tokio::spawn(async move {
                    run_client(client, &front, &token, &slug, &stop, started).await
                })
            })
            .collect();
        Ok(Self {
            stop,
            clients,
            slug,
        })
    }

    /// The article the writes comment on.
    pub fn article(&self) -> &str {
        &self.slug
    }

    /// Stops the clients and adds up what they saw.
    pub async fn stop(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        let mut total = Tally::default();
        for client in self.clients {
            match client.await {
                Ok(tally) => total.add(tally),
                Err(error) => total.fail(format!("a client stopped early: {error}")),
            }
        }
        total
    }
}

/// The string at `pointer` in a successful JSON answer.
fn field(answer: &Answer, pointer: &str) -> anyhow::Result<String> {
    if !(200..300).contains(&answer.status) {
        bail!("answered {}: {}", answer.status, answer.body.trim());
    }
    serde_json::from_str::<Value>(&answer.body)
        .ok()
        .and_then(|value| value.pointer(pointer)?.as_str().map(str::to_string))
        .with_context(|| format!("no {pointer} in {}", answer.body.trim()))
}

async fn run_client(
    client: usize,
    front: &Front,
    token: &str,
    slug: &str,
    stop: &AtomicBool,
    started: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let mut turn = 0u64;
    while !stop.load(Ordering::Relaxed) {
        turn += 1;
        let write = turn.is_multiple_of(2);
        let outcome = if write {
            tally.writes += 1;
            let body = json!({"comment": {"body": format!("client {client}, comment {turn}")}});
            front
                .send(
                    "POST",
                    &format!("/api/articles/{slug}/comments"),
                    Some(token),
                    Some(&body),
                )
                .await
        } else {
            tally.reads += 1;
            front
                .send("GET", "/api/articles?limit=5", Some(token), None)
                .await
        };
        let at = started.elapsed().as_secs_f64();
        let what = if write {
            "POST a comment"
        } else {
            "GET the articles"
        };
        match outcome {
            Ok(answer) if (200..300).contains(&answer.status) => {
                tally.answered(answer.release, at);
                if write {
                    tally.acknowledged += 1;
                }
            }
            Ok(answer) => tally.fail(format!(
                "{what} at {at:.1}s answered {}: {}",
                answer.status,
                answer.body.chars().take(120).collect::<String>()
            )),
            Err(error) => tally.fail(format!("{what} at {at:.1}s: {error:#}")),
        }
        tokio::time::sleep(PACE).await;
    }
    tally
}
