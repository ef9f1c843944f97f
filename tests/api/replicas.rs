//! The `replicas` tier against a real primary and real streaming replicas:
//! reads on replicas, writes and must-be-current reads on the primary,
//! read-your-writes while replay is paused, and replicas that lag or die
//! leaving rotation without a request failing.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{ReplicatedCluster, TestApp, spawn_app_on};

/// An app server reading from `cluster`'s replicas, checking them every
/// 200 ms, a replica leaving rotation once `max_lag_ms` behind.
async fn app_on(cluster: &ReplicatedCluster, max_lag_ms: u64) -> TestApp {
    let hosts = cluster.hosts();
    let app = spawn_app_on(cluster.database(), |settings| {
        settings.replicas.hosts = hosts;
        settings.replicas.check_interval_ms = 200;
        settings.replicas.max_lag_ms = max_lag_ms;
        // As behind a load balancer that ends TLS.
        settings.application.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let started = Instant::now();
    while !node_of(&app.get("/api/tags").await.headers).starts_with("replica-") {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no replica came into rotation"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app
}

fn node_of(headers: &reqwest::header::HeaderMap) -> String {
    headers
        .get("x-db-node")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// `GET path` with `headers`, as (status, `X-Db-Node`, body).
async fn get_with(
    app: &TestApp,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, String, serde_json::Value) {
    let mut request = reqwest::Client::new().get(format!("{}{path}", app.address));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("a GET");
    let status = response.status();
    let node = node_of(response.headers());
    let body = response.json().await.unwrap_or_default();
    (status, node, body)
}

#[tokio::test]
async fn reads_spread_across_the_replicas_and_writes_go_to_the_primary() {
    let cluster = ReplicatedCluster::start(2).await;
    let app = app_on(&cluster, 5_000).await;

    let registered = app
        .api(
            "POST",
            "/api/users",
            None,
            Some(json!({"user": {"username": "ann", "email": "ann@example.com", "password": "password123"}})),
        )
        .await;
    let mut nodes = std::collections::BTreeSet::new();
    for _ in 0..20 {
        nodes.insert(node_of(&app.get("/api/articles").await.headers));
    }

    assert_eq!(registered.status, StatusCode::CREATED);
    assert!(
        node_of(&registered.headers).ends_with("primary"),
        "the write itself runs on the primary: {}",
        node_of(&registered.headers)
    );
    let position = registered
        .headers
        .get("x-db-lsn")
        .map(|value| value.to_str().unwrap().to_string());
    assert!(
        position.as_deref().is_some_and(|lsn| lsn.contains('/')),
        "a write hands back the primary's WAL position: {position:?}"
    );
    assert_eq!(
        nodes.into_iter().collect::<Vec<_>>(),
        ["replica-1", "replica-2"],
        "anonymous reads go round both replicas"
    );
    let metrics = reqwest::get(format!("{}/metrics", app.address))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for expected in [
        "million_db_replica_in_rotation{node=\"replica-1\"} 1",
        "million_db_replica_in_rotation{node=\"replica-2\"} 1",
        "million_db_replica_lag_bytes{node=\"replica-1\"}",
    ] {
        assert!(metrics.contains(expected), "{expected} in {metrics}");
    }
    let reads = |node: &str| -> u64 {
        metrics
            .lines()
            .find_map(|line| {
                line.strip_prefix(&format!("million_db_reads_total{{node=\"{node}\"}} "))
            })
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    };
    assert!(
        reads("replica-1") >= 5 && reads("replica-2") >= 5,
        "{metrics}"
    );
}

#[tokio::test]
async fn a_write_on_a_replica_connection_is_refused() {
    use diesel_async::RunQueryDsl;
    let cluster = ReplicatedCluster::start(1).await;
    let settings = crate::helpers::test_settings(&cluster.database());
    let mut replica_settings = settings.replicas.clone();
    replica_settings.hosts = cluster.hosts();
    replica_settings.check_interval_ms = 100;
    let conninfo = cluster.database().conninfo;
    let replicas = million::tiers::replicas::Replicas::new(
        &replica_settings,
        &settings.database,
        &conninfo,
        "test",
    )
    .unwrap();
    replicas.start_monitor();

    let started = Instant::now();
    let mut connection = loop {
        if let Some((connection, _)) = replicas.checkout(None).await {
            break connection;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no replica in rotation"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let error = diesel::sql_query("INSERT INTO tags (name) VALUES ('sneaky')")
        .execute(&mut connection)
        .await
        .unwrap_err()
        .to_string();

    assert!(error.contains("read-only"), "{error}");
}

#[tokio::test]
async fn an_author_reads_their_own_write_while_replay_is_paused_and_others_stay_on_replicas() {
    let cluster = ReplicatedCluster::start(2).await;
    // Generous bounds: the paused replicas stay in rotation for this test.
    let app = app_on(&cluster, 60_000).await;
    let token = app.register("writer").await;
    cluster.caught_up(1).await;
    cluster.caught_up(2).await;
    cluster.pause(1).await;
    cluster.pause(2).await;

    let published = app
        .api(
            "POST",
            "/api/articles",
            Some(&token),
            Some(json!({"article": {"title": "Fresh ink", "description": "d", "body": "b"}})),
        )
        .await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.text);
    let position = published.headers["x-db-lsn"].to_str().unwrap().to_string();
    let (own_status, own_node, own) =
        get_with(&app, "/api/articles/fresh-ink", &[("X-Db-Lsn", &position)]).await;
    let (other_status, other_node, _) = get_with(&app, "/api/articles/fresh-ink", &[]).await;

    assert_eq!(published.status, StatusCode::CREATED);
    assert_eq!(
        own_status,
        StatusCode::OK,
        "the author sees their article ({own_node}, {position}): {own}"
    );
    assert_eq!(own["article"]["title"], "Fresh ink");
    assert_eq!(own_node, "primary");
    assert_eq!(
        other_status,
        StatusCode::NOT_FOUND,
        "someone else reads a paused replica, which has not replayed it"
    );
    assert!(other_node.starts_with("replica-"), "{other_node}");

    // The browser's POST → 303 → GET sees its own write through a cookie.
    let browser = app.browser();
    browser.sign_up("paged").await;
    let posted = browser
        .submit(
            "/editor",
            &[
                ("title", "Paged ink"),
                ("description", "d"),
                ("body", "b"),
                ("tags", ""),
            ],
        )
        .await;
    let page = browser.get("/article/paged-ink").await;
    let stranger = app.browser().get("/article/paged-ink").await;
    // Over HTTPS (as the load balancer says), the cookie is `Secure`.
    let over_https = browser
        .submit_with(
            "/editor",
            &[
                ("title", "Sealed ink"),
                ("description", "d"),
                ("body", "b"),
                ("tags", ""),
            ],
            &[("X-Forwarded-Proto", "https")],
        )
        .await;
    let read_after = |page: &crate::helpers::Page| {
        page.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find(|cookie| cookie.starts_with("million_read_after="))
            .map(str::to_string)
            .unwrap_or_default()
    };

    assert_eq!(posted.status, StatusCode::SEE_OTHER);
    assert!(!read_after(&posted).is_empty(), "the cookie is set");
    assert!(
        !read_after(&posted).contains("Secure"),
        "{}",
        read_after(&posted)
    );
    assert_eq!(over_https.status, StatusCode::SEE_OTHER);
    assert!(
        read_after(&over_https).contains("Secure"),
        "{}",
        read_after(&over_https)
    );
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.text_of(".article-banner h1"), "Paged ink");
    assert_eq!(stranger.status, StatusCode::NOT_FOUND);

    cluster.resume(1).await;
    cluster.resume(2).await;
    cluster.caught_up(1).await;
    let started = Instant::now();
    loop {
        let (status, node, _) = get_with(&app, "/api/articles/fresh-ink", &[]).await;
        if status == StatusCode::OK {
            assert!(node.starts_with("replica-"), "{node}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "replay never showed it"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_revoked_token_is_refused_while_replay_is_paused() {
    let cluster = ReplicatedCluster::start(1).await;
    let app = app_on(&cluster, 60_000).await;
    let old = app.register("moving").await;
    cluster.caught_up(1).await;
    cluster.pause(1).await;

    let changed = app
        .api(
            "PUT",
            "/api/user",
            Some(&old),
            Some(json!({"user": {"password": "a new password 456"}})),
        )
        .await;
    let with_old = app.api("GET", "/api/user", Some(&old), None).await;
    let new = changed.body["user"]["token"].as_str().unwrap().to_string();
    let with_new = app.api("GET", "/api/user", Some(&new), None).await;

    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(
        with_old.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        with_old.text
    );
    assert_eq!(with_new.status, StatusCode::OK, "{}", with_new.text);
}

#[tokio::test]
async fn lagging_and_dead_replicas_leave_rotation_without_a_failed_request() {
    let mut cluster = ReplicatedCluster::start(2).await;
    let app = app_on(&cluster, 1_000).await;
    let token = app.register("busy").await;
    cluster.caught_up(1).await;
    cluster.pause(1).await;

    // Steady writes move the primary on; replica-1 falls behind and must
    // leave, while replica-2, keeping up, must stay.
    let mut failures = Vec::new();
    let started = Instant::now();
    let mut paused_last_served = None;
    let mut healthy_late = 0;
    let mut n = 0;
    while started.elapsed() < Duration::from_secs(5) {
        n += 1;
        app.publish(&token, &format!("Lag {n}"), &[]).await;
        let response = app.get("/api/articles?author=busy&limit=1").await;
        if response.status != StatusCode::OK {
            failures.push(response.status);
        }
        match node_of(&response.headers).as_str() {
            "replica-1" => paused_last_served = Some(started.elapsed()),
            "replica-2" if started.elapsed() > Duration::from_secs(4) => healthy_late += 1,
            _ => {}
        }
    }

    // Now replica-2 dies under reads: they move to the primary.
    cluster.kill(2);
    let mut nodes_after_kill = Vec::new();
    for _ in 0..50 {
        let response = app.get("/api/articles?author=busy&limit=1").await;
        if response.status != StatusCode::OK {
            failures.push(response.status);
        }
        nodes_after_kill.push(node_of(&response.headers));
    }

    assert!(failures.is_empty(), "failed requests: {failures:?}");
    assert!(
        paused_last_served.is_none_or(|at| at < Duration::from_secs(3)),
        "the paused replica still served reads {paused_last_served:?} into the lag"
    );
    assert!(
        healthy_late > 0,
        "replica-2 kept up with {n} writes but left rotation"
    );
    assert!(
        nodes_after_kill[10..].iter().all(|node| node == "primary"),
        "{nodes_after_kill:?}"
    );
}

#[tokio::test]
async fn signing_in_right_after_signing_up_works_while_replay_is_paused_and_forged_positions_are_ignored()
 {
    let cluster = ReplicatedCluster::start(1).await;
    let app = app_on(&cluster, 60_000).await;
    cluster.pause(1).await;

    app.register("quick").await;
    let login = app
        .api(
            "POST",
            "/api/users/login",
            None,
            Some(json!({"user": {"email": "quick@example.com", "password": "password123"}})),
        )
        .await;
    let mut forged = Vec::new();
    for position in ["FFFFFFFF/FFFFFFFF", "not a position", "0/", "-1/5"] {
        let (status, node, _) = get_with(&app, "/api/articles", &[("X-Db-Lsn", position)]).await;
        forged.push((position, status, node));
    }

    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    for (position, status, node) in forged {
        assert_eq!(status, StatusCode::OK, "{position}");
        assert!(
            node.starts_with("replica-"),
            "{position} sent the read to {node}"
        );
    }
}

#[tokio::test]
async fn with_the_primary_down_reads_go_on_and_writes_say_read_only_until_it_is_back() {
    let mut cluster = ReplicatedCluster::start(1).await;
    let app = app_on(&cluster, 5_000).await;
    let token = app.register("steady").await;
    let slug = app.publish(&token, "Still here", &[]).await;
    // A token revoked before the outage stays revoked through it.
    let revoked = app.register("careful").await;
    let changed = app
        .api(
            "PUT",
            "/api/user",
            Some(&revoked),
            Some(json!({"user": {"password": "a new password 789"}})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    cluster.caught_up(1).await;

    cluster.stop_primary();
    let started = Instant::now();
    let refused = loop {
        let response = app
            .api(
                "POST",
                "/api/articles",
                Some(&token),
                Some(json!({"article": {"title": "Lost?", "description": "d", "body": "b"}})),
            )
            .await;
        if response.status == StatusCode::SERVICE_UNAVAILABLE
            && app
                .browser()
                .get("/")
                .await
                .html
                .select(&scraper::Selector::parse(".read-only-banner").unwrap())
                .next()
                .is_some()
        {
            break response;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never read-only: {}",
            response.text
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let article = app.get(&format!("/api/articles/{slug}")).await;
    let me = app.api("GET", "/api/user", Some(&token), None).await;
    let ended = app.api("GET", "/api/user", Some(&revoked), None).await;
    let home = app.browser().get("/").await;

    assert!(
        refused
            .errors()
            .iter()
            .any(|sentence| sentence.contains("read-only")),
        "{}",
        refused.text
    );
    assert!(refused.headers.contains_key("retry-after"));
    assert_eq!(article.status, StatusCode::OK, "{}", article.text);
    assert_eq!(node_of(&article.headers), "replica-1");
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(ended.status, StatusCode::UNAUTHORIZED, "{}", ended.text);
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.text.contains("read-only for now"));

    cluster.start_primary().await;
    let started = Instant::now();
    loop {
        let response = app
            .api(
                "POST",
                "/api/articles",
                Some(&token),
                Some(json!({"article": {"title": "Back again", "description": "d", "body": "b"}})),
            )
            .await;
        if response.status == StatusCode::CREATED {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "writes never came back: {}",
            response.text
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let started = Instant::now();
    while app
        .browser()
        .get("/")
        .await
        .text
        .contains("read-only for now")
    {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the banner stayed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(feature = "cache")]
#[tokio::test]
async fn a_cache_refill_during_paused_replay_stores_the_new_value_not_the_replicas_old_one() {
    let cluster = ReplicatedCluster::start(1).await;
    let redis = crate::helpers::TestRedis::start().await;
    let hosts = cluster.hosts();
    let redis_url = redis.url();
    let app = spawn_app_on(cluster.database(), |settings| {
        settings.replicas.hosts = hosts;
        settings.replicas.check_interval_ms = 200;
        settings.replicas.max_lag_ms = 60_000;
        settings.cache.redis_url = redis_url;
    })
    .await;
    let token = app.register("editor").await;
    let slug = app.publish(&token, "First draft", &[]).await;
    let path = format!("/api/articles/{slug}");
    assert_eq!(app.get(&path).await.body["article"]["title"], "First draft");
    cluster.caught_up(1).await;
    let started = Instant::now();
    while !node_of(&app.get("/api/articles?author=editor").await.headers).starts_with("replica-") {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the replica never came into rotation"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cluster.pause(1).await;

    let edited = app
        .api(
            "PUT",
            &path,
            Some(&token),
            Some(json!({"article": {"description": "Second thoughts"}})),
        )
        .await;
    // Anonymous, without the writer's position: the refill after the
    // invalidation must not come from the paused replica.
    let refilled = app.get(&path).await;
    let cached = app.get(&path).await;
    let stale_replica = cluster
        .replica(1)
        .await
        .query_one("SELECT description FROM articles WHERE slug = $1", &[&slug])
        .await
        .unwrap()
        .get::<_, String>(0);

    assert_eq!(edited.status, StatusCode::OK, "{}", edited.text);
    assert_eq!(
        stale_replica, "About First draft",
        "the replica really is behind"
    );
    assert_eq!(refilled.body["article"]["description"], "Second thoughts");
    assert_eq!(cached.headers["x-cache"], "hit");
    assert_eq!(cached.body["article"]["description"], "Second thoughts");
}

#[cfg(feature = "cache")]
#[tokio::test]
async fn an_api_client_that_does_not_echo_the_position_still_reads_its_own_writes_on_any_server() {
    let cluster = ReplicatedCluster::start(1).await;
    let redis = crate::helpers::TestRedis::start().await;
    let hosts = cluster.hosts();
    let redis_url = redis.url();
    let configure = move |settings: &mut million::settings::Settings| {
        settings.replicas.hosts = hosts.clone();
        settings.replicas.check_interval_ms = 200;
        settings.replicas.max_lag_ms = 60_000;
        settings.cache.redis_url = redis_url.clone();
    };
    let first = spawn_app_on(cluster.database(), configure.clone()).await;
    let second = spawn_app_on(cluster.database(), configure).await;
    let token = first.register("plain").await;
    cluster.caught_up(1).await;
    for app in [&first, &second] {
        let started = Instant::now();
        while !node_of(&app.get("/api/articles?author=plain").await.headers).starts_with("replica-")
        {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no replica in rotation"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    cluster.pause(1).await;

    first.publish(&token, "Quietly written", &[]).await;
    // No X-Db-Lsn sent back: the position was remembered for the account.
    let own = second
        .api("GET", "/api/articles?author=plain", Some(&token), None)
        .await;
    let anonymous = second.get("/api/articles?author=plain").await;

    assert_eq!(own.status, StatusCode::OK, "{}", own.text);
    assert_eq!(own.body["articlesCount"], 1, "{}", own.text);
    assert_eq!(node_of(&own.headers), "primary");
    assert_eq!(
        anonymous.body["articlesCount"], 0,
        "the paused replica has not replayed it"
    );
    assert!(node_of(&anonymous.headers).starts_with("replica-"));
}
