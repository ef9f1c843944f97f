//! `/api/articles/{slug}/comments`.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn comments_are_added_listed_oldest_first_and_deleted() {
    let app = spawn_app().await;
    let author = app.register("author").await;
    let reader = app.register("reader").await;
    let slug = app.publish(&author, "Talk", &[]).await;
    let path = format!("/api/articles/{slug}/comments");

    let first = app
        .api(
            "POST",
            &path,
            Some(&reader),
            Some(json!({"comment": {"body": "First!"}})),
        )
        .await;
    let second = app
        .api(
            "POST",
            &path,
            Some(&author),
            Some(json!({"comment": {"body": "Thanks"}})),
        )
        .await;
    let list = app.get(&path).await;

    assert_eq!(first.status, StatusCode::OK);
    let comment = &first.body["comment"];
    assert!(comment["id"].is_i64());
    assert_eq!(comment["body"], "First!");
    assert_eq!(comment["author"]["username"], "reader");
    assert!(comment["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(second.status, StatusCode::OK);
    let bodies: Vec<&str> = list.body["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|comment| comment["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["First!", "Thanks"]);

    let id = comment["id"].as_i64().unwrap();
    let delete = app
        .api("DELETE", &format!("{path}/{id}"), Some(&reader), None)
        .await;
    assert_eq!(delete.status, StatusCode::NO_CONTENT);
    let after = app.get(&path).await;
    assert_eq!(after.body["comments"].as_array().unwrap().len(), 1);
    assert_eq!(after.body["comments"][0]["body"], "Thanks");
}

#[tokio::test]
async fn the_comment_list_shows_whom_the_reader_follows() {
    let app = spawn_app().await;
    let author = app.register("author").await;
    let reader = app.register("reader").await;
    let slug = app.publish(&author, "Talk", &[]).await;
    let path = format!("/api/articles/{slug}/comments");
    app.api(
        "POST",
        &path,
        Some(&author),
        Some(json!({"comment": {"body": "Hello"}})),
    )
    .await;
    app.api("POST", "/api/profiles/author/follow", Some(&reader), None)
        .await;

    let as_reader = app.api("GET", &path, Some(&reader), None).await;
    let anonymous = app.get(&path).await;

    assert_eq!(as_reader.body["comments"][0]["author"]["following"], true);
    assert_eq!(anonymous.body["comments"][0]["author"]["following"], false);
}

#[tokio::test]
async fn only_the_commenter_deletes_a_comment() {
    let app = spawn_app().await;
    let author = app.register("author").await;
    let commenter = app.register("commenter").await;
    let slug = app.publish(&author, "Talk", &[]).await;
    let path = format!("/api/articles/{slug}/comments");
    let created = app
        .api(
            "POST",
            &path,
            Some(&commenter),
            Some(json!({"comment": {"body": "Mine"}})),
        )
        .await;
    let id = created.body["comment"]["id"].as_i64().unwrap();

    let by_author = app
        .api("DELETE", &format!("{path}/{id}"), Some(&author), None)
        .await;
    let anonymous = app.api("DELETE", &format!("{path}/{id}"), None, None).await;

    assert_eq!(by_author.status, StatusCode::FORBIDDEN);
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.db.count("SELECT count(*) FROM comments").await, 1);
}

#[tokio::test]
async fn bad_comments_and_bad_addresses_are_refused() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let slug = app.publish(&token, "Talk", &[]).await;
    let path = format!("/api/articles/{slug}/comments");

    let blank = app
        .api(
            "POST",
            &path,
            Some(&token),
            Some(json!({"comment": {"body": "   "}})),
        )
        .await;
    let missing_article = app
        .api(
            "POST",
            "/api/articles/nope/comments",
            Some(&token),
            Some(json!({"comment": {"body": "x"}})),
        )
        .await;
    let anonymous = app
        .api("POST", &path, None, Some(json!({"comment": {"body": "x"}})))
        .await;
    let unknown_id = app
        .api("DELETE", &format!("{path}/999999"), Some(&token), None)
        .await;
    let bad_id = app
        .api("DELETE", &format!("{path}/abc"), Some(&token), None)
        .await;
    let huge_id = app
        .api(
            "DELETE",
            &format!("{path}/99999999999999999999999"),
            Some(&token),
            None,
        )
        .await;
    let list_missing = app.get("/api/articles/nope/comments").await;

    assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(blank.errors(), ["body can't be blank"]);
    assert_eq!(missing_article.status, StatusCode::NOT_FOUND);
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_id.status, StatusCode::NOT_FOUND);
    assert_eq!(bad_id.status, StatusCode::NOT_FOUND);
    assert_eq!(huge_id.status, StatusCode::NOT_FOUND);
    assert_eq!(list_missing.status, StatusCode::NOT_FOUND);
    assert_eq!(app.db.count("SELECT count(*) FROM comments").await, 0);
}
