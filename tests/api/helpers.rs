//! The test harness: a real PostgreSQL started once per test run, a migrated
//! template database, one fresh database per test cloned from it, and the
//! real application started on a free port against that database.
//!
//! By default PostgreSQL is a throwaway cluster run from the distribution's
//! binaries (`initdb`, `postgres`) on a free port. With
//! `MILLION_TEST_BACKEND=docker` the same harness starts it with
//! testcontainers instead. `TEST_LOG=1` shows the application's logs.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use million::db::embedded::{ClusterConfig, PgBinaries, PostgresServer};
use million::settings::{Environment, Settings};
use million::startup::Application;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use scraper::{Html, Selector};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

/// The password every test user gets.
pub const PASSWORD: &str = "password123";

/// The PostgreSQL server shared by every test of this run.
struct TestCluster {
    /// Connection string for a database on that server, without `dbname`.
    base: String,
    /// Keeps the native server (and its folder) for the whole run.
    _native: Option<(PostgresServer, tempfile::TempDir)>,
}

static CLUSTER: OnceCell<TestCluster> = OnceCell::const_new();
static TEMPLATE: &str = "million_template";

fn project_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("the system has a free port")
}

async fn cluster() -> &'static TestCluster {
    CLUSTER
        .get_or_init(|| async {
            let cluster = match std::env::var("MILLION_TEST_BACKEND").as_deref() {
                Ok("docker") => start_docker().await,
                Ok("native") | Err(_) => start_native().await,
                Ok(other) => panic!("MILLION_TEST_BACKEND={other}: use `native` or `docker`"),
            };
            let admin = connect(&format!("{} dbname=postgres", cluster.base)).await;
            admin
                .batch_execute(&format!("CREATE DATABASE {TEMPLATE}"))
                .await
                .expect("creating the template database");
            million::db::migrations::run(&format!("{} dbname={TEMPLATE}", cluster.base))
                .await
                .expect("migrating the template database");
            cluster
        })
        .await
}

async fn start_native() -> TestCluster {
    let binaries = PgBinaries::locate().unwrap_or_else(|error| panic!("{error}"));
    let dir = tempfile::Builder::new()
        .prefix("million-test-pg-")
        .tempdir()
        .expect("creating a folder for the test cluster");
    // As root, PostgreSQL runs as another user, who must be able to enter the folder.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("opening the test cluster folder");
    let port = free_port();
    let config = ClusterConfig {
        data_dir: dir.path().join("data"),
        socket_dir: dir.path().join("run"),
        port,
        listen_addresses: "127.0.0.1".to_string(),
        superuser: "million".to_string(),
        throwaway: true,
        settings: vec![("max_connections".to_string(), "300".to_string())],
        log_file: dir.path().join("postgres.log"),
        netns: None,
    };
    let server = PostgresServer::start(&binaries, config)
        .await
        .unwrap_or_else(|error| panic!("starting the test PostgreSQL: {error:#}"));
    // The run ends with `exit`, which skips destructors: stop the server then.
    extern "C" fn stop_at_exit() {
        if let Some(TestCluster {
            _native: Some((server, dir)),
            ..
        }) = CLUSTER.get()
        {
            server.stop();
            let _ = std::fs::remove_dir_all(dir.path());
        }
    }
    // SAFETY: registering a plain function pointer with the C runtime.
    unsafe {
        libc::atexit(stop_at_exit);
    }
    TestCluster {
        base: format!("host=127.0.0.1 port={port} user=million"),
        _native: Some((server, dir)),
    }
}

/// PostgreSQL in a container of the project's own image
/// (`deploy/images/postgres.Containerfile`, built by `make images`; another
/// with `MILLION_TEST_PG_IMAGE=name:tag`), through the Docker-compatible API
/// that `DOCKER_HOST` names (Docker's, or Podman's `podman system service`).
async fn start_docker() -> TestCluster {
    use testcontainers_modules::testcontainers::core::{IntoContainerPort, WaitFor};
    use testcontainers_modules::testcontainers::runners::AsyncRunner;
    use testcontainers_modules::testcontainers::{ContainerAsync, GenericImage, ImageExt};
    static CONTAINER: OnceLock<ContainerAsync<GenericImage>> = OnceLock::new();
    let image = std::env::var("MILLION_TEST_PG_IMAGE")
        .unwrap_or_else(|_| "million-postgres:latest".to_string());
    let (name, tag) = image.rsplit_once(':').unwrap_or((image.as_str(), "latest"));
    // Published on every address of this machine: a password of its own.
    let password = uuid::Uuid::new_v4().simple().to_string();
    // Published on a port chosen here: Podman's Docker-compatible API does
    // not report ports published at random the way testcontainers reads them.
    let port = free_port();
    let container = GenericImage::new(name, tag)
        .with_exposed_port(5432.tcp())
        .with_wait_for(WaitFor::message_on_stderr(
            "database system is ready to accept connections",
        ))
        .with_mapped_port(port, 5432.tcp())
        .with_env_var("POSTGRES_PASSWORD", &password)
        .with_cmd(["-c", "max_connections=300", "-c", "fsync=off"])
        .start()
        .await
        .unwrap_or_else(|error| {
            panic!(
                "starting {image} with testcontainers: {error}. Build the image with `make images`, \
                 and point DOCKER_HOST at a Docker-compatible API (Podman: `podman system service`)"
            )
        });
    let host = container
        .get_host()
        .await
        .expect("container host")
        .to_string();
    let _ = CONTAINER.set(container);
    // The run ends with `exit`, which skips destructors: remove the
    // container then, through the engine's command line.
    extern "C" fn remove_at_exit() {
        if let Some(container) = CONTAINER.get() {
            let id = container.id().to_string();
            for engine in ["podman", "docker"] {
                let removed = std::process::Command::new(engine)
                    .args(["rm", "--force", &id])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status();
                if matches!(removed, Ok(status) if status.success()) {
                    break;
                }
            }
        }
    }
    // SAFETY: registering a plain function pointer with the C runtime.
    unsafe {
        libc::atexit(remove_at_exit);
    }
    TestCluster {
        base: format!("host={host} port={port} user=postgres password={password}"),
        _native: None,
    }
}

async fn connect(conninfo: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(conninfo, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|error| panic!("connecting to {conninfo}: {error}"));
    tokio::spawn(connection);
    client
}

/// A database of one's own, cloned from the migrated template.
#[derive(Clone)]
pub struct TestDatabase {
    pub name: String,
    pub conninfo: String,
}

impl TestDatabase {
    /// A new, migrated, empty database.
    pub async fn create() -> Self {
        let cluster = cluster().await;
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let admin = connect(&format!("{} dbname=postgres", cluster.base)).await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
            .await
            .expect("cloning the template database");
        Self {
            conninfo: format!("{} dbname={name}", cluster.base),
            name,
        }
    }

    /// A connection to this database, for looking behind the application.
    pub async fn client(&self) -> tokio_postgres::Client {
        connect(&self.conninfo).await
    }

    /// A connection to the server's maintenance database, for creating and
    /// dropping databases.
    pub async fn admin(&self) -> tokio_postgres::Client {
        connect(&format!("{} dbname=postgres", cluster().await.base)).await
    }

    /// One number from `sql`.
    pub async fn count(&self, sql: &str) -> i64 {
        self.client()
            .await
            .query_one(sql, &[])
            .await
            .expect(sql)
            .get(0)
    }
}

/// Each session store this build has: session behaviour is tested in all.
pub fn session_stores() -> Vec<million::settings::SessionStoreKind> {
    use million::settings::SessionStoreKind;
    let mut stores = vec![SessionStoreKind::Memory];
    if cfg!(feature = "stateless-sessions") {
        stores.push(SessionStoreKind::Cookie);
    }
    stores
}

/// Settings as the tests run the application: local defaults, port 0, one
/// worker, the test database.
pub fn test_settings(database: &TestDatabase) -> Settings {
    let mut settings = Settings::load_from(&project_dir().join("config"), Environment::Local, [])
        .expect("loading config/base.toml and config/local.toml");
    settings.application.port = 0;
    settings.application.workers = 1;
    settings.application.instance_name = "test-app".to_string();
    settings.application.static_dir = project_dir().join("static");
    settings.database.url = SecretString::from(database.conninfo.clone());
    settings.database.migrate_on_start = false;
    settings.database.pool_size = 4;
    // No secret ships with the project; every app in this run shares these,
    // as the app servers behind one balancer do.
    settings.auth.jwt_secret = SecretString::from(test_secret("jwt"));
    settings.session.secret = SecretString::from(test_secret("session"));
    settings
}

/// A random secret for this test run, the same for every app it starts.
fn test_secret(purpose: &str) -> String {
    static RUN: OnceLock<String> = OnceLock::new();
    let run = RUN.get_or_init(|| uuid::Uuid::new_v4().simple().to_string());
    format!("{purpose}-{run}")
}

/// A running application with its own database.
pub struct TestApp {
    pub address: String,
    pub db: TestDatabase,
    api: reqwest::Client,
}

/// Starts the application on a free port against a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with settings changed by `customize` first.
pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    static LOGS: OnceLock<()> = OnceLock::new();
    LOGS.get_or_init(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            million::telemetry::init(&million::settings::LogSettings {
                level: "info".to_string(),
                format: million::settings::LogFormat::Pretty,
            });
        }
    });
    spawn_app_on(TestDatabase::create().await, customize).await
}

/// Another app server over the database of `db`, as behind a load balancer.
pub async fn spawn_app_on(db: TestDatabase, customize: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = test_settings(&db);
    customize(&mut settings);
    let application = Application::build(settings)
        .await
        .expect("building the application");
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    TestApp {
        address,
        db,
        api: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("building an HTTP client"),
    }
}

/// An API response, read in full.
pub struct ApiResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl ApiResponse {
    /// The sentences of a RealWorld error body.
    pub fn errors(&self) -> Vec<String> {
        self.body["errors"]["body"]
            .as_array()
            .map(|messages| {
                messages
                    .iter()
                    .filter_map(|message| message.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl TestApp {
    /// Sends an API request with an optional token and JSON body.
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> ApiResponse {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let mut request = self.api.request(method, format!("{}{path}", self.address));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Token {token}"));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await.expect("sending an API request")).await
    }

    /// Sends a raw body with a content type.
    pub async fn api_raw(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> ApiResponse {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let request = self
            .api
            .request(method, format!("{}{path}", self.address))
            .header("Content-Type", content_type)
            .body(body);
        read(request.send().await.expect("sending an API request")).await
    }

    /// `GET` without a token.
    pub async fn get(&self, path: &str) -> ApiResponse {
        self.api("GET", path, None, None).await
    }

    /// Registers `username` through the API and returns their token.
    pub async fn register(&self, username: &str) -> String {
        let response = self
            .api(
                "POST",
                "/api/users",
                None,
                Some(json!({"user": {
                    "username": username,
                    "email": format!("{username}@example.com"),
                    "password": PASSWORD,
                }})),
            )
            .await;
        assert_eq!(
            response.status,
            StatusCode::CREATED,
            "registering {username}: {}",
            response.text
        );
        response.body["user"]["token"]
            .as_str()
            .expect("a token")
            .to_string()
    }

    /// Publishes an article through the API and returns its slug.
    pub async fn publish(&self, token: &str, title: &str, tags: &[&str]) -> String {
        let response = self
            .api(
                "POST",
                "/api/articles",
                Some(token),
                Some(json!({"article": {
                    "title": title,
                    "description": format!("About {title}"),
                    "body": format!("# {title}\n\nBody of *{title}*."),
                    "tagList": tags,
                }})),
            )
            .await;
        assert_eq!(
            response.status,
            StatusCode::CREATED,
            "publishing {title}: {}",
            response.text
        );
        response.body["article"]["slug"]
            .as_str()
            .expect("a slug")
            .to_string()
    }

    /// A new browser (its own cookie jar) pointed at the app.
    pub fn browser(&self) -> Browser {
        self.browser_with_cookies("")
    }

    /// A new browser holding `cookies` (a `Cookie` header's value), as
    /// someone who copied them from another browser would.
    pub fn browser_with_cookies(&self, cookies: &str) -> Browser {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let url: reqwest::Url = self.address.parse().expect("the app's address");
        for cookie in cookies.split(';').map(str::trim).filter(|c| !c.is_empty()) {
            jar.add_cookie_str(cookie, &url);
        }
        Browser {
            address: self.address.clone(),
            client: reqwest::Client::builder()
                .cookie_provider(Arc::clone(&jar))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("building an HTTP client"),
            jar,
        }
    }
}

async fn read(response: reqwest::Response) -> ApiResponse {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    ApiResponse {
        status,
        headers,
        body,
        text,
    }
}

/// A page as a browser receives it.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub html: Html,
    pub text: String,
}

impl Page {
    /// Where a redirect points.
    pub fn location(&self) -> Option<&str> {
        self.headers
            .get("location")
            .and_then(|value| value.to_str().ok())
    }

    /// The text of every element matching `selector`, whitespace collapsed.
    pub fn texts(&self, selector: &str) -> Vec<String> {
        let selector = Selector::parse(selector).expect("a CSS selector");
        self.html
            .select(&selector)
            .map(|element| {
                element
                    .text()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    /// The text of the first element matching `selector`, or "".
    pub fn text_of(&self, selector: &str) -> String {
        self.texts(selector).into_iter().next().unwrap_or_default()
    }

    /// An attribute of the first element matching `selector`.
    pub fn attr(&self, selector: &str, attribute: &str) -> Option<String> {
        let selector = Selector::parse(selector).expect("a CSS selector");
        self.html
            .select(&selector)
            .next()
            .and_then(|element| element.value().attr(attribute))
            .map(str::to_string)
    }

    /// The anti-forgery token of the page's forms.
    pub fn csrf_token(&self) -> Option<String> {
        self.attr("input[name=csrf_token]", "value")
    }

    /// The whole visible text of the page's main content.
    pub fn main_text(&self) -> String {
        self.text_of("main")
    }
}

/// A browser: a cookie jar and the site's address.
pub struct Browser {
    pub address: String,
    client: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
}

impl Browser {
    /// The cookies this browser sends to the site, as a `Cookie` header.
    pub fn cookies(&self) -> String {
        use reqwest::cookie::CookieStore;
        let url: reqwest::Url = self.address.parse().expect("the app's address");
        self.jar
            .cookies(&url)
            .and_then(|value| value.to_str().ok().map(str::to_string))
            .unwrap_or_default()
    }

    /// The same browser (same cookies) pointed at another server of the
    /// site, as a load balancer would send its next request.
    pub fn at(&self, app: &TestApp) -> Browser {
        Browser {
            address: app.address.clone(),
            client: self.client.clone(),
            jar: Arc::clone(&self.jar),
        }
    }

    /// Loads `path`.
    pub async fn get(&self, path: &str) -> Page {
        let response = self
            .client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("loading a page");
        to_page(response).await
    }

    /// Loads `path` with extra request headers.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Page {
        let mut request = self.client.get(format!("{}{path}", self.address));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        to_page(request.send().await.expect("loading a page")).await
    }

    /// The anti-forgery token this browser's forms carry.
    pub async fn csrf_token(&self) -> String {
        for path in ["/settings", "/login"] {
            let page = self.get(path).await;
            if let Some(token) = page.csrf_token() {
                return token;
            }
        }
        panic!("no page offered an anti-forgery token");
    }

    /// Submits a form as the browser would, with the anti-forgery token.
    pub async fn submit(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.csrf_token().await;
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", &token)];
        form.extend_from_slice(fields);
        self.post_raw(path, &form).await
    }

    /// Posts exactly `fields`, token or not.
    /// [`Self::submit`] with extra request headers.
    #[cfg(feature = "replicas")]
    pub async fn submit_with(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let token = self.csrf_token().await;
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", &token)];
        form.extend_from_slice(fields);
        let mut request = self
            .client
            .post(format!("{}{path}", self.address))
            .form(&form);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        to_page(request.send().await.expect("posting a form")).await
    }

    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let response = self
            .client
            .post(format!("{}{path}", self.address))
            .form(fields)
            .send()
            .await
            .expect("posting a form");
        to_page(response).await
    }

    /// Posts a raw body.
    pub async fn post_body(&self, path: &str, content_type: &str, body: Vec<u8>) -> Page {
        let response = self
            .client
            .post(format!("{}{path}", self.address))
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .expect("posting a body");
        to_page(response).await
    }

    /// Signs up through the pages; the browser is then signed in.
    pub async fn sign_up(&self, username: &str) {
        let email = format!("{username}@example.com");
        let page = self
            .submit(
                "/register",
                &[
                    ("username", username),
                    ("email", &email),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(
            page.status,
            StatusCode::SEE_OTHER,
            "signing up {username}: {}",
            page.text
        );
    }

    /// Signs in through the pages.
    pub async fn sign_in(&self, username: &str) {
        let email = format!("{username}@example.com");
        let page = self
            .submit("/login", &[("email", &email), ("password", PASSWORD)])
            .await;
        assert_eq!(
            page.status,
            StatusCode::SEE_OTHER,
            "signing in {username}: {}",
            page.text
        );
    }

    /// The username the navigation bar shows as signed in, if any.
    pub async fn signed_in_as(&self) -> Option<String> {
        let page = self.get("/").await;
        let name = page.text_of(".nav-user");
        (!name.is_empty()).then_some(name)
    }
}

async fn to_page(response: reqwest::Response) -> Page {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    Page {
        status,
        headers,
        html: Html::parse_document(&text),
        text,
    }
}

/// A Redis server of one's own, on a free port.
#[cfg(feature = "cache")]
pub struct TestRedis {
    pub port: u16,
    child: Option<million::process::ManagedChild>,
    dir: tempfile::TempDir,
}

#[cfg(feature = "cache")]
impl TestRedis {
    /// Starts `redis-server` (Debian's `redis-server` package) without persistence.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("a folder for Redis");
        let mut redis = Self {
            port: free_port(),
            child: None,
            dir,
        };
        redis.restart().await;
        redis
    }

    /// `redis://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it again on the same port (empty).
    pub async fn restart(&mut self) {
        let program = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
            .into_iter()
            .find(|path| std::path::Path::new(path).is_file())
            .expect("redis-server not found: install it with `sudo apt-get install redis-server`");
        let mut command = std::process::Command::new(program);
        command.args([
            "--port",
            &self.port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            &self.dir.path().display().to_string(),
        ]);
        let child = million::process::ManagedChild::spawn(
            command,
            million::process::ChildOptions {
                name: "redis",
                log_file: &self.dir.path().join("redis.log"),
                run_as: None,
                on_parent_death: nix::sys::signal::Signal::SIGTERM,
                netns: None,
            },
        )
        .expect("starting redis-server");
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "Redis did not start"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        self.child = Some(child);
    }

    /// Kills it outright.
    pub fn kill(&mut self) {
        if let Some(child) = self.child.take() {
            child.stop(
                nix::sys::signal::Signal::SIGKILL,
                std::time::Duration::from_secs(5),
            );
        }
    }

    /// Freezes it (SIGSTOP): it accepts connections but answers nothing.
    pub fn freeze(&self) {
        if let Some(child) = &self.child {
            child.signal(nix::sys::signal::Signal::SIGSTOP);
        }
    }

    /// Lets a frozen Redis go on (SIGCONT).
    pub fn thaw(&self) {
        if let Some(child) = &self.child {
            child.signal(nix::sys::signal::Signal::SIGCONT);
        }
    }
}

#[cfg(feature = "cache")]
impl Drop for TestRedis {
    fn drop(&mut self) {
        self.thaw();
        self.kill();
    }
}

/// A PostgreSQL primary of one's own with streaming replicas, for the
/// `replicas` tier: pausing replay or killing a replica touches no other test.
#[cfg(feature = "replicas")]
pub struct ReplicatedCluster {
    primary: Option<PostgresServer>,
    primary_config: ClusterConfig,
    pub replicas: Vec<Option<PostgresServer>>,
    primary_port: u16,
    replica_ports: Vec<u16>,
    _dir: tempfile::TempDir,
}

#[cfg(feature = "replicas")]
impl ReplicatedCluster {
    /// A migrated primary and `count` replicas cloned from it with
    /// `pg_basebackup -R`, each streaming from it.
    pub async fn start(count: usize) -> Self {
        let binaries = PgBinaries::locate().unwrap_or_else(|error| panic!("{error}"));
        let dir = tempfile::Builder::new()
            .prefix("million-test-replicated-")
            .tempdir()
            .expect("a folder for the replicated cluster");
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("opening the replicated cluster's folder");
        let node = |name: &str, port: u16| ClusterConfig {
            data_dir: dir.path().join(name).join("data"),
            socket_dir: dir.path().join(name).join("run"),
            port,
            listen_addresses: "127.0.0.1".to_string(),
            superuser: "million".to_string(),
            throwaway: true,
            settings: Vec::new(),
            log_file: dir.path().join(format!("{name}.log")),
            netns: None,
        };
        let primary_port = free_port();
        let primary = PostgresServer::start(&binaries, node("primary", primary_port))
            .await
            .unwrap_or_else(|error| panic!("starting the primary: {error:#}"));
        primary
            .ensure_database("million")
            .await
            .expect("creating the database");
        million::db::migrations::run(&format!(
            "host=127.0.0.1 port={primary_port} user=million dbname=million"
        ))
        .await
        .expect("migrating the primary");
        let mut replicas = Vec::new();
        let mut replica_ports = Vec::new();
        for n in 1..=count {
            let port = free_port();
            let replica = PostgresServer::start_replica(
                &binaries,
                node(&format!("replica-{n}"), port),
                &format!("host=127.0.0.1 port={primary_port} user=million"),
                None,
            )
            .await
            .unwrap_or_else(|error| panic!("starting replica {n}: {error:#}"));
            replicas.push(Some(replica));
            replica_ports.push(port);
        }
        Self {
            primary_config: primary.config().clone(),
            primary: Some(primary),
            replicas,
            primary_port,
            replica_ports,
            _dir: dir,
        }
    }

    /// The application's database: the primary's.
    pub fn database(&self) -> TestDatabase {
        TestDatabase {
            name: "million".to_string(),
            conninfo: format!(
                "host=127.0.0.1 port={} user=million dbname=million",
                self.primary_port
            ),
        }
    }

    /// `host:port` of each replica, as `replicas.hosts` takes them.
    pub fn hosts(&self) -> Vec<String> {
        self.replica_ports
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect()
    }

    /// A connection to replica `n` (from 1).
    pub async fn replica(&self, n: usize) -> tokio_postgres::Client {
        connect(&format!(
            "host=127.0.0.1 port={} user=million dbname=million",
            self.replica_ports[n - 1]
        ))
        .await
    }

    /// Stops replaying WAL on replica `n`: it still answers, with old data.
    pub async fn pause(&self, n: usize) {
        self.replica(n)
            .await
            .batch_execute("SELECT pg_wal_replay_pause()")
            .await
            .expect("pausing replay");
    }

    /// Replays again on replica `n`.
    pub async fn resume(&self, n: usize) {
        self.replica(n)
            .await
            .batch_execute("SELECT pg_wal_replay_resume()")
            .await
            .expect("resuming replay");
    }

    /// Stops the primary (a fast shutdown); the replicas stay up.
    pub fn stop_primary(&mut self) {
        if let Some(primary) = self.primary.take() {
            primary.stop();
        }
    }

    /// Starts the primary again; the replicas reconnect to it by themselves.
    pub async fn start_primary(&mut self) {
        let binaries = PgBinaries::locate().unwrap_or_else(|error| panic!("{error}"));
        let primary = PostgresServer::start(&binaries, self.primary_config.clone())
            .await
            .unwrap_or_else(|error| panic!("restarting the primary: {error:#}"));
        self.primary = Some(primary);
    }

    /// Kills replica `n` outright, as a crash would.
    pub fn kill(&mut self, n: usize) {
        if let Some(replica) = self.replicas[n - 1].take() {
            replica.kill();
        }
    }

    /// Waits until replica `n` has replayed everything the primary has
    /// written so far.
    pub async fn caught_up(&self, n: usize) {
        let primary = self.database().client().await;
        let head: String = primary
            .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
            .await
            .expect("the primary's position")
            .get(0);
        let replica = self.replica(n).await;
        let started = std::time::Instant::now();
        loop {
            let behind: bool = replica
                .query_one(
                    "SELECT pg_last_wal_replay_lsn() < $1::text::pg_lsn",
                    &[&head],
                )
                .await
                .expect("the replica's position")
                .get(0);
            if !behind {
                return;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "replica {n} did not catch up"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
