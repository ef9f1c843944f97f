//! The near cache in front of Redis: two app servers over one database and
//! one Redis, where a write on one shows on the other within the stated
//! bound; other servers hear of writes by pub/sub, and a lost message is
//! covered by the near cache's TTL; the near cache keeps to its capacity.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use million::error::AppError;
use million::settings::CacheSettings;
use million::tiers::cache::{Cache, Invalidation};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, TestRedis, spawn_app_on, spawn_app_with};

/// How long any test waits for something it expects to happen.
const PATIENCE: Duration = Duration::from_secs(30);
/// The staleness bound these tests configure (`cache.near_ttl_ms`).
const BOUND: Duration = Duration::from_millis(1000);

/// Two app servers sharing a database and `redis`, as behind a balancer.
pub async fn two_servers(redis: &TestRedis) -> (TestApp, TestApp) {
    let url = redis.url();
    let configure = move |settings: &mut million::settings::Settings| {
        settings.cache.redis_url = url;
        // Only a hung Redis times out: a busy machine may be slow to answer.
        settings.cache.timeout_ms = 2_000;
        settings.cache.breaker_cooldown_ms = 300;
        settings.cache.near_ttl_ms = BOUND.as_millis() as u64;
    };
    let a = spawn_app_with(configure.clone()).await;
    let b = spawn_app_on(a.db.clone(), configure).await;
    (a, b)
}

/// One number from `/metrics`.
pub async fn metric(app: &TestApp, name: &str) -> u64 {
    let text = app.get("/metrics").await.text;
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} is not in /metrics:\n{text}"))
        .parse()
        .unwrap()
}

/// Waits until `app` hears other servers' invalidations (its near cache is on).
pub async fn until_subscribed(app: &TestApp) {
    let started = Instant::now();
    while metric(app, "million_cache_near_subscribed").await != 1 {
        assert!(started.elapsed() < PATIENCE, "never subscribed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `cache` hears other servers' invalidations.
async fn until_cache_subscribed(cache: &Cache) {
    let started = Instant::now();
    while !cache.counters().near_subscribed {
        assert!(started.elapsed() < PATIENCE, "never subscribed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads `key` through `cache` until its near cache answers; the value.
async fn until_near_hit(cache: &Cache, key: &str, value: &str) -> String {
    let started = Instant::now();
    loop {
        let before = cache.counters().near_hits;
        let read = cache
            .get_or_load(key, Duration::from_secs(600), async || {
                Ok::<_, AppError>(Some(value.to_string()))
            })
            .await
            .unwrap()
            .unwrap();
        if cache.counters().near_hits > before {
            return read;
        }
        assert!(started.elapsed() < PATIENCE, "{key} never came from near");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn near_settings(redis: &TestRedis, near_ttl_ms: u64) -> CacheSettings {
    CacheSettings {
        redis_url: redis.url(),
        timeout_ms: 5_000,
        near_ttl_ms,
        ..CacheSettings::default()
    }
}

#[tokio::test]
async fn a_write_on_one_server_shows_on_the_other_within_the_bound() {
    let redis = TestRedis::start().await;
    let (a, b) = two_servers(&redis).await;
    let token = a.register("jake").await;
    until_subscribed(&b).await;

    // Server B answers the profile from its near cache ...
    let started = Instant::now();
    loop {
        let before = metric(&b, "million_cache_near_hits_total").await;
        let read = b.get("/api/profiles/jake").await;
        if metric(&b, "million_cache_near_hits_total").await > before {
            assert_eq!(read.headers["x-cache"], "hit", "near hits are hits");
            break;
        }
        assert!(started.elapsed() < PATIENCE, "B never served from near");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // ... when server A changes it.
    let written = a
        .api(
            "PUT",
            "/api/user",
            Some(&token),
            Some(json!({"user": {"bio": "Written on A"}})),
        )
        .await;
    assert_eq!(written.status, StatusCode::OK);
    let returned = Instant::now();

    // B shows the change, and never later than the bound after the write returned.
    loop {
        let sent = Instant::now();
        let read = b.get("/api/profiles/jake").await;
        if read.body["profile"]["bio"] == "Written on A" {
            break;
        }
        assert!(
            sent < returned + BOUND,
            "B served the old profile {:?} after the write returned",
            sent - returned
        );
        assert!(started.elapsed() < PATIENCE, "B never saw the write");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn other_servers_drop_what_a_write_changed_when_they_hear_of_it() {
    let redis = TestRedis::start().await;
    // A TTL far longer than the test's patience: only the message can do it.
    let settings = near_settings(&redis, 60_000);
    let a = Cache::new(&settings).unwrap();
    let b = Cache::new(&settings).unwrap();
    until_cache_subscribed(&b).await;
    assert_eq!(until_near_hit(&b, "news", "old").await, "old");

    a.invalidate(Invalidation {
        keys: vec!["news".into()],
        generations: vec![],
    })
    .await;

    let started = Instant::now();
    loop {
        let read = b
            .get_or_load("news", Duration::from_secs(600), async || {
                Ok::<_, AppError>(Some("new".to_string()))
            })
            .await
            .unwrap();
        if read.as_deref() == Some("new") {
            break;
        }
        assert!(started.elapsed() < PATIENCE, "B never heard of the write");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_lost_message_is_covered_by_the_near_ttl() {
    let redis = TestRedis::start().await;
    let cache = Cache::new(&near_settings(&redis, BOUND.as_millis() as u64)).unwrap();
    until_cache_subscribed(&cache).await;
    until_near_hit(&cache, "lost", "old").await;

    // Another writer deletes the entry and its message never arrives.
    let client = deadpool_redis::redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = deadpool_redis::redis::cmd("DEL")
        .arg("million:lost")
        .query_async(&mut conn)
        .await
        .unwrap();
    let deleted = Instant::now();

    let started = Instant::now();
    loop {
        let sent = Instant::now();
        let read = cache
            .get_or_load("lost", Duration::from_secs(600), async || {
                Ok::<_, AppError>(Some("new".to_string()))
            })
            .await
            .unwrap();
        if read.as_deref() == Some("new") {
            break;
        }
        assert!(
            sent < deleted + BOUND,
            "the old value was served {:?} after Redis forgot it",
            sent - deleted
        );
        assert!(started.elapsed() < PATIENCE);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn the_near_cache_keeps_to_its_capacity() {
    let redis = TestRedis::start().await;
    let capacity_kib = 16;
    let cache = Cache::new(&CacheSettings {
        near_capacity_kib: capacity_kib,
        ..near_settings(&redis, 60_000)
    })
    .unwrap();
    until_cache_subscribed(&cache).await;
    let big = "x".repeat(1000);
    let loads = AtomicUsize::new(0);
    let load = async || {
        loads.fetch_add(1, Ordering::SeqCst);
        Ok::<_, AppError>(Some(big.clone()))
    };

    for n in 0..200 {
        for _ in 0..2 {
            cache
                .get_or_load(&format!("big:{n}"), Duration::from_secs(600), load)
                .await
                .unwrap();
        }
    }

    let counters = cache.counters();
    assert!(
        counters.near_bytes <= capacity_kib * 1024,
        "{} bytes held",
        counters.near_bytes
    );
    assert!(
        counters.near_entries > 0 && counters.near_entries < 200,
        "{} entries held",
        counters.near_entries
    );
    assert!(counters.near_hits > 0);
    // What the near cache let go of is still served, from Redis.
    assert_eq!(loads.load(Ordering::SeqCst), 200);
    for n in 0..200 {
        let read = cache
            .get_or_load(&format!("big:{n}"), Duration::from_secs(600), load)
            .await
            .unwrap();
        assert_eq!(read.as_deref(), Some(big.as_str()));
    }
    assert_eq!(loads.load(Ordering::SeqCst), 200, "no entry was lost");
}

/// Reads `key` through `cache` until it answers `wanted` (loading `wanted`
/// on a miss); fails if an older value still comes more than the bound
/// after `written`.
async fn until_read(cache: &Cache, key: &str, wanted: &str, written: Instant) {
    let started = Instant::now();
    loop {
        let sent = Instant::now();
        let read = cache
            .get_or_load(key, Duration::from_secs(600), async || {
                Ok::<_, AppError>(Some(wanted.to_string()))
            })
            .await
            .unwrap();
        if read.as_deref() == Some(wanted) {
            return;
        }
        assert!(
            sent < written + BOUND,
            "{read:?} served {:?} after the write that replaced it",
            sent - written
        );
        assert!(started.elapsed() < PATIENCE, "{wanted} never came");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn two_releases_with_different_cached_shapes_each_see_the_others_invalidations() {
    // During a rolling deploy the old release and the new one, whose cached
    // shape has changed, share one Redis.
    let redis = TestRedis::start().await;
    let settings = near_settings(&redis, BOUND.as_millis() as u64);
    let old = Cache::for_schema(&settings, 1).unwrap();
    let new = Cache::for_schema(&settings, 2).unwrap();
    until_cache_subscribed(&old).await;
    until_cache_subscribed(&new).await;

    // Each reads only its own shape: the other's entry is a miss.
    until_near_hit(&old, "profile:jake", "old shape, bio 1").await;
    until_near_hit(&new, "profile:jake", "new shape, bio 1").await;

    // The old release writes: the new one stops serving what it replaced.
    old.invalidate(Invalidation {
        keys: vec!["profile:jake".into()],
        generations: vec![],
    })
    .await;
    let written = Instant::now();
    until_read(&new, "profile:jake", "new shape, bio 2", written).await;

    // And the other way round.
    until_near_hit(&old, "profile:jake", "old shape, bio 2").await;
    new.invalidate(Invalidation {
        keys: vec!["profile:jake".into()],
        generations: vec![],
    })
    .await;
    let written = Instant::now();
    until_read(&old, "profile:jake", "old shape, bio 3", written).await;
}
