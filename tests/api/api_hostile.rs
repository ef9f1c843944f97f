//! Hostile and malformed input: always a clear 4xx, never a 500, nothing stored.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn malformed_bodies_are_refused_with_the_realworld_shape() {
    let app = spawn_app().await;

    let not_json = app
        .api_raw(
            "POST",
            "/api/users",
            "application/json",
            b"{\"user\": ".to_vec(),
        )
        .await;
    let bad_utf8 = app
        .api_raw(
            "POST",
            "/api/users",
            "application/json",
            b"{\"user\":{\"username\":\"\xff\xfe\"}}".to_vec(),
        )
        .await;
    let wrong_type = app
        .api_raw("POST", "/api/users", "text/plain", b"hello".to_vec())
        .await;
    let no_wrapper = app
        .api(
            "POST",
            "/api/users",
            None,
            Some(json!({"username": "x", "email": "x@y.z", "password": "abcdefgh"})),
        )
        .await;
    let numbers = app
        .api(
            "POST",
            "/api/users",
            None,
            Some(json!({"user": {"username": 5, "email": [], "password": {}}})),
        )
        .await;

    for response in [&not_json, &bad_utf8, &wrong_type, &no_wrapper, &numbers] {
        assert_eq!(
            response.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            response.text
        );
        assert!(!response.errors().is_empty(), "{}", response.text);
    }
    assert_eq!(app.db.count("SELECT count(*) FROM users").await, 0);
}

#[tokio::test]
async fn oversized_bodies_are_refused_before_they_are_read() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let huge = "x".repeat(300 * 1024);

    let response = app
        .api(
            "PUT",
            "/api/user",
            Some(&token),
            Some(json!({"user": {"bio": huge}})),
        )
        .await;

    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(response.errors(), ["request body is too large"]);
}

#[tokio::test]
async fn nul_bytes_and_control_characters_are_refused() {
    let app = spawn_app().await;
    let token = app.register("jake").await;

    let title = app
        .api(
            "POST",
            "/api/articles",
            Some(&token),
            Some(json!({"article": {"title": "nul\u{0}byte", "description": "d", "body": "b"}})),
        )
        .await;
    let bio = app
        .api(
            "PUT",
            "/api/user",
            Some(&token),
            Some(json!({"user": {"bio": "bell\u{7}"}})),
        )
        .await;
    let comment_slug = app.publish(&token, "Target", &[]).await;
    let comment = app
        .api(
            "POST",
            &format!("/api/articles/{comment_slug}/comments"),
            Some(&token),
            Some(json!({"comment": {"body": "\u{0}"}})),
        )
        .await;

    assert_eq!(title.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        title.errors(),
        ["title contains characters that are not allowed"]
    );
    assert_eq!(bio.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(comment.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.db.count("SELECT count(*) FROM articles").await, 1);
    assert_eq!(app.db.count("SELECT count(*) FROM comments").await, 0);
}

#[tokio::test]
async fn sql_meta_characters_are_just_text() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let title = "Robert'); DROP TABLE articles; --";

    let created = app
        .api(
            "POST",
            "/api/articles",
            Some(&token),
            Some(json!({"article": {"title": title, "description": "100% _real_ \\ text", "body": "b", "tagList": ["a'b", "c\"d"]}})),
        )
        .await;
    let by_tag = app.get("/api/articles?tag=a'b").await;
    let by_author = app
        .get("/api/articles?author=%27%20OR%20%271%27%3D%271")
        .await;
    let profile = app.get("/api/profiles/x'%20OR%20'1'='1").await;
    let username = app
        .api("POST", "/api/users", None, Some(json!({"user": {"username": "a' OR 1=1 --", "email": "a@b.co", "password": "abcdefgh"}})))
        .await;

    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.body["article"]["title"], title);
    assert_eq!(
        created.body["article"]["slug"],
        "robert-drop-table-articles"
    );
    assert_eq!(
        created.body["article"]["description"],
        "100% _real_ \\ text"
    );
    assert_eq!(by_tag.body["articlesCount"], 1);
    assert_eq!(by_author.status, StatusCode::OK);
    assert_eq!(by_author.body["articlesCount"], 0);
    assert_eq!(profile.status, StatusCode::NOT_FOUND);
    assert_eq!(username.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.db.count("SELECT count(*) FROM articles").await, 1);
}

#[tokio::test]
async fn script_tags_are_stored_as_text() {
    let app = spawn_app().await;
    let token = app.register("jake").await;

    let created = app
        .api(
            "POST",
            "/api/articles",
            Some(&token),
            Some(json!({"article": {"title": "<script>alert(1)</script>", "description": "<b>bold</b>", "body": "<script>alert(2)</script>"}})),
        )
        .await;

    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["article"]["slug"], "script-alert-1-script");
    assert_eq!(created.body["article"]["body"], "<script>alert(2)</script>");
}

#[tokio::test]
async fn unicode_is_welcome() {
    let app = spawn_app().await;
    let token = app.register("jake").await;

    let slug = app
        .publish(&token, "Ça va? 🚀 Zoë’s café", &["日本語", "émoji🚀"])
        .await;
    let article = app.get(&format!("/api/articles/{slug}")).await;
    let by_tag = app
        .get("/api/articles?tag=%E6%97%A5%E6%9C%AC%E8%AA%9E")
        .await;

    assert_eq!(slug, "ca-va-rocket-zoe-s-cafe");
    assert_eq!(article.body["article"]["title"], "Ça va? 🚀 Zoë’s café");
    assert_eq!(
        article.body["article"]["tagList"],
        json!(["émoji🚀", "日本語"])
    );
    assert_eq!(by_tag.body["articlesCount"], 1);
}

#[tokio::test]
async fn huge_lists_and_long_values_are_refused() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let tags: Vec<String> = (0..5000).map(|i| format!("t{i}")).collect();

    let many_tags = app
        .api("POST", "/api/articles", Some(&token), Some(json!({"article": {"title": "T", "description": "D", "body": "B", "tagList": tags}})))
        .await;
    let long_tag = app
        .api("POST", "/api/articles", Some(&token), Some(json!({"article": {"title": "T", "description": "D", "body": "B", "tagList": ["x".repeat(41)]}})))
        .await;
    let long_username = app
        .api("POST", "/api/users", None, Some(json!({"user": {"username": "u".repeat(41), "email": "u@example.com", "password": "abcdefgh"}})))
        .await;
    let long_password = app
        .api("POST", "/api/users", None, Some(json!({"user": {"username": "u", "email": "u@example.com", "password": "p".repeat(129)}})))
        .await;

    assert_eq!(many_tags.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(long_tag.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        long_tag.errors(),
        ["tagList tag is too long (maximum is 40 characters)"]
    );
    assert_eq!(long_username.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(long_password.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.db.count("SELECT count(*) FROM articles").await, 0);
}

#[tokio::test]
async fn a_flood_of_distinct_tags_is_refused_at_once() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    // As many distinct tags as fit in the body limits (JSON and form).
    let tags: Vec<String> = (0..30_000).map(|i| format!("{i:x}")).collect();
    let body = json!({"article": {"title": "T", "description": "D", "body": "B", "tagList": tags}});
    let typed = tags[..20_000].join(" ");
    let browser = app.browser();
    browser.sign_in("jake").await;

    let api = app
        .api("POST", "/api/articles", Some(&token), Some(body))
        .await;
    let page = browser
        .submit(
            "/editor",
            &[
                ("title", "T"),
                ("description", "D"),
                ("body", "B"),
                ("tags", &typed),
            ],
        )
        .await;

    assert_eq!(api.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", api.text);
    assert_eq!(api.errors(), ["tagList has too many tags (maximum is 10)"]);
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        page.texts(".field-error"),
        ["Tags has too many tags (maximum is 10)"]
    );
    assert_eq!(app.db.count("SELECT count(*) FROM articles").await, 0);
    assert_eq!(app.db.count("SELECT count(*) FROM tags").await, 0);
}

#[tokio::test]
async fn racing_sign_ups_for_one_name_create_one_account() {
    let app = spawn_app().await;
    let attempts = (0..6).map(|n| {
        app.api(
            "POST",
            "/api/users",
            None,
            Some(json!({"user": {"username": "contested", "email": format!("c{n}@example.com"), "password": "abcdefgh"}})),
        )
    });

    let responses = futures_util::future::join_all(attempts).await;

    let created = responses
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1);
    for response in responses.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_eq!(
            response.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            response.text
        );
        assert_eq!(response.errors(), ["username has already been taken"]);
    }
    assert_eq!(app.db.count("SELECT count(*) FROM users").await, 1);
}

#[tokio::test]
async fn a_saturated_password_hasher_answers_503_with_retry_after() {
    // One hashing slot and no patience: concurrent sign-ups overflow it.
    let app = crate::helpers::spawn_app_with(|settings| {
        settings.auth.hash_concurrency = 1;
        settings.auth.hash_wait_ms = 0;
    })
    .await;
    let attempts = (0..8).map(|n| {
        app.api(
            "POST",
            "/api/users",
            None,
            Some(json!({"user": {"username": format!("user{n}"), "email": format!("u{n}@example.com"), "password": "abcdefgh"}})),
        )
    });

    let responses = futures_util::future::join_all(attempts).await;

    let busy: Vec<_> = responses
        .iter()
        .filter(|r| r.status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    let created = responses
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    assert!(created >= 1);
    assert!(!busy.is_empty(), "some sign-ups found the hasher busy");
    assert_eq!(busy.len() + created, responses.len());
    for response in busy {
        assert_eq!(response.headers["retry-after"], "1");
        assert_eq!(
            response.errors(),
            ["the sign-in service is busy; try again in a moment"]
        );
    }
    assert_eq!(
        app.db.count("SELECT count(*) FROM users").await,
        created as i64
    );
}
