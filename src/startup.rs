//! Building and running the HTTP server.
//!
//! [`Application::build`] binds the listener first, so callers (the tests)
//! can ask for port 0 and learn the port, then wires the middleware, the
//! routes and the shared state.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_cors::Cors;
use actix_files::Files;
use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::http::header::HeaderValue;
use actix_web::middleware::{DefaultHeaders, NormalizePath, TrailingSlash};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::{Context, bail};
use secrecy::ExposeSecret;
use tracing_actix_web::TracingLogger;

use crate::auth::browser::{self, BrowserCookies};
use crate::auth::password::Passwords;
use crate::auth::session::{self, SessionBackend};
use crate::auth::token::Tokens;
use crate::db::{self, Db};
use crate::settings::{ApplicationSettings, DatabaseTarget, Settings};
use crate::state::AppState;
use crate::telemetry::RequestSpan;
use crate::tiers::cache::Cache;
use crate::tiers::replicas::Replicas;
use crate::tiers::replicas_common::{format_lsn, parse_lsn};
use crate::{report, routes};

/// A bound, configured server, ready to run.
pub struct Application {
    port: u16,
    instance: String,
    server: Server,
    /// For saying which release runs here, and taking it back at the end.
    db: db::Db,
    announcer: tokio::task::AbortHandle,
}

impl Application {
    /// Connects the pool, migrates when configured to, binds the listener and
    /// builds the server. The database must be named by a URL by now.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let DatabaseTarget::Url(url) = settings.database.target() else {
            bail!(
                "no database configured: set DATABASE_URL (or let `million serve` start its own)"
            );
        };
        let conninfo = url.expose_secret();

        let address = format!(
            "{}:{}",
            settings.application.host, settings.application.port
        );
        let listener = TcpListener::bind(&address)
            .with_context(|| format!("binding {address}: is another server using the port?"))?;
        let port = listener.local_addr()?.port();
        let instance = instance_name(&settings.application, port);

        if settings.database.migrate_on_start {
            let applied = db::migrations::run(conninfo).await?;
            if !applied.is_empty() {
                tracing::info!("applied migrations: {}", applied.join(", "));
            }
        }
        let pool = db::pool::build(conninfo, &settings.database, &instance)?;
        let replicas = Replicas::new(&settings.replicas, &settings.database, conninfo, &instance)?;
        replicas.start_monitor();
        let state = AppState {
            db: Db::new(pool, db::node_label(conninfo), replicas),
            passwords: Passwords::new(
                settings.auth.hash_slots(),
                Duration::from_millis(settings.auth.hash_wait_ms),
            ),
            tokens: Tokens::new(
                &settings.auth.jwt_secret,
                Duration::from_secs(settings.auth.token_ttl_hours * 3600),
            ),
            api_requires_current_password: settings.auth.api_requires_current_password,
            instance: instance.clone(),
            sessions: SessionBackend::new(&settings.session)?,
            session_idle: actix_web::cookie::time::Duration::hours(settings.session.ttl_hours),
            trusted_proxies: settings.application.trusted_proxies.clone().into(),
            architecture: Arc::new(settings.architecture.clone()),
            cache: Cache::new(&settings.cache)?,
            cache_settings: Arc::new(settings.cache.clone()),
            read_after_ttl_secs: settings.replicas.read_after_ttl_secs,
            signin_throttle: Arc::new(crate::auth::throttle::SignInThrottle::new(&settings.limits)),
            servers: crate::release::Servers::default(),
        };
        let db = state.db.clone();
        let announcer =
            crate::release::announce(db.clone(), instance.clone(), state.servers.clone());
        let server = server(listener, state, &settings)?;
        Ok(Self {
            port,
            instance,
            server,
            db,
            announcer,
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The name this server answers with in `X-Served-By`.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Serves until SIGTERM or SIGINT, then lets in-flight requests finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let stopped = self.server.await;
        self.announcer.abort();
        crate::release::retire(&self.db, &self.instance).await;
        stopped
    }
}

fn instance_name(settings: &ApplicationSettings, port: u16) -> String {
    if !settings.instance_name.is_empty() {
        return settings.instance_name.clone();
    }
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .unwrap_or_else(|| "localhost".to_string());
    format!("{host}:{port}")
}

fn server(listener: TcpListener, state: AppState, settings: &Settings) -> anyhow::Result<Server> {
    let instance = state.instance.clone();
    let state = web::Data::new(state);
    let sessions = state.sessions.clone();
    let session_settings = settings.session.clone();
    let browser_cookies = Arc::new(BrowserCookies::new(&settings.session));
    let limits = settings.limits.clone();
    let cors_origins = settings.application.cors_origins.clone();
    let static_dir = settings.application.static_dir.clone();
    if !static_dir.is_dir() {
        tracing::warn!(
            "static folder {} not found: pages will have no styles (run from the project folder \
             or set APP__APPLICATION__STATIC_DIR)",
            static_dir.display()
        );
    }
    let server = HttpServer::new(move || {
        App::new()
            .wrap(
                DefaultHeaders::new()
                    .add(("X-Served-By", instance.as_str()))
                    .add(("X-App-Version", crate::release::current().release.as_str()))
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::REFERRER_POLICY, "strict-origin-when-cross-origin")),
            )
            .wrap(from_fn(report_headers))
            .wrap(NormalizePath::new(TrailingSlash::Trim))
            .wrap(TracingLogger::<RequestSpan>::new())
            .app_data(state.clone())
            .app_data(browser_cookies.clone())
            .configure(routes::health::config)
            .configure(routes::metrics::config)
            .service(
                web::scope("/api")
                    .wrap(cors(&cors_origins))
                    .app_data(routes::api::extract::json_config(limits.json_body_bytes))
                    .configure(routes::api::config),
            )
            .service(
                web::scope("/static")
                    .wrap(
                        DefaultHeaders::new()
                            .add((header::CACHE_CONTROL, "public, max-age=2592000")),
                    )
                    .service(
                        Files::new("", &static_dir)
                            .use_etag(true)
                            .use_last_modified(true),
                    ),
            )
            .service(
                web::scope("")
                    .wrap(session::middleware(&session_settings, sessions.clone()))
                    .wrap(from_fn(browser::middleware))
                    .wrap(from_fn(session::secure_cookies_over_https))
                    .wrap(
                        DefaultHeaders::new()
                            .add((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
                            .add((header::X_FRAME_OPTIONS, "DENY"))
                            .add((header::CACHE_CONTROL, "no-cache, private")),
                    )
                    .app_data(routes::web::form_config(limits.form_body_bytes))
                    .configure(routes::web::config)
                    .default_service(web::to(routes::web::not_found)),
            )
    })
    .workers(settings.application.worker_count())
    .shutdown_timeout(settings.application.shutdown_timeout_secs)
    .listen(listener)?
    .run();
    Ok(server)
}

/// Says in `X-Db-Queries` how many database queries the request made, in
/// `X-Cache` whether the cache answered it (when it asked the cache at all),
/// and in `X-Db-Node` which database nodes its reads went to.
///
/// With read replicas, it also carries read-your-writes: a request that
/// brings a WAL position (the `million_read_after` cookie of pages, or the
/// `X-Db-Lsn` header an API client echoes) reads only from replicas that
/// have replayed it; a request that wrote hands back the primary's position
/// after its write, in `X-Db-Lsn` and, outside the API, in that cookie.
async fn report_headers(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let api = request.path().starts_with("/api/");
    let state = request.app_data::<web::Data<AppState>>().cloned();
    let read_after = read_after(&request).filter(|position| {
        state
            .as_ref()
            .is_some_and(|state| state.db.replicas().plausible(*position))
    });
    let (response, summary) = report::collect_reading_after(read_after, next.call(request)).await;
    let mut response = response?;
    if summary.wrote
        && let Some(state) = &state
        && let Some(position) = state.db.position_after_write().await
    {
        let text = format_lsn(position.max(read_after.unwrap_or(0)));
        if let Ok(value) = HeaderValue::from_str(&text) {
            response
                .headers_mut()
                .insert(header::HeaderName::from_static("x-db-lsn"), value);
        }
        if let Some(user) = summary.viewer {
            state
                .cache
                .remember_write_position(
                    user,
                    position.max(read_after.unwrap_or(0)),
                    Duration::from_secs(state.read_after_ttl_secs),
                )
                .await;
        }
        if !api {
            let ttl = state.read_after_ttl_secs;
            // `Secure` whenever the client came over HTTPS, as the session
            // cookie is.
            let https = crate::client::ClientInfo::of(response.request()).https;
            let cookie = actix_web::cookie::Cookie::build(READ_AFTER_COOKIE, text)
                .path("/")
                .http_only(true)
                .same_site(actix_web::cookie::SameSite::Lax)
                .secure(https)
                .max_age(actix_web::cookie::time::Duration::seconds(ttl as i64))
                .finish();
            let _ = response.response_mut().add_cookie(&cookie);
        }
    }
    let headers = response.headers_mut();
    if !summary.read_nodes.is_empty() {
        let nodes: Vec<&str> = summary.read_nodes.iter().map(|node| &**node).collect();
        if let Ok(value) = HeaderValue::from_str(&nodes.join(", ")) {
            headers.insert(header::HeaderName::from_static("x-db-node"), value);
        }
    }
    headers.insert(
        header::HeaderName::from_static("x-db-queries"),
        HeaderValue::from(summary.queries),
    );
    if let Some(outcome) = summary.cache {
        headers.insert(
            header::HeaderName::from_static("x-cache"),
            HeaderValue::from_static(outcome.as_str()),
        );
    }
    Ok(response)
}

/// The cookie that carries a browser's last write position (read-your-writes).
const READ_AFTER_COOKIE: &str = "million_read_after";

/// The WAL position `request` must read at: the `X-Db-Lsn` header, else
/// the `million_read_after` cookie. Anything that is not one is ignored.
fn read_after(request: &ServiceRequest) -> Option<u64> {
    let header = request
        .headers()
        .get("x-db-lsn")
        .and_then(|value| value.to_str().ok())
        .and_then(parse_lsn);
    header.or_else(|| {
        request
            .cookie(READ_AFTER_COOKIE)
            .and_then(|cookie| parse_lsn(cookie.value()))
    })
}

/// Pages load only our own styles; avatars may come from any web address.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' https: http: data:; \
     style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'";

/// CORS for the API, as RealWorld front ends on other origins need: tokens
/// travel in a header, never in cookies, so no credentials are allowed.
fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "DELETE", "OPTIONS"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::HeaderName::from_static("x-db-lsn"),
        ])
        .expose_headers([
            header::HeaderName::from_static("x-db-lsn"),
            header::HeaderName::from_static("x-db-node"),
        ])
        .max_age(3600);
    if origins.iter().any(|origin| origin == "*") {
        cors = cors.allow_any_origin().send_wildcard();
    } else {
        for origin in origins {
            cors = cors.allowed_origin(origin);
        }
    }
    cors
}
