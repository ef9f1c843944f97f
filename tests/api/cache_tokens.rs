//! API tokens with the cache tier: checked against the account's session
//! generation in Redis (one `GET`, no database query when nothing changed),
//! and still refused on every server as soon as a revocation returns.

use std::time::Duration;

use million::error::AppError;
use million::settings::CacheSettings;
use million::tiers::cache::Cache;
use reqwest::StatusCode;
use serde_json::json;

use crate::cache_near::two_servers;
use crate::helpers::{ApiResponse, PASSWORD, TestApp, TestRedis, spawn_app_with};

fn queries(response: &ApiResponse) -> u64 {
    response.headers["x-db-queries"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// `GET /api/profiles/jake` with `token`, from `app`.
async fn read_with(app: &TestApp, token: &str) -> ApiResponse {
    app.api("GET", "/api/profiles/jake", Some(token), None)
        .await
}

/// A fresh token for jake, from `app`.
async fn log_in(app: &TestApp, password: &str) -> String {
    let response = app
        .api(
            "POST",
            "/api/users/login",
            None,
            Some(json!({"user": {"email": "jake@example.com", "password": password}})),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    response.body["user"]["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_revoked_token_is_refused_on_every_server_once_the_revocation_returns() {
    let redis = TestRedis::start().await;
    let (a, b) = two_servers(&redis).await;
    let first = a.register("jake").await;
    let browser = a.browser();
    browser.sign_in("jake").await;

    // Signing out everywhere, on A: B held the token's generation in Redis.
    assert_eq!(read_with(&b, &first).await.status, StatusCode::OK);
    assert_eq!(read_with(&b, &first).await.status, StatusCode::OK);
    browser.submit("/settings/sign-out-everywhere", &[]).await;
    assert_eq!(read_with(&b, &first).await.status, StatusCode::UNAUTHORIZED);

    // A new password, through the API on A: the token returned works on B,
    // the one it replaced does not.
    let second = log_in(&a, PASSWORD).await;
    assert_eq!(read_with(&b, &second).await.status, StatusCode::OK);
    let changed = a
        .api(
            "PUT",
            "/api/user",
            Some(&second),
            Some(
                json!({"user": {"password": "another password 456", "currentPassword": PASSWORD}}),
            ),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    let third = changed.body["user"]["token"].as_str().unwrap().to_string();
    assert_eq!(
        read_with(&b, &second).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(read_with(&b, &third).await.status, StatusCode::OK);

    // Deleting the account, on A.
    let browser = a.browser();
    let email = "jake@example.com";
    let signed_in = browser
        .submit(
            "/login",
            &[("email", email), ("password", "another password 456")],
        )
        .await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    browser
        .submit("/settings/delete", &[("password", "another password 456")])
        .await;
    assert_eq!(
        b.api("GET", "/api/articles", Some(&third), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_token_costs_no_database_query_when_nothing_changed() {
    let redis = TestRedis::start().await;
    let url = redis.url();
    let app = spawn_app_with(move |settings| {
        settings.cache.redis_url = url;
        settings.cache.timeout_ms = 2_000;
        // Long enough that nothing expires during the test.
        settings.cache.session_ttl_secs = 60;
    })
    .await;
    let token = app.register("jake").await;
    // The profile is cached: an anonymous read costs nothing.
    let started = std::time::Instant::now();
    while app.get("/api/profiles/jake").await.headers["x-cache"] != "hit" {
        assert!(started.elapsed() < Duration::from_secs(30));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let anonymous = app.get("/api/profiles/jake").await;

    let first = read_with(&app, &token).await;
    let later = read_with(&app, &token).await;

    assert_eq!(queries(&anonymous), 0);
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(
        queries(&first),
        1,
        "the first token check reads the generation"
    );
    assert_eq!(later.status, StatusCode::OK);
    assert_eq!(later.headers["x-cache"], "hit");
    assert_eq!(
        queries(&later),
        0,
        "later ones read it from Redis, as an anonymous read costs"
    );
}

#[tokio::test]
async fn a_revocation_that_cannot_reach_redis_waits_until_no_copy_is_left() {
    let redis = TestRedis::start().await;
    let timing = CacheSettings {
        session_ttl_secs: 1,
        lease_ms: 200,
        timeout_ms: 5_000,
        ..CacheSettings::default()
    };
    let healthy = Cache::new(&CacheSettings {
        redis_url: redis.url(),
        ..timing.clone()
    })
    .unwrap();
    // A server cut off from Redis: nothing listens where it looks.
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let cut_off_url = format!("redis://{}", unused.local_addr().unwrap());
    drop(unused);
    let cut_off = Cache::new(&CacheSettings {
        redis_url: cut_off_url,
        ..timing
    })
    .unwrap();
    let generation = |value: i32| async move || Ok::<_, AppError>(Some(value));
    assert_eq!(
        healthy.session_generation(7, generation(0)).await.unwrap(),
        Some(0)
    );

    // The generation moves on in the database; the revoking server cannot
    // delete the copy in Redis ...
    cut_off.sessions_ended(7).await;

    // ... so it answered only once the copy had expired.
    assert_eq!(
        healthy.session_generation(7, generation(1)).await.unwrap(),
        Some(1)
    );
}
