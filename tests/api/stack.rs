//! The phase stacks, started by the tests themselves on free ports: real
//! PostgreSQL, nginx and HAProxy processes from the distribution's packages,
//! and the app servers from this build's `million` binary.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use million::settings::SessionStoreKind;
use million::stack::Stack;
use million::stack::pgtune::Machine;
use million::stack::plan::{AppServer, DatabasePlacement, Plan};
use reqwest::StatusCode;
use scraper::{Html, Selector};
use serde_json::{Value, json};

fn free_address(ip: [u8; 4]) -> SocketAddr {
    let ip = IpAddr::from(ip);
    let port = std::net::TcpListener::bind((ip, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port");
    SocketAddr::new(ip, port)
}

/// Phase `phase` on free ports, with its state in a temporary folder.
pub fn test_plan(phase: u8) -> (Plan, tempfile::TempDir) {
    let state = tempfile::Builder::new()
        .prefix("million-stack-")
        .tempdir()
        .unwrap();
    // As root, PostgreSQL runs as another account that must enter the folder.
    std::fs::set_permissions(
        state.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let apps = match phase {
        3..=7 => (1..=3)
            .map(|n| AppServer {
                name: format!("app-{n}"),
                address: free_address([127, 0, 1, n]),
                image: None,
            })
            .collect(),
        _ => vec![AppServer {
            name: "app-1".into(),
            address: free_address([127, 0, 0, 1]),
            image: None,
        }],
    };
    let plan = Plan {
        phase,
        project_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        state_dir: state.path().to_path_buf(),
        app_binary: PathBuf::from(env!("CARGO_BIN_EXE_million")),
        front: free_address([127, 0, 0, 1]),
        https: (phase >= 6).then(|| free_address([127, 0, 0, 1])),
        static_server: (phase >= 3).then(|| free_address([127, 0, 0, 1])),
        admin: (phase >= 3).then(|| free_address([127, 0, 0, 1])),
        apps,
        database: if phase == 1 {
            DatabasePlacement::SameHost
        } else {
            DatabasePlacement::OwnHost(free_address([127, 0, 2, 1]))
        },
        replicas: if phase >= 5 {
            vec![free_address([127, 0, 2, 2]), free_address([127, 0, 2, 3])]
        } else {
            Vec::new()
        },
        cache: (phase >= 4).then(|| free_address([127, 0, 3, 1])),
        machine: Machine {
            memory_bytes: 512 << 20,
            cores: 2,
        },
        sessions: SessionStoreKind::Memory,
        restart_delay: Duration::from_secs(3600),
        start_timeout: Duration::from_secs(90),
        verbose: false,
        network: None,
        unsegmented: None,
    };
    (plan, state)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn served_by(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("x-served-by")
        .map(|value| value.to_str().unwrap().to_string())
        .unwrap_or_default()
}

fn text_of(html: &str, selector: &str) -> String {
    let document = Html::parse_document(html);
    let selector = Selector::parse(selector).unwrap();
    document
        .select(&selector)
        .next()
        .map(|element| element.text().collect::<String>().trim().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn phase_1_serves_pages_through_nginx_and_static_files_for_30_days() {
    let (plan, _state) = test_plan(1);
    let front = format!("http://{}", plan.front);
    let stack = Stack::up(plan).await.unwrap();
    let client = client();

    let page = client.get(format!("{front}/")).send().await.unwrap();
    let page_server = served_by(&page);
    let page_status = page.status();
    let page_html = page.text().await.unwrap();
    let style = client
        .get(format!("{front}/static/css/site.css"))
        .send()
        .await
        .unwrap();
    let architecture = client
        .get(format!("{front}/architecture"))
        .header("X-Forwarded-For", "6.6.6.6")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    assert_eq!(page_status, StatusCode::OK);
    assert_eq!(page_server, "app-1");
    assert!(
        page_html.contains("class=\"preview\""),
        "the demo data is there"
    );
    assert_eq!(style.status(), StatusCode::OK);
    assert_eq!(style.headers()["cache-control"], "max-age=2592000");
    assert!(style.headers().contains_key("expires"));
    assert!(
        !style.headers().contains_key("x-served-by"),
        "nginx served it, not the app"
    );
    assert_eq!(text_of(&architecture, ".phase-badge"), "Phase 1");
    assert_eq!(text_of(&architecture, ".fact-proxy"), "127.0.0.1");
    assert_eq!(
        text_of(&architecture, ".fact-client"),
        "127.0.0.1",
        "a forged X-Forwarded-For is not believed"
    );
    assert_eq!(
        text_of(&architecture, ".fact-database"),
        "unix socket, same host"
    );
    stack.down().await;
}

#[tokio::test]
async fn phase_2_reaches_a_tuned_database_over_tcp_with_a_password() {
    let (plan, state) = test_plan(2);
    let DatabasePlacement::OwnHost(database) = plan.database.clone() else {
        unreachable!("phase 2 has its own database host")
    };
    let front = format!("http://{}", plan.front);
    let stack = Stack::up(plan).await.unwrap();
    let secrets = million::stack::secrets::Secrets::load_or_create(state.path()).unwrap();
    let base = format!(
        "host={} port={} dbname=million",
        database.ip(),
        database.port()
    );

    let without_password =
        tokio_postgres::connect(&format!("{base} user=million"), tokio_postgres::NoTls).await;
    let as_admin =
        tokio_postgres::connect(&format!("{base} user=postgres"), tokio_postgres::NoTls).await;
    let (client, connection) = tokio_postgres::connect(
        &format!("{base} user=million password={}", secrets.database_password),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let show = async |name: &str| -> String {
        client
            .query_one(&format!("SHOW {name}"), &[])
            .await
            .unwrap()
            .get(0)
    };

    assert!(without_password.is_err(), "a password is required");
    assert!(
        as_admin.is_err(),
        "the admin may not connect over the network"
    );
    assert_eq!(show("shared_buffers").await, "128MB", "a quarter of 512 MB");
    assert_eq!(show("effective_cache_size").await, "384MB");
    assert_eq!(show("maintenance_work_mem").await, "32MB");
    assert_eq!(show("random_page_cost").await, "1.1");
    assert_eq!(show("password_encryption").await, "scram-sha-256");
    let page = reqwest::get(format!("{front}/architecture"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(text_of(&page, ".fact-database"), database.to_string());
    stack.down().await;
}

#[cfg(any(feature = "stateless-sessions", feature = "replicas"))]
/// The real user id of process `pid`.
fn uid_of(pid: u32) -> u32 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap()
}

#[cfg(any(feature = "stateless-sessions", feature = "replicas"))]
/// Started as root, no server of the stack serves as root: the app
/// servers, Redis, HAProxy and PostgreSQL run as accounts of their own, and
/// nginx's workers too (its master only reads the config and opens the
/// listening socket).
fn assert_least_privilege(stack: &Stack) {
    if !nix::unistd::Uid::effective().is_root() {
        return;
    }
    // The app servers and nginx's workers read the checkout (binary,
    // config/, static/): in a checkout no other account may enter (a
    // private home folder), they keep the starting account, as designed.
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    let project = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let binary_dir = PathBuf::from(env!("CARGO_BIN_EXE_million"));
    let checkout_shared = [
        binary_dir.parent().unwrap().to_path_buf(),
        project.join("config"),
        project.join("static"),
    ]
    .iter()
    .all(|dir| million::db::embedded::reachable_by(&dir.join("x"), &nobody));
    for component in stack.components() {
        let pid = component.pid().unwrap();
        let reads_checkout = component.name == "nginx" || component.name.starts_with("app-");
        if reads_checkout && !checkout_shared {
            continue;
        }
        let serving = if component.name == "nginx" {
            million::process::children(pid)
        } else {
            vec![pid]
        };
        assert!(!serving.is_empty(), "{} has no workers", component.name);
        for pid in serving {
            assert_ne!(
                uid_of(pid),
                0,
                "{} (process {pid}) runs as root",
                component.name
            );
        }
    }
}

/// HAProxy's stats page: its admin address and password.
struct Stats {
    url: String,
    password: String,
}

impl Stats {
    /// The stats page of the stack `plan` describes, whose state (and
    /// secrets) live in `state`.
    fn of(plan: &Plan, state: &std::path::Path) -> Self {
        Self {
            url: format!("http://{}/", plan.admin.unwrap()),
            password: million::stack::secrets::Secrets::load_or_create(state)
                .unwrap()
                .stats_password,
        }
    }
}

/// HAProxy's view of `server` in the `app` backend: UP, DOWN, …
async fn haproxy_status(stats: &Stats, server: &str) -> String {
    let csv = reqwest::Client::new()
        .get(format!("{};csv", stats.url))
        .basic_auth("admin", Some(&stats.password))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap()
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let status = header
        .iter()
        .position(|column| *column == "status")
        .unwrap();
    lines
        .map(|line| line.split(',').collect::<Vec<_>>())
        .find(|fields| fields[0] == "app" && fields[1] == server)
        .map(|fields| fields[status].to_string())
        .unwrap_or_default()
}

async fn wait_for_status(stats: &Stats, server: &str, wanted: &str) {
    let started = Instant::now();
    loop {
        let status = haproxy_status(stats, server).await;
        if status.starts_with(wanted) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "HAProxy did not mark {server} {wanted} (it says {status})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn phase_3_rotates_survives_a_dead_server_and_takes_it_back() {
    let (plan, state) = test_plan(3);
    let front = format!("http://{}", plan.front);
    let app_1 = format!("http://{}", plan.apps[0].address);
    let stats = Stats::of(&plan, state.path());
    let mut stack = Stack::up(plan).await.unwrap();
    let client = client();

    // The stats page is on the admin address, behind its password, and
    // neither it nor the servers' /metrics is reachable through the front door.
    let anonymous = client.get(&stats.url).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(haproxy_status(&stats, "app-1").await.starts_with("UP"));
    for path in ["/metrics", "/metrics/", "/haproxy?stats"] {
        let response = client.get(format!("{front}{path}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let direct = client.get(format!("{app_1}/metrics")).send().await.unwrap();
    assert_eq!(direct.status(), StatusCode::OK);

    // Round-robin: three requests, three servers.
    let mut servers = HashSet::new();
    for _ in 0..3 {
        servers.insert(served_by(
            &client
                .get(format!("{front}/api/tags"))
                .send()
                .await
                .unwrap(),
        ));
    }
    assert_eq!(
        servers,
        HashSet::from(["app-1".into(), "app-2".into(), "app-3".into()])
    );

    // A stream of requests from four clients while app-2 dies.
    let streams: Vec<_> = (0..4)
        .map(|_| {
            let front = front.clone();
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut outcomes = Vec::new();
                let started = Instant::now();
                while started.elapsed() < Duration::from_secs(8) {
                    let outcome = client
                        .get(format!("{front}/api/articles?limit=5"))
                        .send()
                        .await;
                    outcomes.push(
                        outcome
                            .map(|response| response.status())
                            .map_err(|error| error.to_string()),
                    );
                }
                outcomes
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    stack.kill("app-2").unwrap();
    wait_for_status(&stats, "app-2", "DOWN").await;
    let mut outcomes = Vec::new();
    for stream in streams {
        outcomes.extend(stream.await.unwrap());
    }
    let failures: Vec<_> = outcomes
        .iter()
        .filter(|outcome| !matches!(outcome, Ok(StatusCode::OK)))
        .collect();
    assert!(
        outcomes.len() > 40,
        "the stream kept going ({} requests)",
        outcomes.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} requests failed: {:?}",
        failures.len(),
        outcomes.len(),
        &failures[..failures.len().min(5)]
    );

    // While it is down, nothing is sent its way.
    for _ in 0..6 {
        let response = client
            .get(format!("{front}/api/tags"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_ne!(served_by(&response), "app-2");
    }

    // Restarted, it is checked back in and gets its turn again: a growing
    // share of it over HAProxy's `slowstart` (10 s), so within 20 s.
    stack.tend().await;
    stack.start("app-2").await.unwrap();
    wait_for_status(&stats, "app-2", "UP").await;
    let back = Instant::now();
    let mut servers = HashSet::new();
    while !servers.contains("app-2") && back.elapsed() < Duration::from_secs(20) {
        let response = client
            .get(format!("{front}/api/tags"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        servers.insert(served_by(&response));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(servers.contains("app-2"), "{servers:?}");

    // The edge throttles sign-ins per client address: 30 a minute pass (each
    // for another account, so the app's own limit per account stays out of
    // it), the next is answered by HAProxy itself.
    let mut statuses = Vec::new();
    for n in 0..31 {
        let response = client
            .post(format!("{front}/api/users/login"))
            .json(
                &json!({"user": {"email": format!("nobody{n}@example.com"), "password": "guess"}}),
            )
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
    }
    let throttled = statuses.pop().unwrap();
    assert!(
        statuses
            .iter()
            .all(|status| *status == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    assert_eq!(throttled, StatusCode::TOO_MANY_REQUESTS);
    let again = client
        .post(format!("{front}/api/users/login"))
        .json(&json!({"user": {"email": "nobody@example.com", "password": "guess"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(again.headers()["retry-after"], "60");
    let body: Value = again.json().await.unwrap();
    assert!(
        body["errors"]["body"][0]
            .as_str()
            .unwrap()
            .contains("too many sign-ins")
    );
    // Reading is not throttled.
    let tags = client
        .get(format!("{front}/api/tags"))
        .send()
        .await
        .unwrap();
    assert_eq!(tags.status(), StatusCode::OK);
    stack.down().await;
}

/// Sends an API request through the front door and returns its status and
/// JSON body.
async fn api(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut request = client.request(method, url).json(&body);
    if let Some(token) = token {
        request = request.header("Authorization", format!("Token {token}"));
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn phase_3_never_replays_a_write_when_a_server_dies() {
    const WRITERS: usize = 32;
    const MAX_POSTS: usize = 600; // the API lists up to 1000 comments
    const KILL_AFTER: usize = 150;
    let (plan, _state) = test_plan(3);
    let front = format!("http://{}", plan.front);
    let mut stack = Stack::up(plan).await.unwrap();
    let client = reqwest::Client::new();
    let (status, user) = api(
        &client,
        reqwest::Method::POST,
        format!("{front}/api/users"),
        None,
        json!({"user": {
            "username": "writer",
            "email": "writer@example.com",
            "password": "password123",
        }}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let token = user["user"]["token"].as_str().unwrap().to_string();
    let (status, article) = api(
        &client,
        reqwest::Method::POST,
        format!("{front}/api/articles"),
        Some(&token),
        json!({"article": {
            "title": "Counting comments",
            "description": "One each",
            "body": "Every comment once.",
            "tagList": [],
        }}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{article}");
    let slug = article["article"]["slug"].as_str().unwrap().to_string();
    let comments_url = format!("{front}/api/articles/{slug}/comments");

    // Writers each post comments with bodies of their own, until the stream
    // has sent MAX_POSTS or run for 15 s; app-2 is killed in the middle.
    let sent = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (url, token, sent) = (comments_url.clone(), token.clone(), Arc::clone(&sent));
            tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .unwrap();
                let started = Instant::now();
                let mut outcomes = Vec::new();
                for n in 0.. {
                    if sent.fetch_add(1, Ordering::SeqCst) >= MAX_POSTS
                        || started.elapsed() > Duration::from_secs(15)
                    {
                        break;
                    }
                    let body = format!("comment {writer}-{n}");
                    let outcome = client
                        .post(&url)
                        .header("Authorization", format!("Token {token}"))
                        .json(&json!({"comment": {"body": body}}))
                        .send()
                        .await
                        .map(|response| response.status())
                        .map_err(|error| format!("{error:?}"));
                    outcomes.push((body, outcome));
                }
                outcomes
            })
        })
        .collect();
    let started = Instant::now();
    while sent.load(Ordering::SeqCst) < KILL_AFTER {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the stream never got going"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stack.kill("app-2").unwrap();
    let mut outcomes = Vec::new();
    for writer in writers {
        outcomes.extend(writer.await.unwrap());
    }
    let (status, listed) = api(
        &client,
        reqwest::Method::GET,
        comments_url,
        None,
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{listed}");

    let mut copies: HashMap<String, usize> = HashMap::new();
    for comment in listed["comments"].as_array().unwrap() {
        *copies
            .entry(comment["body"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let succeeded: Vec<&String> = outcomes
        .iter()
        .filter(|(_, outcome)| matches!(outcome, Ok(status) if status.is_success()))
        .map(|(body, _)| body)
        .collect();
    let failed: Vec<&(String, Result<StatusCode, String>)> = outcomes
        .iter()
        .filter(|(_, outcome)| !matches!(outcome, Ok(status) if status.is_success()))
        .collect();
    let duplicated: Vec<_> = copies.iter().filter(|(_, count)| **count > 1).collect();
    let lost: Vec<_> = succeeded
        .iter()
        .filter(|body| !copies.contains_key(**body))
        .collect();
    let sent_bodies: HashSet<&String> = outcomes.iter().map(|(body, _)| body).collect();
    let unknown: Vec<_> = copies
        .keys()
        .filter(|body| !sent_bodies.contains(body))
        .collect();
    // A 502/504 or a lost connection may hide a commit; any other answer may not.
    let stored_though_refused: Vec<_> = failed
        .iter()
        .filter(|(body, outcome)| {
            copies.contains_key(body)
                && matches!(outcome, Ok(status)
                    if *status != StatusCode::BAD_GATEWAY && *status != StatusCode::GATEWAY_TIMEOUT)
        })
        .collect();
    let total: usize = copies.values().sum();
    assert!(
        outcomes.len() > KILL_AFTER + 50,
        "the stream went on after the kill ({} posts)",
        outcomes.len()
    );
    assert!(
        duplicated.is_empty(),
        "comments stored twice: {duplicated:?}"
    );
    assert!(
        lost.is_empty(),
        "answered with success but missing: {lost:?}"
    );
    assert!(unknown.is_empty(), "comments nobody sent: {unknown:?}");
    assert!(
        stored_though_refused.is_empty(),
        "refused, yet stored: {stored_though_refused:?}"
    );
    assert!(
        total >= succeeded.len() && total <= succeeded.len() + failed.len(),
        "{total} comments for {} successes and {} failures ({:?})",
        succeeded.len(),
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    stack.down().await;
}

/// One page load after signing in: who served it, whether the nav bar still
/// shows the user, and the warning it shows about sessions, if any.
#[derive(Debug)]
struct Load {
    server: String,
    signed_in: bool,
    warning: String,
}

/// Signs in through the front door (whichever server takes the form) and
/// reports that server and six page loads after it.
async fn signed_in_on_each_load(front: &str) -> (String, Vec<Load>) {
    let browser = client();
    let login = browser
        .get(format!("{front}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let document = Html::parse_document(&login);
    let token = document
        .select(&Selector::parse("input[name=csrf_token]").unwrap())
        .next()
        .and_then(|input| input.value().attr("value"))
        .unwrap()
        .to_string();
    // The form token travels in the browser's own signed cookie, so the form
    // is accepted by whichever server it lands on.
    let response = browser
        .post(format!("{front}/login"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", "demo@example.com"),
            ("password", "password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "signing in");
    let signed_in_on = served_by(&response);
    let mut loads = Vec::new();
    for _ in 0..6 {
        let response = browser.get(format!("{front}/")).send().await.unwrap();
        let server = served_by(&response);
        let html = response.text().await.unwrap();
        loads.push(Load {
            server,
            signed_in: text_of(&html, ".nav-user") == "demo",
            warning: text_of(&html, ".flash-warning"),
        });
    }
    (signed_in_on, loads)
}

#[tokio::test]
async fn phase_3_with_memory_sessions_forgets_users_on_the_next_server_and_says_why() {
    let (plan, _state) = test_plan(3);
    let front = format!("http://{}", plan.front);
    let stack = Stack::up(plan).await.unwrap();

    let (signed_in_on, loads) = signed_in_on_each_load(&front).await;

    let servers: HashSet<&String> = loads.iter().map(|load| &load.server).collect();
    assert_eq!(servers.len(), 3, "{loads:?}");
    for load in &loads {
        if load.server == signed_in_on {
            assert!(load.signed_in, "the server holding the session: {load:?}");
            assert_eq!(load.warning, "", "{load:?}");
        } else {
            assert!(!load.signed_in, "another server does not know it: {load:?}");
            let names_both = format!(
                "You signed in on {signed_in_on}, but this page was served by {},",
                load.server
            );
            assert!(load.warning.starts_with(&names_both), "{load:?}");
            assert!(load.warning.contains("own memory"), "{load:?}");
        }
    }
    stack.down().await;
}

#[cfg(feature = "stateless-sessions")]
#[tokio::test]
async fn phase_3_with_cookie_sessions_keeps_users_signed_in_everywhere() {
    let (mut plan, _state) = test_plan(3);
    plan.sessions = SessionStoreKind::Cookie;
    let front = format!("http://{}", plan.front);
    let stack = Stack::up(plan).await.unwrap();

    let (_, loads) = signed_in_on_each_load(&front).await;

    let servers: HashSet<&String> = loads.iter().map(|load| &load.server).collect();
    assert_eq!(servers.len(), 3, "{loads:?}");
    assert!(loads.iter().all(|load| load.signed_in), "{loads:?}");
    assert!(
        loads.iter().all(|load| load.warning.is_empty()),
        "{loads:?}"
    );
    let architecture = reqwest::get(format!("{front}/architecture"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(text_of(&architecture, ".fact-sessions"), "encrypted cookie");
    stack.down().await;
}

#[tokio::test]
async fn a_taken_address_is_refused_with_its_name() {
    let (plan, _state) = test_plan(1);
    let _squatter = std::net::TcpListener::bind(plan.front).unwrap();

    let error = Stack::up(plan.clone()).await.err().unwrap().to_string();

    assert!(error.contains(&plan.front.to_string()), "{error}");
    assert!(error.contains("already in use"), "{error}");
}

#[cfg(all(feature = "cache", feature = "stateless-sessions"))]
#[tokio::test]
async fn phase_4_caches_hot_reads_and_survives_losing_redis() {
    let (mut plan, _state) = test_plan(4);
    plan.sessions = SessionStoreKind::Cookie;
    let front = format!("http://{}", plan.front);
    let mut stack = Stack::up(plan).await.unwrap();
    assert_least_privilege(&stack);
    let client = client();
    let cache_of = |response: &reqwest::Response| {
        response
            .headers()
            .get("x-cache")
            .map(|value| value.to_str().unwrap().to_string())
            .unwrap_or_default()
    };

    // Three servers, one cache: after the first miss every server hits.
    let mut outcomes: Vec<String> = Vec::new();
    let started = Instant::now();
    while !outcomes.ends_with(&["hit".to_string(), "hit".to_string(), "hit".to_string()]) {
        let response = client
            .get(format!("{front}/api/profiles/demo"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        outcomes.push(cache_of(&response));
        assert!(started.elapsed() < Duration::from_secs(20), "{outcomes:?}");
    }
    assert_eq!(outcomes[0], "miss", "{outcomes:?}");

    // Without Redis the site stays up. A server's near cache may answer
    // for up to `near_ttl_ms` (1 s) until it notices Redis is gone; after
    // that every read bypasses the cache.
    stack.stop("redis").await.unwrap();
    let stopped = Instant::now();
    while stopped.elapsed() < Duration::from_millis(1_500) {
        let response = client
            .get(format!("{front}/api/profiles/demo"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for _ in 0..9 {
        let response = client
            .get(format!("{front}/api/profiles/demo"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(cache_of(&response), "bypass");
    }
    let page = client.get(format!("{front}/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);

    // Back, and hits return once each server's breaker probes again.
    stack.start("redis").await.unwrap();
    let started = Instant::now();
    loop {
        let response = client
            .get(format!("{front}/api/profiles/demo"))
            .send()
            .await
            .unwrap();
        if cache_of(&response) == "hit" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the cache never came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stack.down().await;
}

#[cfg(feature = "replicas")]
#[tokio::test]
async fn phase_5_streams_to_two_replicas_reads_from_them_and_survives_losing_one() {
    let (mut plan, state) = test_plan(5);
    // However many app servers the plan has, HAProxy balances over them all.
    plan.apps.push(AppServer {
        name: "app-4".into(),
        address: free_address([127, 0, 1, 4]),
        image: None,
    });
    plan.sessions = SessionStoreKind::Cookie;
    let front = format!("http://{}", plan.front);
    let replica_address = plan.replicas[0];
    let stats = Stats::of(&plan, state.path());
    let mut stack = Stack::up(plan).await.unwrap();
    assert_least_privilege(&stack);
    let client = client();
    wait_for_status(&stats, "app-4", "UP").await;

    let registered = client
        .post(format!("{front}/api/users"))
        .json(&json!({"user": {"username": "streamed", "email": "streamed@example.com", "password": "password123"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);
    assert!(registered.headers().contains_key("x-db-lsn"));

    // The new account reaches the replica by streaming replication.
    let secrets = million::stack::secrets::Secrets::load_or_create(state.path()).unwrap();
    let (replica, connection) = tokio_postgres::connect(
        &format!(
            "host={} port={} user=million password={} dbname=million",
            replica_address.ip(),
            replica_address.port(),
            secrets.database_password
        ),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let started = Instant::now();
    loop {
        let found: i64 = replica
            .query_one(
                "SELECT count(*) FROM users WHERE username = 'streamed'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if found == 1 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never replicated"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let in_recovery: bool = replica
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(in_recovery, "a replica is a standby");

    // Reads the cache does not hold (the cache refills from the primary)
    // spread over both replicas, through every app server.
    let mut nodes = HashSet::new();
    let started = Instant::now();
    while nodes.len() < 2 {
        let response = client
            .get(format!("{front}/api/articles?author=demo"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        if let Some(node) = response.headers().get("x-db-node") {
            let node = node.to_str().unwrap().to_string();
            if node.starts_with("replica-") {
                nodes.insert(node);
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "replicas used: {nodes:?}"
        );
    }

    // One replica crashes: no read fails.
    stack.kill("replica-1").unwrap();
    for _ in 0..40 {
        let response = client
            .get(format!("{front}/api/articles?author=demo"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    stack.down().await;
}

/// What Redis at `address` answers each of `lines` with (the first line
/// of each answer), sent one after the other on one connection opened from
/// inside `namespace`.
#[cfg(all(
    feature = "replicas",
    feature = "cache",
    feature = "stateless-sessions"
))]
async fn redis_says(
    namespace: Option<&std::path::Path>,
    address: SocketAddr,
    lines: &[String],
) -> Vec<String> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let stream = million::stack::network::connect_from(namespace, address, Duration::from_secs(2))
        .await
        .unwrap();
    let (read, mut write) = stream.into_split();
    let mut read = tokio::io::BufReader::new(read);
    let mut answers = Vec::new();
    for line in lines {
        write
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
        let mut answer = String::new();
        read.read_line(&mut answer).await.unwrap();
        answers.push(answer.trim_end().to_string());
    }
    answers
}

/// Whether a TCP connection to `address` opens from inside `namespace`
/// (this machine's own when `None`) within a second.
#[cfg(all(
    feature = "replicas",
    feature = "cache",
    feature = "stateless-sessions"
))]
async fn reaches(namespace: Option<&std::path::Path>, address: SocketAddr) -> bool {
    million::stack::network::connect_from(namespace, address, Duration::from_secs(1))
        .await
        .is_ok()
}

#[cfg(all(
    feature = "replicas",
    feature = "cache",
    feature = "stateless-sessions"
))]
#[tokio::test]
async fn phase_6_segments_the_hosts_and_speaks_only_tls_to_browsers_and_postgresql() {
    let (plan, state) = test_plan(6);
    // As root with `ip` and `nft`: each host in a namespace of its own.
    let mut plan = plan.segmented_from(6);
    plan.sessions = SessionStoreKind::Cookie;
    let segmented = plan.network.is_some();
    if !segmented {
        eprintln!(
            "phase 6 without network segmentation: {}",
            plan.unsegmented.clone().unwrap_or_default()
        );
    }
    let https_address = plan.https.unwrap();
    let http = format!("http://{}", plan.front);
    let https = match https_address.port() {
        443 => format!("https://{}", https_address.ip()),
        _ => format!("https://{https_address}"),
    };
    let authority = plan.authority_dir().join("ca.pem");
    let cache = plan.cache.unwrap();
    let DatabasePlacement::OwnHost(primary) = plan.database.clone() else {
        panic!("phase 6 has a database host");
    };
    let app = plan.apps[0].address;
    let static_server = plan.static_server.unwrap();
    let in_app = plan.namespace_of(app.ip());
    let in_balancer = plan.namespace_of(plan.front.ip());
    let admin_socket = million::stack::components::postgres_dir(&plan)
        .unwrap()
        .join("run");
    let hba = state.path().join("config").join("pg_hba.conf");
    let network = plan.network.clone();
    let stack = Stack::up(plan).await.unwrap();
    assert_least_privilege(&stack);
    let secrets = million::stack::secrets::Secrets::load_or_create(state.path()).unwrap();

    if segmented {
        // From this machine only the load balancer answers; from the load
        // balancer's host, the app servers but not the database or Redis;
        // from an app server's, the database and Redis.
        assert!(reaches(None, https_address).await, "the front door");
        for (what, address) in [
            ("an app server", app),
            ("the static server", static_server),
            ("PostgreSQL", primary),
            ("Redis", cache),
        ] {
            assert!(!reaches(None, address).await, "{what} from this machine");
        }
        assert!(
            reaches(in_balancer.as_deref(), app).await,
            "app from the balancer"
        );
        assert!(
            !reaches(in_balancer.as_deref(), primary).await,
            "database from the balancer"
        );
        assert!(
            !reaches(in_balancer.as_deref(), cache).await,
            "Redis from the balancer"
        );
        assert!(
            reaches(in_app.as_deref(), primary).await,
            "database from an app server"
        );
        assert!(
            reaches(in_app.as_deref(), cache).await,
            "Redis from an app server"
        );
        // pg_hba.conf names each app server's own address.
        let hba = std::fs::read_to_string(&hba).unwrap();
        assert!(hba.contains(&format!("{}/32", app.ip())), "{hba}");
        assert!(!hba.contains("127.0.0.1/32"), "{hba}");
    }

    // Plain HTTP only redirects, to the same page over HTTPS.
    let redirect = client()
        .get(format!("{http}/login?next=%2Fsettings"))
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        redirect.headers()["location"],
        format!("{https}/login?next=%2Fsettings").as_str()
    );

    // HTTPS with a certificate that chains to the stack's authority (the
    // client verifies it), HSTS, and cookies only for HTTPS.
    let page = million::tls::https_get(&format!("{https}/login"), &authority)
        .await
        .expect("a certificate the stack's authority vouches for");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("strict-transport-security"),
        Some("max-age=31536000")
    );
    let cookies: Vec<&str> = page.headers_named("set-cookie").collect();
    assert!(!cookies.is_empty(), "the sign-in page sets its CSRF cookie");
    for cookie in cookies {
        assert!(cookie.contains("Secure"), "{cookie}");
    }
    let elsewhere = tempfile::tempdir().unwrap();
    let stranger =
        million::stack::authority::Authority::open_or_create(&elsewhere.path().join("ca")).unwrap();
    assert!(
        million::tls::https_get(&format!("{https}/login"), stranger.certificate())
            .await
            .is_err(),
        "a client trusting another authority refuses the certificate"
    );

    // Through it all the cache tier works, with its password.
    let first = million::tls::https_get(&format!("{https}/api/profiles/demo"), &authority)
        .await
        .unwrap();
    let second = million::tls::https_get(&format!("{https}/api/profiles/demo"), &authority)
        .await
        .unwrap();
    assert_eq!(first.status, 200);
    assert_eq!(second.header("x-cache"), Some("hit"));

    // Every connection to PostgreSQL from another host is TLS: the app
    // servers' pools, the replica monitors, and the replicas streaming.
    let (admin, connection) = tokio_postgres::connect(
        &format!(
            "host={} port={} user=postgres dbname=million",
            admin_socket.display(),
            primary.port()
        ),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let row = admin
        .query_one(
            "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl), \
                    count(*) FILTER (WHERE s.ssl AND a.backend_type = 'walsender') \
             FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
             WHERE a.client_addr IS NOT NULL",
            &[],
        )
        .await
        .unwrap();
    let (encrypted, plain, streaming): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert!(encrypted >= 3, "encrypted connections: {encrypted}");
    assert_eq!(plain, 0, "connections in the clear");
    assert_eq!(streaming, 2, "both replicas stream over TLS");
    // PostgreSQL itself refuses a connection in the clear, even from a
    // host it admits.
    let stream =
        million::stack::network::connect_from(in_app.as_deref(), primary, Duration::from_secs(2))
            .await
            .unwrap();
    let mut config = tokio_postgres::Config::new();
    config
        .user("million")
        .password(secrets.database_password.as_str())
        .dbname("million")
        .ssl_mode(tokio_postgres::config::SslMode::Disable);
    let refused = config
        .connect_raw(stream, tokio_postgres::NoTls)
        .await
        .err()
        .expect("no connection in the clear");
    assert!(
        format!("{refused:?}").contains("no encryption"),
        "{refused:?}"
    );

    // Redis: the password-less default user is off, and the app's account
    // may not run administrative commands.
    let from_app = in_app.as_deref();
    assert!(redis_says(from_app, cache, &["PING".into()]).await[0].starts_with("-NOAUTH"));
    let answers = redis_says(
        from_app,
        cache,
        &[
            format!("AUTH million {}", secrets.redis_password),
            "PING".into(),
            "CONFIG GET maxmemory".into(),
        ],
    )
    .await;
    assert_eq!(answers[0], "+OK");
    assert_eq!(answers[1], "+PONG");
    assert!(answers[2].starts_with("-NOPERM"), "{}", answers[2]);

    // A hostile-input sweep of the whole API through the HTTPS front door,
    // signed in and not: schemathesis generates requests from the RealWorld
    // spec, valid and not, and no answer may be a 5xx.
    let signed_up = million::tls::https_send(
        "POST",
        &format!("{https}/api/users"),
        Some(r#"{"user":{"username":"sweeper","email":"sweeper@example.com","password":"password123"}}"#),
        &authority,
    )
    .await
    .unwrap();
    assert_eq!(signed_up.status, 201, "{}", signed_up.body);
    let token =
        serde_json::from_str::<serde_json::Value>(&signed_up.body).unwrap()["user"]["token"]
            .as_str()
            .unwrap()
            .to_string();
    let project = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let sweeper = project.join(".million/tools/bin/schemathesis");
    assert!(
        sweeper.is_file(),
        "schemathesis is not installed: `make test-deps` (or scripts/ensure-sweep-tool) installs it"
    );
    let swept = tokio::process::Command::new(&sweeper)
        // Its cache of findings goes with the stack's state, not the checkout.
        .current_dir(state.path())
        .arg("run")
        .arg(project.join("api/openapi.yml"))
        .args(["--url", &format!("{https}/api")])
        .arg("--tls-verify")
        .arg(&authority)
        .args(["-H", &format!("Authorization: Token {token}")])
        .args([
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "40",
            "-w",
            "2",
        ])
        .args(["--request-timeout", "10"])
        .env("NO_COLOR", "1")
        .output()
        .await
        .unwrap();
    let report = String::from_utf8_lossy(&swept.stdout);
    assert!(
        swept.status.success(),
        "the sweep found server errors (or could not run):\n{report}\n{}",
        String::from_utf8_lossy(&swept.stderr)
    );
    assert!(report.contains("passed"), "{report}");

    // A brute-force burst from this machine's address is turned away at
    // the edge, while someone at another address signs in as usual.
    let mut last = 0;
    for n in 0..40 {
        last = million::tls::https_send(
            "POST",
            &format!("{https}/api/users/login"),
            Some(&format!(
                r#"{{"user":{{"email":"target{n}@example.com","password":"guess"}}}}"#
            )),
            &authority,
        )
        .await
        .unwrap()
        .status;
    }
    assert_eq!(last, 429, "the burst is throttled");
    if segmented {
        // An app server's namespace stands in for a second visitor's address.
        let stream = million::stack::network::connect_from(
            in_app.as_deref(),
            https_address,
            Duration::from_secs(2),
        )
        .await
        .unwrap();
        let status = million::tls::https_send_over(
            stream,
            "POST",
            &format!("{https}/api/users/login"),
            Some(r#"{"user":{"email":"demo@example.com","password":"password"}}"#),
            &authority,
        )
        .await
        .unwrap()
        .status;
        assert_eq!(status, 200, "another address signs in normally");
    }
    stack.down().await;

    if let Some(network) = network {
        // Nothing of the network is left behind.
        let leftovers: Vec<String> = std::fs::read_dir("/run/netns")
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .filter(|name| name.starts_with(&network.prefix))
                    .collect()
            })
            .unwrap_or_default();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}
