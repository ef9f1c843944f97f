//! A data set of a given size on a one-server stack of its own (phase 1:
//! PostgreSQL over a unix socket, one app server), kept under
//! `.million/bench-scale` so that a later run reuses it; and signing in to
//! it as a seeded account, through the API and as a browser.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use rand::RngExt;

use crate::seed::PASSWORD;
use crate::stack::Stack;
use crate::stack::components::app_conninfo;
use crate::stack::plan::Plan;
use crate::stack::secrets::Secrets;

/// A seeded data set, served.
pub struct DataSet {
    pub users: u64,
    pub articles: u64,
    /// The app server itself (`http://address`), not nginx in front of it:
    /// what is measured is the app and its database, and the load tools
    /// share the machine's cores with them.
    pub app: String,
    /// The app's database, as the app's role.
    pub conninfo: String,
    stack: Stack,
}

impl DataSet {
    /// Serves the data set of `users` users and `articles` articles,
    /// seeding it on first use. Its PostgreSQL is sized for one
    /// `memory_share`th of the machine's memory, for when data sets run side
    /// by side.
    pub async fn open(users: u64, articles: u64, memory_share: u64) -> anyhow::Result<Self> {
        let project = std::env::current_dir()?;
        if !project.join("deploy").is_dir() {
            bail!("run `million bench` from the project folder");
        }
        let binary = std::env::current_exe()?;
        let state_dir = project
            .join(".million")
            .join("bench-scale")
            .join(format!("{users}-users-{articles}-articles"));
        let plan = || -> anyhow::Result<Plan> {
            let mut plan = Plan::standard(1, project.clone(), binary.clone())?;
            plan.state_dir = state_dir.clone();
            // Ports of our own: a running `make phase1` or the other data
            // set holds the standard ones.
            plan.front = free_address()?;
            for app in &mut plan.apps {
                app.address = free_address()?;
            }
            plan.machine.memory_bytes /= memory_share.max(1);
            Ok(plan)
        };
        eprintln!(
            "Data set of {users} users and {articles} articles ({}):",
            state_dir.display()
        );
        let stack = Stack::up(plan()?).await?;
        let secrets = Secrets::load_or_create(&state_dir)?;
        let conninfo = app_conninfo(&stack.plan, &secrets)?;
        let stack = if super::seed_to_size(&conninfo, users, articles).await? {
            // Stopping checkpoints what was loaded, so that no checkpoint of
            // it runs during the measurements.
            close_quietly(stack).await;
            Stack::up(plan()?).await?
        } else {
            stack
        };
        let app = stack
            .plan
            .apps
            .first()
            .map(|app| format!("http://{}", app.address))
            .context("a phase 1 stack without an app server")?;
        Ok(Self {
            users,
            articles,
            app,
            conninfo,
            stack,
        })
    }

    /// "10 000 users / 20 000 articles".
    pub fn describe(&self) -> String {
        format!(
            "{} users / {} articles",
            thousands(self.users),
            thousands(self.articles)
        )
    }

    /// A connection to the data set's database.
    pub async fn client(&self) -> anyhow::Result<tokio_postgres::Client> {
        let (client, connection) = tokio_postgres::connect(&self.conninfo, tokio_postgres::NoTls)
            .await
            .context("connecting to the data set's database")?;
        tokio::spawn(connection);
        Ok(client)
    }

    /// Up to `count` random values of `column` in `table` (`articles` or
    /// `users`), found by id so that no table is scanned.
    pub async fn sample(
        &self,
        table: &str,
        column: &str,
        count: usize,
    ) -> anyhow::Result<Vec<String>> {
        let client = self.client().await?;
        let row = client
            .query_one(&format!("SELECT min(id), max(id) FROM {table}"), &[])
            .await?;
        let (Some(low), Some(high)): (Option<i64>, Option<i64>) = (row.get(0), row.get(1)) else {
            bail!("the data set has no {table}");
        };
        let mut rng = rand::rng();
        let ids: Vec<i64> = (0..count * 2)
            .map(|_| rng.random_range(low..=high))
            .collect();
        let rows = client
            .query(
                &format!("SELECT {column} FROM {table} WHERE id = ANY($1) LIMIT $2"),
                &[&ids, &(count as i64)],
            )
            .await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    /// Stops the stack; the data stays for the next run.
    pub async fn close(self) {
        close_quietly(self.stack).await;
    }
}

async fn close_quietly(mut stack: Stack) {
    stack.plan.verbose = false;
    stack.down().await;
}

/// A loopback address nothing listens on.
fn free_address() -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?)
}

/// `n` with a space every three digits, as the README prints figures.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(digit);
    }
    out
}

fn http() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

/// The JSON body of `POST /api/users/login` for a seeded account.
pub fn login_body(email: &str) -> String {
    serde_json::json!({ "user": { "email": email, "password": PASSWORD } }).to_string()
}

/// An API token for the seeded account `email`.
pub async fn api_token(app: &str, email: &str) -> anyhow::Result<String> {
    let response = http()?
        .post(format!("{app}/api/users/login"))
        .header("Content-Type", "application/json")
        .body(login_body(email))
        .send()
        .await?;
    if !response.status().is_success() {
        bail!(
            "signing in as {email} through the API: {}",
            response.status()
        );
    }
    let body: serde_json::Value = response.json().await?;
    body["user"]["token"]
        .as_str()
        .map(str::to_string)
        .context("no token in the sign-in response")
}

/// The `Cookie` header of a browser signed in as the seeded account `email`
/// (through the sign-in form, with its anti-forgery token).
pub async fn browser_cookie(app: &str, email: &str) -> anyhow::Result<String> {
    let client = http()?;
    let mut jar: Vec<(String, String)> = Vec::new();
    let form = client.get(format!("{app}/login")).send().await?;
    keep_cookies(&mut jar, form.headers());
    let html = form.text().await?;
    let marker = "name=\"csrf_token\" value=\"";
    let token = html
        .find(marker)
        .map(|at| &html[at + marker.len()..])
        .and_then(|rest| rest.split('"').next())
        .context("the sign-in form has no anti-forgery token")?
        .to_string();
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("email", email)
        .append_pair("password", PASSWORD)
        .append_pair("csrf_token", &token)
        .append_pair("next", "/")
        .finish();
    let signed_in = client
        .post(format!("{app}/login"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Cookie", cookie_header(&jar))
        .body(body)
        .send()
        .await?;
    if signed_in.status() != reqwest::StatusCode::SEE_OTHER {
        bail!("signing in as {email} in a browser: {}", signed_in.status());
    }
    keep_cookies(&mut jar, signed_in.headers());
    Ok(cookie_header(&jar))
}

/// Keeps what `Set-Cookie` headers set, later values replacing earlier ones.
fn keep_cookies(jar: &mut Vec<(String, String)>, headers: &reqwest::header::HeaderMap) {
    for header in headers.get_all(reqwest::header::SET_COOKIE) {
        let Some((name, value)) = header
            .to_str()
            .ok()
            .and_then(|text| text.split(';').next())
            .and_then(|pair| pair.split_once('='))
        else {
            continue;
        };
        jar.retain(|(kept, _)| kept != name.trim());
        if !value.is_empty() {
            jar.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
}

fn cookie_header(jar: &[(String, String)]) -> String {
    jar.iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_grouped_by_thousands() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(20_000), "20 000");
        assert_eq!(thousands(1_000_000), "1 000 000");
    }

    #[test]
    fn later_cookies_replace_earlier_ones() {
        let mut jar = Vec::new();
        let mut headers = reqwest::header::HeaderMap::new();
        headers.append("set-cookie", "a=1; Path=/; HttpOnly".parse().unwrap());
        headers.append("set-cookie", "b=2".parse().unwrap());
        keep_cookies(&mut jar, &headers);
        let mut again = reqwest::header::HeaderMap::new();
        again.append("set-cookie", "a=3; Path=/".parse().unwrap());
        keep_cookies(&mut jar, &again);
        assert_eq!(cookie_header(&jar), "b=2; a=3");
    }
}
