//! The Redis cache tier against a real Redis started by the test: hits after
//! misses, invalidation on every write path, no stale values after racing
//! reads and writes, one load for many concurrent misses, cached "not found",
//! and a Redis that dies or hangs without taking the site down.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use million::error::AppError;
use million::settings::CacheSettings;
use million::tiers::cache::{Cache, Invalidation};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{ApiResponse, TestApp, TestRedis, spawn_app_on, spawn_app_with};

/// How long any test waits for something it expects to happen.
const PATIENCE: Duration = Duration::from_secs(30);

/// An app on `redis` whose calls only time out if Redis really hangs: a
/// healthy local Redis answers in well under 1 ms, a busy machine may take
/// far longer.
async fn cached_app(redis: &TestRedis) -> TestApp {
    cached_app_timing_out_after(redis, 2_000).await
}

async fn cached_app_timing_out_after(redis: &TestRedis, timeout_ms: u64) -> TestApp {
    let url = redis.url();
    spawn_app_with(move |settings| {
        settings.cache.redis_url = url;
        settings.cache.timeout_ms = timeout_ms;
        settings.cache.breaker_cooldown_ms = 300;
    })
    .await
}

fn cache_header(response: &ApiResponse) -> &str {
    response
        .headers
        .get("x-cache")
        .map(|value| value.to_str().unwrap())
        .unwrap_or("")
}

fn queries(response: &ApiResponse) -> u64 {
    response.headers["x-db-queries"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Reads `path` until the cache answers it (a refill, or the circuit
/// closing again, can take a moment).
async fn until_hit(app: &TestApp, path: &str) -> ApiResponse {
    let started = Instant::now();
    loop {
        let response = app.get(path).await;
        if cache_header(&response) == "hit" {
            return response;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "{path} never came from the cache"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn reads_miss_once_then_hit_without_touching_the_database() {
    let redis = TestRedis::start().await;
    let app = cached_app(&redis).await;
    let token = app.register("jake").await;
    let slug = app.publish(&token, "Cached", &["rust"]).await;

    for path in [
        "/api/profiles/jake".to_string(),
        format!("/api/articles/{slug}"),
        "/api/tags".to_string(),
        "/api/articles".to_string(),
    ] {
        let first = app.get(&path).await;
        let second = until_hit(&app, &path).await;
        assert_eq!(cache_header(&first), "miss", "{path}");
        assert!(queries(&first) > 0, "{path}");
        assert_eq!(queries(&second), 0, "{path}: a hit costs no query");
        assert_eq!(first.body, second.body, "{path}: the same answer");
    }
}

#[tokio::test]
async fn one_entry_serves_every_viewer_with_their_own_flags() {
    let redis = TestRedis::start().await;
    let app = cached_app(&redis).await;
    let author = app.register("author").await;
    let fan = app.register("fan").await;
    let slug = app.publish(&author, "Shared", &[]).await;
    app.api(
        "POST",
        &format!("/api/articles/{slug}/favorite"),
        Some(&fan),
        None,
    )
    .await;
    app.api("POST", "/api/profiles/author/follow", Some(&fan), None)
        .await;
    let path = format!("/api/articles/{slug}");
    until_hit(&app, &path).await;

    let as_fan = app.api("GET", &path, Some(&fan), None).await;
    let as_author = app.api("GET", &path, Some(&author), None).await;

    assert_eq!(cache_header(&as_fan), "hit");
    assert_eq!(as_fan.body["article"]["favorited"], true);
    assert_eq!(as_fan.body["article"]["author"]["following"], true);
    assert_eq!(as_author.body["article"]["favorited"], false);
    assert_eq!(as_author.body["article"]["author"]["following"], false);
    assert_eq!(as_fan.body["article"]["favoritesCount"], 1);
}

#[tokio::test]
async fn every_write_path_invalidates_what_it_changed() {
    let redis = TestRedis::start().await;
    let app = cached_app(&redis).await;
    let author = app.register("author").await;
    let fan = app.register("fan").await;
    let slug = app.publish(&author, "Original", &["old-tag"]).await;
    let article = format!("/api/articles/{slug}");

    // Profile edit.
    until_hit(&app, "/api/profiles/author").await;
    app.api(
        "PUT",
        "/api/user",
        Some(&author),
        Some(json!({"user": {"bio": "Edited"}})),
    )
    .await;
    assert_eq!(
        app.get("/api/profiles/author").await.body["profile"]["bio"],
        "Edited"
    );

    // Follow: the counts on the profile page.
    let page = app.browser();
    let before = page.get("/profile/author").await;
    app.api("POST", "/api/profiles/author/follow", Some(&fan), None)
        .await;
    let after = page.get("/profile/author").await;
    assert_eq!(before.text_of(".followers-count"), "0");
    assert_eq!(after.text_of(".followers-count"), "1");

    // Article edit, with a new title and tags.
    until_hit(&app, &article).await;
    until_hit(&app, "/api/tags").await;
    let edited = app
        .api("PUT", &article, Some(&author), Some(json!({"article": {"title": "Renamed", "body": "New body", "tagList": ["new-tag"]}})))
        .await;
    let new_slug = edited.body["article"]["slug"].as_str().unwrap().to_string();
    assert_eq!(app.get(&article).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&format!("/api/articles/{new_slug}")).await.body["article"]["body"],
        "New body"
    );
    assert_eq!(app.get("/api/tags").await.body["tags"], json!(["new-tag"]));
    let article = format!("/api/articles/{new_slug}");
    let comments_path = format!("{article}/comments");

    // Favorite: the count on the article and in the global list.
    until_hit(&app, &article).await;
    until_hit(&app, "/api/articles").await;
    app.api("POST", &format!("{article}/favorite"), Some(&fan), None)
        .await;
    assert_eq!(app.get(&article).await.body["article"]["favoritesCount"], 1);
    assert_eq!(
        app.get("/api/articles").await.body["articles"][0]["favoritesCount"],
        1
    );

    // Comments.
    until_hit(&app, &comments_path).await;
    let comment = app
        .api(
            "POST",
            &comments_path,
            Some(&fan),
            Some(json!({"comment": {"body": "Hello"}})),
        )
        .await;
    assert_eq!(
        app.get(&comments_path).await.body["comments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let id = comment.body["comment"]["id"].as_i64().unwrap();
    until_hit(&app, &comments_path).await;
    app.api("DELETE", &format!("{comments_path}/{id}"), Some(&fan), None)
        .await;
    assert_eq!(
        app.get(&comments_path).await.body["comments"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // The fan renames themselves: their name on the author's thread changes.
    app.api(
        "POST",
        &comments_path,
        Some(&fan),
        Some(json!({"comment": {"body": "Me again"}})),
    )
    .await;
    until_hit(&app, &comments_path).await;
    app.api(
        "PUT",
        "/api/user",
        Some(&fan),
        Some(json!({"user": {"username": "renamed_fan"}})),
    )
    .await;
    assert_eq!(
        app.get(&comments_path).await.body["comments"][0]["author"]["username"],
        "renamed_fan"
    );

    // Account deletion: the author's profile and article go, counts follow.
    until_hit(&app, &article).await;
    until_hit(&app, "/api/profiles/author").await;
    let browser = app.browser();
    browser.sign_in("author").await;
    browser
        .submit(
            "/settings/delete",
            &[("password", crate::helpers::PASSWORD)],
        )
        .await;
    assert_eq!(
        app.get("/api/profiles/author").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get(&article).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/articles").await.body["articlesCount"], 0);
    assert_eq!(app.get("/api/tags").await.body["tags"], json!([]));
}

#[tokio::test]
async fn missing_things_are_cached_briefly_and_forgotten_when_created() {
    let redis = TestRedis::start().await;
    let app = cached_app(&redis).await;

    let first = app.get("/api/profiles/newcomer").await;
    let second = until_hit(&app, "/api/profiles/newcomer").await;
    app.register("newcomer").await;
    let created = app.get("/api/profiles/newcomer").await;

    assert_eq!(first.status, StatusCode::NOT_FOUND);
    assert_eq!(second.status, StatusCode::NOT_FOUND);
    assert_eq!(
        queries(&second),
        0,
        "a flood of misses stays off the database"
    );
    assert_eq!(created.status, StatusCode::OK);
}

/// Settings for a cache on `redis` that never gives up on a healthy Redis.
fn settings(redis: &TestRedis) -> CacheSettings {
    CacheSettings {
        redis_url: redis.url(),
        timeout_ms: 5_000,
        ..CacheSettings::default()
    }
}

#[tokio::test]
async fn a_write_during_a_slow_read_never_leaves_the_old_value_behind() {
    let redis = TestRedis::start().await;
    let cache = Cache::new(&settings(&redis)).unwrap();
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();

    // A reader misses and reads the old value from the database, slowly...
    let reader = {
        let cache = cache.clone();
        tokio::spawn(async move {
            cache
                .get_or_load("race:1", Duration::from_secs(60), async || {
                    let _ = started_tx.send(());
                    let _ = release_rx.await;
                    Ok::<_, AppError>(Some("old".to_string()))
                })
                .await
        })
    };
    started_rx.await.unwrap();
    // ... meanwhile a write commits and invalidates ...
    cache
        .invalidate(Invalidation {
            keys: vec!["race:1".into()],
            generations: vec![],
        })
        .await;
    // ... and then the slow reader finishes.
    release_tx.send(()).unwrap();
    assert_eq!(reader.await.unwrap().unwrap().as_deref(), Some("old"));

    let loads = AtomicUsize::new(0);
    let next = cache
        .get_or_load("race:1", Duration::from_secs(60), async || {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok::<_, AppError>(Some("new".to_string()))
        })
        .await
        .unwrap();
    assert_eq!(
        next.as_deref(),
        Some("new"),
        "the old value was not put back"
    );
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    assert_eq!(cache.counters().stale_sets_prevented, 1);
}

#[tokio::test]
async fn concurrent_misses_load_once_within_and_across_servers() {
    let redis = TestRedis::start().await;
    // The first load is held until every other reader provably waits for
    // it: neither its lease nor the other server's wait may run out first.
    let patient = CacheSettings {
        lease_ms: 600_000,
        lease_wait_ms: 600_000,
        ..settings(&redis)
    };
    let server_a = Cache::new(&patient).unwrap();
    let server_b = Cache::new(&patient).unwrap();
    let loads = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let readers: Vec<_> = (0..20)
        .map(|n| {
            let cache = if n % 2 == 0 {
                server_a.clone()
            } else {
                server_b.clone()
            };
            let loads = Arc::clone(&loads);
            let release = Arc::clone(&release);
            tokio::spawn(async move {
                cache
                    .get_or_load("hot:1", Duration::from_secs(60), async || {
                        loads.fetch_add(1, Ordering::SeqCst);
                        let _ = release.acquire().await;
                        Ok::<_, AppError>(Some(42u32))
                    })
                    .await
            })
        })
        .collect();

    // One reader loads while the nineteen others wait for it, in its own
    // server or in the other one.
    let waiting = || server_a.counters().waiting + server_b.counters().waiting;
    let started = Instant::now();
    while !(loads.load(Ordering::SeqCst) == 1 && waiting() == 19) {
        assert!(
            loads.load(Ordering::SeqCst) <= 1,
            "a second database load started"
        );
        assert!(
            started.elapsed() < PATIENCE,
            "{} loads, {} readers waiting",
            loads.load(Ordering::SeqCst),
            waiting()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    release.add_permits(1);
    for reader in readers {
        assert_eq!(reader.await.unwrap().unwrap(), Some(42));
    }

    assert_eq!(
        loads.load(Ordering::SeqCst),
        1,
        "twenty misses, one database load"
    );
    let coalesced = server_a.counters().coalesced + server_b.counters().coalesced;
    assert_eq!(coalesced, 19, "every waiting reader got the one load");
    assert_eq!(waiting(), 0);
}

#[tokio::test]
async fn hot_entries_are_refreshed_before_they_expire() {
    let redis = TestRedis::start().await;
    let eager = Cache::new(&CacheSettings {
        early_refresh_beta: 1e12,
        ..settings(&redis)
    })
    .unwrap();
    let never = Cache::new(&CacheSettings {
        early_refresh_beta: 0.0,
        ..settings(&redis)
    })
    .unwrap();
    let loads = AtomicUsize::new(0);
    let load = async || {
        loads.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(5)).await;
        Ok::<_, AppError>(Some(loads.load(Ordering::SeqCst)))
    };

    eager
        .get_or_load("xfetch:1", Duration::from_secs(600), load)
        .await
        .unwrap();
    never
        .get_or_load("xfetch:1", Duration::from_secs(600), load)
        .await
        .unwrap();
    assert_eq!(
        loads.load(Ordering::SeqCst),
        1,
        "without early refresh, a fresh entry is just read"
    );
    let refreshed = eager
        .get_or_load("xfetch:1", Duration::from_secs(600), load)
        .await
        .unwrap();

    assert_eq!(refreshed, Some(2));
    assert_eq!(eager.counters().early_refreshes, 1);
}

#[tokio::test]
async fn a_failed_early_refresh_serves_the_cached_value() {
    let redis = TestRedis::start().await;
    let eager = Cache::new(&CacheSettings {
        early_refresh_beta: 1e12,
        ..settings(&redis)
    })
    .unwrap();
    eager
        .get_or_load("xfetch:2", Duration::from_secs(600), async || {
            // Long enough for XFetch to refresh it on every later read.
            tokio::time::sleep(Duration::from_millis(5)).await;
            Ok::<_, AppError>(Some("cached".to_string()))
        })
        .await
        .unwrap();

    // The next read refreshes early, and the database fails it.
    let served = eager
        .get_or_load("xfetch:2", Duration::from_secs(600), async || {
            Err::<Option<String>, _>(AppError::DatabaseUnavailable(anyhow::anyhow!(
                "the database hiccups"
            )))
        })
        .await;

    assert_eq!(
        served.unwrap().as_deref(),
        Some("cached"),
        "a hit stays a hit"
    );
    let counters = eager.counters();
    assert_eq!(counters.early_refreshes, 1);
    assert_eq!(counters.hits, 1);
}

#[tokio::test]
async fn a_dead_redis_costs_no_request_and_the_cache_comes_back() {
    let mut redis = TestRedis::start().await;
    let app = cached_app(&redis).await;
    let token = app.register("jake").await;
    let slug = app.publish(&token, "Resilient", &[]).await;
    let paths = [
        "/api/profiles/jake".to_string(),
        format!("/api/articles/{slug}"),
        "/api/articles".into(),
    ];
    for path in &paths {
        until_hit(&app, path).await;
    }

    redis.kill();
    // Its near cache serves what it had until it notices; it stops at once.
    let noticed = Instant::now();
    while crate::cache_near::metric(&app, "million_cache_near_subscribed").await != 0 {
        assert!(
            noticed.elapsed() < PATIENCE,
            "the dead Redis went unnoticed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    let mut outcomes = Vec::new();
    for _ in 0..5 {
        for path in &paths {
            let response = app.get(path).await;
            assert_eq!(response.status, StatusCode::OK, "{path}: {}", response.text);
            outcomes.push(cache_header(&response).to_string());
        }
    }
    let page = app.browser().get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no waiting on a dead Redis"
    );
    assert!(
        outcomes.iter().all(|outcome| outcome == "bypass"),
        "{outcomes:?}"
    );
    let metrics = app.get("/metrics").await.text;
    assert!(
        metrics.contains("million_cache_circuit_open 1"),
        "{metrics}"
    );

    // Back: once a probe finds it after the cooldown, reads hit again.
    redis.restart().await;
    for path in &paths {
        until_hit(&app, path).await;
    }
    let metrics = app.get("/metrics").await.text;
    assert!(
        metrics.contains("million_cache_circuit_open 0"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_hung_redis_is_bypassed_and_missed_invalidations_are_replayed() {
    let redis = TestRedis::start().await;
    // Short: every call to the hung Redis waits this long.
    let app = cached_app_timing_out_after(&redis, 300).await;
    let token = app.register("jake").await;
    until_hit(&app, "/api/profiles/jake").await;

    // Redis stops answering: reads time out quickly and fall back ...
    redis.freeze();
    let during = app.get("/api/profiles/jake").await;
    assert_eq!(during.status, StatusCode::OK);
    // ... and a write cannot reach it to invalidate the cached profile.
    let updated = app
        .api(
            "PUT",
            "/api/user",
            Some(&token),
            Some(json!({"user": {"bio": "Changed while Redis hung"}})),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK);
    for _ in 0..3 {
        assert_eq!(cache_header(&app.get("/api/profiles/jake").await), "bypass");
    }

    // Redis answers again: the missed invalidation is delivered, no stale read.
    redis.thaw();
    let started = Instant::now();
    loop {
        let response = app.get("/api/profiles/jake").await;
        if cache_header(&response) != "bypass" {
            assert_eq!(
                response.body["profile"]["bio"],
                "Changed while Redis hung",
                "{}",
                cache_header(&response)
            );
            break;
        }
        assert!(started.elapsed() < PATIENCE, "the cache never came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = until_hit(&app, "/api/profiles/jake").await;
    assert_eq!(after.body["profile"]["bio"], "Changed while Redis hung");
}

#[tokio::test]
async fn racing_readers_never_see_a_write_undone() {
    let redis = TestRedis::start().await;
    let app = Arc::new(cached_app(&redis).await);
    let token = app.register("jake").await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let app = Arc::clone(&app);
            let stop = Arc::clone(&stop);
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    app.get("/api/profiles/jake").await;
                }
            })
        })
        .collect();

    for round in 0..15 {
        let bio = format!("bio number {round}");
        let written = app
            .api(
                "PUT",
                "/api/user",
                Some(&token),
                Some(json!({"user": {"bio": bio}})),
            )
            .await;
        assert_eq!(written.status, StatusCode::OK);
        // Once the write has answered, every later read sees it.
        for _ in 0..5 {
            assert_eq!(
                app.get("/api/profiles/jake").await.body["profile"]["bio"],
                bio
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.await.unwrap();
    }
}

#[tokio::test]
async fn the_architecture_page_shows_the_cache_tier() {
    let redis = TestRedis::start().await;
    let app = cached_app(&redis).await;
    let browser = app.browser();

    browser.get("/architecture").await;
    let page = browser.get("/architecture").await;

    assert_eq!(
        page.text_of(".fact-cache"),
        format!("hit (Redis 127.0.0.1:{})", redis.port)
    );
    assert_eq!(page.text_of(".fact-queries"), "0");
    assert!(page.texts(".node-cache.lit").len() == 1);
    assert_eq!(page.headers["x-cache"], "hit");
}

#[tokio::test]
async fn failed_sign_ins_are_counted_across_servers_in_redis() {
    let redis = TestRedis::start().await;
    let url = redis.url();
    let first = spawn_app_with(|settings| {
        settings.cache.redis_url = url.clone();
        settings.limits.signin_failures = 2;
    })
    .await;
    let second = spawn_app_on(first.db.clone(), |settings| {
        settings.cache.redis_url = url.clone();
        settings.limits.signin_failures = 2;
    })
    .await;
    first.register("shared").await;
    let wrong = json!({"user": {"email": "shared@example.com", "password": "not it"}});

    let on_first = first
        .api("POST", "/api/users/login", None, Some(wrong.clone()))
        .await;
    let on_second = second
        .api("POST", "/api/users/login", None, Some(wrong.clone()))
        .await;
    let then_first = first
        .api("POST", "/api/users/login", None, Some(wrong))
        .await;

    assert_eq!(on_first.status, StatusCode::UNAUTHORIZED);
    assert_eq!(on_second.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        then_first.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the second server's failure counted on the first: {}",
        then_first.text
    );
}
