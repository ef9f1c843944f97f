//! `/api/articles`: lists, feed, CRUD, favorites, tags.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

fn slugs(list: &Value) -> Vec<String> {
    list["articles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|article| article["slug"].as_str().unwrap().to_string())
        .collect()
}

async fn create(app: &TestApp, token: &str, article: Value) -> crate::helpers::ApiResponse {
    app.api(
        "POST",
        "/api/articles",
        Some(token),
        Some(json!({ "article": article })),
    )
    .await
}

#[tokio::test]
async fn publishing_returns_the_whole_article() {
    let app = spawn_app().await;
    let token = app.register("jake").await;

    let response = create(
        &app,
        &token,
        json!({
            "title": "How to train your dragon",
            "description": "Ever wonder how?",
            "body": "You have to believe",
            "tagList": ["reactjs", "angularjs", "dragons"],
        }),
    )
    .await;

    assert_eq!(response.status, StatusCode::CREATED);
    let article = &response.body["article"];
    assert_eq!(article["slug"], "how-to-train-your-dragon");
    assert_eq!(article["title"], "How to train your dragon");
    assert_eq!(article["description"], "Ever wonder how?");
    assert_eq!(article["body"], "You have to believe");
    assert_eq!(
        article["tagList"],
        json!(["angularjs", "dragons", "reactjs"]),
        "tags come back sorted by name"
    );
    assert_eq!(article["favorited"], false);
    assert_eq!(article["favoritesCount"], 0);
    assert_eq!(article["author"]["username"], "jake");
    assert_eq!(article["author"]["following"], false);
    assert_eq!(article["createdAt"], article["updatedAt"]);
}

#[tokio::test]
async fn the_same_title_twice_gets_two_slugs() {
    let app = spawn_app().await;
    let token = app.register("jake").await;

    let first = app.publish(&token, "Same title", &[]).await;
    let second = app.publish(&token, "Same title", &[]).await;

    assert_eq!(first, "same-title");
    assert_ne!(second, first);
    assert!(second.starts_with("same-title-"), "{second}");
    assert_eq!(
        app.get(&format!("/api/articles/{second}")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn invalid_articles_are_refused_and_not_stored() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let many_tags: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();

    let blank = create(
        &app,
        &token,
        json!({"title": "", "description": " ", "body": ""}),
    )
    .await;
    let missing = create(&app, &token, json!({})).await;
    let tags = create(
        &app,
        &token,
        json!({"title": "T", "description": "D", "body": "B", "tagList": many_tags}),
    )
    .await;
    let long = create(
        &app,
        &token,
        json!({"title": "x".repeat(201), "description": "D", "body": "B"}),
    )
    .await;

    assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        blank.errors(),
        [
            "title can't be blank",
            "description can't be blank",
            "body can't be blank"
        ]
    );
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(tags.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(tags.errors(), ["tagList has too many tags (maximum is 10)"]);
    assert_eq!(
        long.errors(),
        ["title is too long (maximum is 200 characters)"]
    );
    assert_eq!(app.db.count("SELECT count(*) FROM articles").await, 0);
}

#[tokio::test]
async fn publishing_needs_a_token() {
    let app = spawn_app().await;

    let response = app
        .api(
            "POST",
            "/api/articles",
            None,
            Some(json!({"article": {"title": "T", "description": "D", "body": "B"}})),
        )
        .await;

    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn one_article_by_slug() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let slug = app.publish(&token, "Dragons", &["dragons"]).await;

    let found = app.get(&format!("/api/articles/{slug}")).await;
    let missing = app.get("/api/articles/no-such-article").await;
    let hostile = app.get("/api/articles/'%20OR%201=1%20--").await;

    assert_eq!(found.status, StatusCode::OK);
    assert_eq!(
        found.body["article"]["body"],
        "# Dragons\n\nBody of *Dragons*."
    );
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.errors(), ["article not found"]);
    assert_eq!(hostile.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn lists_are_newest_first_without_bodies() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let first = app.publish(&token, "First", &[]).await;
    let second = app.publish(&token, "Second", &[]).await;

    let list = app.get("/api/articles").await;

    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(slugs(&list.body), [second, first]);
    assert_eq!(list.body["articlesCount"], 2);
    assert!(
        list.body["articles"][0].get("body").is_none(),
        "lists leave bodies out"
    );
    assert!(list.body["articles"][0]["tagList"].is_array());
}

#[tokio::test]
async fn lists_filter_by_tag_author_and_favorite() {
    let app = spawn_app().await;
    let jake = app.register("jake").await;
    let anna = app.register("anna").await;
    let rust = app.publish(&jake, "Rust", &["rust", "web"]).await;
    let web = app.publish(&anna, "Web", &["web"]).await;
    let other = app.publish(&anna, "Other", &[]).await;
    app.api(
        "POST",
        &format!("/api/articles/{other}/favorite"),
        Some(&jake),
        None,
    )
    .await;

    let by_tag = app.get("/api/articles?tag=web").await;
    let by_author = app.get("/api/articles?author=ANNA").await;
    let by_favorite = app.get("/api/articles?favorited=jake").await;
    let combined = app.get("/api/articles?tag=web&author=jake").await;
    let nobody = app.get("/api/articles?author=nobody").await;

    assert_eq!(slugs(&by_tag.body), [web.clone(), rust.clone()]);
    assert_eq!(by_tag.body["articlesCount"], 2);
    assert_eq!(slugs(&by_author.body), [other.clone(), web]);
    assert_eq!(slugs(&by_favorite.body), [other]);
    assert_eq!(slugs(&combined.body), [rust]);
    assert_eq!(nobody.body["articlesCount"], 0);
}

#[tokio::test]
async fn tags_come_back_sorted_by_name_everywhere() {
    let app = spawn_app().await;
    let jake = app.register("jake").await;
    let anna = app.register("anna").await;
    app.api("POST", "/api/profiles/jake/follow", Some(&anna), None)
        .await;
    let slug = app
        .publish(&jake, "Dragons", &["training", "dragons", "Zebra", "alpha"])
        .await;
    let sorted = json!(["Zebra", "alpha", "dragons", "training"]);

    let one = app.get(&format!("/api/articles/{slug}")).await;
    let list = app.get("/api/articles").await;
    let filtered = app.get("/api/articles?tag=dragons").await;
    let feed = app
        .api("GET", "/api/articles/feed", Some(&anna), None)
        .await;
    let updated = app
        .api(
            "PUT",
            &format!("/api/articles/{slug}"),
            Some(&jake),
            Some(json!({"article": {"tagList": ["training", "dragons"]}})),
        )
        .await;

    assert_eq!(one.body["article"]["tagList"], sorted);
    assert_eq!(list.body["articles"][0]["tagList"], sorted);
    assert_eq!(filtered.body["articles"][0]["tagList"], sorted);
    assert_eq!(feed.body["articles"][0]["tagList"], sorted);
    assert_eq!(
        updated.body["article"]["tagList"],
        json!(["dragons", "training"])
    );
}

#[tokio::test]
async fn filters_no_article_could_match_are_validation_errors() {
    let app = spawn_app().await;
    let jake = app.register("jake").await;
    app.publish(&jake, "Rust", &["rust"]).await;
    let long = "x".repeat(41);

    let nul_tag = app.get("/api/articles?tag=ru%00st").await;
    let nul_author = app.get("/api/articles?author=ja%00ke").await;
    let long_favorited = app.get(&format!("/api/articles?favorited={long}")).await;
    let control = app.get("/api/articles?tag=%1B%5B31m").await;

    assert_eq!(nul_tag.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        nul_tag.errors(),
        ["tag contains characters that are not allowed"]
    );
    assert_eq!(nul_author.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        nul_author.errors(),
        ["author contains characters that are not allowed"]
    );
    assert_eq!(long_favorited.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        long_favorited.errors(),
        ["favorited is too long (maximum is 40 characters)"]
    );
    assert_eq!(control.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn limit_and_offset_page_through_lists() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let mut published = Vec::new();
    for n in 0..5 {
        published.push(app.publish(&token, &format!("Article {n}"), &[]).await);
    }
    published.reverse();

    let page = app.get("/api/articles?limit=2&offset=1").await;
    let past_the_end = app.get("/api/articles?offset=50").await;

    assert_eq!(slugs(&page.body), published[1..3]);
    assert_eq!(page.body["articlesCount"], 5);
    assert_eq!(slugs(&past_the_end.body), Vec::<String>::new());
    assert_eq!(past_the_end.body["articlesCount"], 5);
}

#[tokio::test]
async fn bad_paging_is_a_validation_error() {
    let app = spawn_app().await;

    for query in [
        "limit=0",
        "limit=-5",
        "limit=abc",
        "limit=1000",
        "offset=-1",
        "offset=99999999999999999999999",
    ] {
        let response = app.get(&format!("/api/articles?{query}")).await;
        assert_eq!(
            response.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {}",
            response.text
        );
        assert!(!response.errors().is_empty(), "{query}");
    }
}

#[tokio::test]
async fn the_feed_holds_articles_by_followed_authors() {
    let app = spawn_app().await;
    let reader = app.register("reader").await;
    let followed = app.register("followed").await;
    let stranger = app.register("stranger").await;
    let wanted = app.publish(&followed, "Wanted", &[]).await;
    app.publish(&stranger, "Unwanted", &[]).await;
    app.api("POST", "/api/profiles/followed/follow", Some(&reader), None)
        .await;

    let feed = app
        .api("GET", "/api/articles/feed", Some(&reader), None)
        .await;
    let anonymous = app.get("/api/articles/feed").await;

    assert_eq!(feed.status, StatusCode::OK);
    assert_eq!(slugs(&feed.body), [wanted]);
    assert_eq!(feed.body["articlesCount"], 1);
    assert_eq!(feed.body["articles"][0]["author"]["following"], true);
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn authors_update_their_articles_and_a_new_title_moves_the_slug() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let slug = app.publish(&token, "Old title", &["a", "b"]).await;
    let before = app.get(&format!("/api/articles/{slug}")).await;

    let response = app
        .api(
            "PUT",
            &format!("/api/articles/{slug}"),
            Some(&token),
            Some(json!({"article": {"title": "New title", "body": "New body", "tagList": ["c"]}})),
        )
        .await;

    assert_eq!(response.status, StatusCode::OK);
    let article = &response.body["article"];
    assert_eq!(article["slug"], "new-title");
    assert_eq!(article["title"], "New title");
    assert_eq!(article["body"], "New body");
    assert_eq!(article["description"], "About Old title");
    assert_eq!(article["tagList"], json!(["c"]));
    assert_eq!(article["createdAt"], before.body["article"]["createdAt"]);
    assert_ne!(article["updatedAt"], before.body["article"]["updatedAt"]);
    assert_eq!(
        app.get(&format!("/api/articles/{slug}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/articles/new-title").await.status,
        StatusCode::OK
    );
    assert_eq!(app.get("/api/tags").await.body["tags"], json!(["c"]));
}

#[tokio::test]
async fn keeping_the_title_keeps_the_slug() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let slug = app.publish(&token, "Stable", &[]).await;

    let response = app
        .api(
            "PUT",
            &format!("/api/articles/{slug}"),
            Some(&token),
            Some(json!({"article": {"title": "Stable", "description": "New"}})),
        )
        .await;

    assert_eq!(response.body["article"]["slug"], slug);
    assert_eq!(response.body["article"]["description"], "New");
}

#[tokio::test]
async fn only_the_author_may_change_or_delete_an_article() {
    let app = spawn_app().await;
    let author = app.register("author").await;
    let intruder = app.register("intruder").await;
    let slug = app.publish(&author, "Mine", &[]).await;

    let update = app
        .api(
            "PUT",
            &format!("/api/articles/{slug}"),
            Some(&intruder),
            Some(json!({"article": {"body": "Defaced"}})),
        )
        .await;
    let delete = app
        .api(
            "DELETE",
            &format!("/api/articles/{slug}"),
            Some(&intruder),
            None,
        )
        .await;

    assert_eq!(update.status, StatusCode::FORBIDDEN);
    assert_eq!(
        update.errors(),
        ["you are not allowed to edit someone else's article"]
    );
    assert_eq!(delete.status, StatusCode::FORBIDDEN);
    let article = app.get(&format!("/api/articles/{slug}")).await;
    assert_eq!(article.body["article"]["body"], "# Mine\n\nBody of *Mine*.");
}

#[tokio::test]
async fn updating_checks_fields_and_existence() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let slug = app.publish(&token, "Checked", &[]).await;

    let blank = app
        .api(
            "PUT",
            &format!("/api/articles/{slug}"),
            Some(&token),
            Some(json!({"article": {"title": ""}})),
        )
        .await;
    let missing = app
        .api(
            "PUT",
            "/api/articles/no-such-article",
            Some(&token),
            Some(json!({"article": {"body": "x"}})),
        )
        .await;
    let anonymous = app
        .api(
            "PUT",
            &format!("/api/articles/{slug}"),
            None,
            Some(json!({"article": {"body": "x"}})),
        )
        .await;

    assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(blank.errors(), ["title can't be blank"]);
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn deleting_an_article_takes_its_comments_favorites_and_tag_counts() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let fan = app.register("fan").await;
    let slug = app.publish(&token, "Doomed", &["gone"]).await;
    app.api(
        "POST",
        &format!("/api/articles/{slug}/favorite"),
        Some(&fan),
        None,
    )
    .await;
    app.api(
        "POST",
        &format!("/api/articles/{slug}/comments"),
        Some(&fan),
        Some(json!({"comment": {"body": "Nice"}})),
    )
    .await;

    let response = app
        .api(
            "DELETE",
            &format!("/api/articles/{slug}"),
            Some(&token),
            None,
        )
        .await;

    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert_eq!(response.text, "");
    assert_eq!(
        app.get(&format!("/api/articles/{slug}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.db.count("SELECT count(*) FROM comments").await, 0);
    assert_eq!(app.db.count("SELECT count(*) FROM favorites").await, 0);
    assert_eq!(app.get("/api/tags").await.body["tags"], json!([]));
    let again = app
        .api(
            "DELETE",
            &format!("/api/articles/{slug}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn favorites_count_and_flag_follow_the_reader() {
    let app = spawn_app().await;
    let author = app.register("author").await;
    let fan = app.register("fan").await;
    let slug = app.publish(&author, "Lovely", &[]).await;
    let path = format!("/api/articles/{slug}/favorite");

    let favorite = app.api("POST", &path, Some(&fan), None).await;
    let twice = app.api("POST", &path, Some(&fan), None).await;
    let as_fan = app
        .api("GET", &format!("/api/articles/{slug}"), Some(&fan), None)
        .await;
    let as_author = app
        .api("GET", &format!("/api/articles/{slug}"), Some(&author), None)
        .await;
    let list_as_fan = app.api("GET", "/api/articles", Some(&fan), None).await;
    let unfavorite = app.api("DELETE", &path, Some(&fan), None).await;

    assert_eq!(favorite.status, StatusCode::OK);
    assert_eq!(favorite.body["article"]["favorited"], true);
    assert_eq!(favorite.body["article"]["favoritesCount"], 1);
    assert_eq!(
        twice.body["article"]["favoritesCount"], 1,
        "favoriting twice counts once"
    );
    assert_eq!(as_fan.body["article"]["favorited"], true);
    assert_eq!(as_author.body["article"]["favorited"], false);
    assert_eq!(as_author.body["article"]["favoritesCount"], 1);
    assert_eq!(list_as_fan.body["articles"][0]["favorited"], true);
    assert_eq!(unfavorite.status, StatusCode::OK);
    assert_eq!(unfavorite.body["article"]["favorited"], false);
    assert_eq!(unfavorite.body["article"]["favoritesCount"], 0);
}

#[tokio::test]
async fn favoriting_needs_a_token_and_an_article() {
    let app = spawn_app().await;
    let token = app.register("jake").await;

    let anonymous = app
        .api("POST", "/api/articles/anything/favorite", None, None)
        .await;
    let missing = app
        .api(
            "POST",
            "/api/articles/no-such-article/favorite",
            Some(&token),
            None,
        )
        .await;
    let missing_delete = app
        .api(
            "DELETE",
            "/api/articles/no-such-article/favorite",
            Some(&token),
            None,
        )
        .await;

    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing_delete.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn tags_are_listed_most_used_first() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    app.publish(&token, "One", &["rare", "common"]).await;
    app.publish(&token, "Two", &["common"]).await;

    let tags = app.get("/api/tags").await;

    assert_eq!(tags.status, StatusCode::OK);
    assert_eq!(tags.body, json!({"tags": ["common", "rare"]}));
}

#[tokio::test]
async fn account_deletion_keeps_counters_true() {
    let app = spawn_app().await;
    let author = app.register("author").await;
    let fan = app.register("fan").await;
    let slug = app.publish(&author, "Loved", &[]).await;
    let fans_article = app.publish(&fan, "By the fan", &["fanfare"]).await;
    app.api(
        "POST",
        &format!("/api/articles/{slug}/favorite"),
        Some(&fan),
        None,
    )
    .await;

    app.db
        .client()
        .await
        .batch_execute("DELETE FROM users WHERE username = 'fan'")
        .await
        .unwrap();

    let article = app.get(&format!("/api/articles/{slug}")).await;
    assert_eq!(article.body["article"]["favoritesCount"], 0);
    assert_eq!(
        app.get(&format!("/api/articles/{fans_article}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get("/api/tags").await.body["tags"], json!([]));
}

#[tokio::test]
async fn cross_origin_clients_are_allowed_by_cors() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();

    let preflight = client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/articles", app.address),
        )
        .header("Origin", "https://front.example")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    let simple = client
        .get(format!("{}/api/tags", app.address))
        .header("Origin", "https://front.example")
        .send()
        .await
        .unwrap();

    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        allowed.contains("authorization") && allowed.contains("content-type"),
        "{allowed}"
    );
    assert_eq!(simple.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn unknown_endpoints_and_methods_answer_in_json() {
    let app = spawn_app().await;

    let unknown = app.get("/api/nothing-here").await;
    let wrong_method = app.api("PATCH", "/api/articles", None, None).await;

    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.errors(), ["endpoint not found"]);
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(!wrong_method.errors().is_empty());
}
