//! The app and PostgreSQL over TLS (phase 6): with `sslmode=verify-full`
//! the app talks to the database only over TLS, only to a server whose
//! certificate chains to the named authority, and refuses anything else.

use std::net::IpAddr;
use std::path::PathBuf;

use million::db::connect::Target;
use million::db::embedded::{ClusterConfig, PgBinaries, PostgresServer, service_user};
use million::stack::authority::Authority;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestDatabase, free_port, spawn_app_on};

/// A PostgreSQL server with TLS on, its certificate signed by a new
/// authority for 127.0.0.1.
struct TlsPostgres {
    _server: PostgresServer,
    port: u16,
    authority: PathBuf,
    _dir: tempfile::TempDir,
}

impl TlsPostgres {
    async fn start() -> Self {
        let binaries = PgBinaries::locate().unwrap_or_else(|error| panic!("{error}"));
        let dir = tempfile::Builder::new()
            .prefix("million-test-tls-")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let authority = Authority::open_or_create(&dir.path().join("ca")).unwrap();
        let localhost: IpAddr = "127.0.0.1".parse().unwrap();
        let issued = authority
            .issue("postgres", &[localhost], &dir.path().join("certs"))
            .unwrap();
        // PostgreSQL reads its key only if it owns it and no one else can.
        if let Some(user) = service_user().unwrap() {
            nix::unistd::chown(&issued.key, Some(user.uid), Some(user.gid)).unwrap();
        }
        let port = free_port();
        let server = PostgresServer::start(
            &binaries,
            ClusterConfig {
                data_dir: dir.path().join("data"),
                socket_dir: dir.path().join("run"),
                port,
                listen_addresses: "127.0.0.1".to_string(),
                superuser: "million".to_string(),
                throwaway: true,
                settings: vec![
                    ("ssl".to_string(), "on".to_string()),
                    (
                        "ssl_cert_file".to_string(),
                        issued.certificate.display().to_string(),
                    ),
                    ("ssl_key_file".to_string(), issued.key.display().to_string()),
                ],
                log_file: dir.path().join("postgres.log"),
                netns: None,
            },
        )
        .await
        .unwrap_or_else(|error| panic!("starting PostgreSQL with TLS: {error:#}"));
        server.ensure_database("million").await.unwrap();
        Self {
            _server: server,
            port,
            authority: authority.certificate().to_path_buf(),
            _dir: dir,
        }
    }

    fn conninfo(&self, authority: &std::path::Path) -> String {
        format!(
            "host=127.0.0.1 port={} user=million dbname=million sslmode=verify-full sslrootcert={}",
            self.port,
            authority.display()
        )
    }
}

#[tokio::test]
async fn the_app_works_over_verified_tls_and_every_connection_is_encrypted() {
    let postgres = TlsPostgres::start().await;
    let conninfo = postgres.conninfo(&postgres.authority);
    million::db::migrations::run(&conninfo)
        .await
        .expect("migrating over TLS");
    let app = spawn_app_on(
        TestDatabase {
            name: "million".to_string(),
            conninfo: conninfo.clone(),
        },
        |_| {},
    )
    .await;

    let registered = app
        .api(
            "POST",
            "/api/users",
            None,
            Some(json!({"user": {"username": "tess", "email": "tess@example.com", "password": "password123"}})),
        )
        .await;
    let profile = app.api("GET", "/api/profiles/tess", None, None).await;

    let client = Target::parse(&conninfo).unwrap().client().await.unwrap();
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl) \
             FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.backend_type = 'client backend'",
            &[],
        )
        .await
        .unwrap();
    let (encrypted, plain): (i64, i64) = (row.get(0), row.get(1));

    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.text
    );
    assert_eq!(profile.status, StatusCode::OK);
    assert_eq!(profile.body["profile"]["username"], "tess");
    assert!(
        encrypted >= 2,
        "the app's connections and this one: {encrypted}"
    );
    assert_eq!(plain, 0, "no connection in the clear");
}

#[tokio::test]
async fn a_server_without_tls_or_with_a_certificate_from_elsewhere_is_refused() {
    let postgres = TlsPostgres::start().await;
    let elsewhere = tempfile::tempdir().unwrap();
    let stranger = Authority::open_or_create(&elsewhere.path().join("ca")).unwrap();
    let plain = TestDatabase::create().await;

    let unknown_authority = Target::parse(&postgres.conninfo(stranger.certificate()))
        .unwrap()
        .client()
        .await
        .expect_err("a certificate from another authority is refused")
        .to_string();
    let without_tls = format!(
        "{} sslmode=verify-full sslrootcert={}",
        plain.conninfo,
        postgres.authority.display()
    );
    let no_tls = Target::parse(&without_tls)
        .unwrap()
        .client()
        .await
        .expect_err("a server without TLS is refused")
        .to_string();
    // As `million serve` starts by default: migrating first.
    let mut settings = crate::helpers::test_settings(&plain);
    settings.database.url = without_tls.clone().into();
    settings.database.migrate_on_start = true;
    let app = million::startup::Application::build(settings).await;
    // Started without migrating, it is not ready, and serves nothing from
    // the database.
    let served = spawn_app_on(
        TestDatabase {
            name: plain.name.clone(),
            conninfo: without_tls,
        },
        |_| {},
    )
    .await;
    let ready = served.get("/readyz").await;
    let articles = served.api("GET", "/api/articles", None, None).await;

    assert!(
        unknown_authority.contains("certificate"),
        "says why: {unknown_authority}"
    );
    assert!(no_tls.contains("TLS"), "says why: {no_tls}");
    let error = format!("{:#}", app.err().expect("the app does not start on it"));
    assert!(error.contains("TLS"), "says why: {error}");
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(articles.status, StatusCode::SERVICE_UNAVAILABLE);
}
