//! Probes, the instance header, static files, unknown addresses.

use crate::helpers::spawn_app;
use reqwest::StatusCode;

#[tokio::test]
async fn health_and_readiness_answer_when_the_database_does() {
    let app = spawn_app().await;

    let health = app.get("/healthz").await;
    let ready = app.get("/readyz").await;

    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.text, "ok\n");
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.text, "ready\n");
}

#[tokio::test]
async fn probes_answer_head_like_get_without_a_body() {
    let app = spawn_app().await;

    let health = app.api("HEAD", "/healthz", None, None).await;
    let ready = app.api("HEAD", "/readyz", None, None).await;

    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.text, "");
    assert_eq!(health.headers.get("cache-control").unwrap(), "no-store");
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.text, "");
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = spawn_app().await;
    let admin = app.db.admin().await;

    // Drop the app's database from under it.
    admin
        .batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", app.db.name))
        .await
        .unwrap();
    let ready = app.get("/readyz").await;
    let health = app.get("/healthz").await;
    let article = app.get("/api/articles").await;

    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(health.status, StatusCode::OK, "the process itself is alive");
    assert_eq!(
        article.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        article.text
    );
    assert!(article.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn every_response_names_the_instance_that_served_it() {
    let app = spawn_app().await;
    let browser = app.browser();

    let api = app.get("/api/tags").await;
    let missing = app.get("/api/nowhere").await;
    let page = browser.get("/").await;
    let style = browser.get("/static/css/site.css").await;
    let not_found = browser.get("/no/such/page").await;

    for headers in [
        &api.headers,
        &missing.headers,
        &page.headers,
        &style.headers,
        &not_found.headers,
    ] {
        assert_eq!(headers.get("x-served-by").unwrap(), "test-app");
    }
}

#[tokio::test]
async fn static_files_are_cached_for_thirty_days() {
    let app = spawn_app().await;

    let style = app.browser().get("/static/css/site.css").await;

    assert_eq!(style.status, StatusCode::OK);
    assert!(style.text.contains("--accent"));
    assert_eq!(
        style.headers.get("cache-control").unwrap(),
        "public, max-age=2592000"
    );
    assert!(style.headers.contains_key("etag"));
}

#[tokio::test]
async fn unknown_pages_get_a_friendly_404() {
    let app = spawn_app().await;

    let page = app.browser().get("/no/such/page").await;

    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert_eq!(page.text_of("h1"), "Page not found");
}

#[tokio::test]
async fn pages_carry_security_headers() {
    let app = spawn_app().await;

    let page = app.browser().get("/").await;

    assert!(
        page.headers
            .get("content-security-policy")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    assert_eq!(page.headers.get("x-frame-options").unwrap(), "DENY");
    assert_eq!(
        page.headers.get("x-content-type-options").unwrap(),
        "nosniff"
    );
}

#[tokio::test]
async fn metrics_are_served_in_the_prometheus_format() {
    let app = spawn_app().await;
    let counted = |text: &str| -> u64 {
        text.lines()
            .find_map(|line| line.strip_prefix("million_db_queries_total "))
            .expect("the query counter")
            .parse()
            .unwrap()
    };
    let before = counted(&app.get("/metrics").await.text);
    let tags = app.get("/api/tags").await;
    let read: u64 = tags.headers["x-db-queries"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(read >= 1, "the tag list was read from the database");

    let metrics = app.get("/metrics").await;

    assert_eq!(metrics.status, StatusCode::OK);
    assert!(
        metrics.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    // Its queries are counted (besides any the server made on its own).
    assert!(counted(&metrics.text) - before >= read);
    assert!(
        metrics
            .text
            .contains("# TYPE million_cache_lookups_total counter")
    );
    assert!(
        metrics
            .text
            .contains("million_db_pool_connections{state=\"idle\"}")
    );
}

#[tokio::test]
async fn version_names_the_commit_it_was_built_from_on_every_response() {
    let app = spawn_app().await;
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string());

    let version = app.get("/version").await;

    assert_eq!(version.status, StatusCode::OK);
    assert_eq!(version.headers.get("cache-control").unwrap(), "no-store");
    let release = version.body["release"].as_str().unwrap();
    let commit = version.body["commit"].as_str().unwrap();
    if let Some(head) = head {
        assert_eq!(commit, head, "built from the checkout's HEAD");
    }
    assert_eq!(
        release, commit,
        "outside an image the release is the commit"
    );
    assert!(
        chrono::DateTime::parse_from_rfc3339(version.body["built"].as_str().unwrap()).is_ok(),
        "{}",
        version.body
    );
    assert_eq!(
        version.body["features"].as_array().unwrap().len(),
        million::tiers::enabled().len()
    );
    // Every response names the release, pages and API alike.
    for path in ["/", "/api/tags", "/healthz", "/no-such-page"] {
        let answer = app.get(path).await;
        assert_eq!(
            answer.headers.get("x-app-version").unwrap(),
            release,
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_architecture_page_lists_every_app_server_and_its_release() {
    let first = crate::helpers::spawn_app_with(|settings| {
        settings.application.instance_name = "app-a".into();
    })
    .await;
    let second = crate::helpers::spawn_app_on(first.db.clone(), |settings| {
        settings.application.instance_name = "app-b".into();
    })
    .await;
    let release = million::release::current().release.clone();

    // Each server says which release it runs as it starts, and reads the
    // others' every few seconds.
    let started = std::time::Instant::now();
    let page = loop {
        let page = first.browser().get("/architecture").await;
        if page.texts(".releases tbody th").len() == 2 {
            break page;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "{:?}",
            page.texts(".releases tbody th")
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };

    assert_eq!(
        page.texts(".releases tbody th"),
        ["app-a (this page)", "app-b"]
    );
    assert_eq!(
        page.texts(".releases tbody code"),
        [release.clone(), release]
    );
    drop(second);
}
