//! `/api/profiles/{username}` and follows.

use reqwest::StatusCode;

use crate::helpers::spawn_app;

#[tokio::test]
async fn profiles_show_whether_the_viewer_follows() {
    let app = spawn_app().await;
    let jake = app.register("jake").await;
    app.register("celeb").await;

    let anonymous = app.get("/api/profiles/celeb").await;
    let before = app
        .api("GET", "/api/profiles/celeb", Some(&jake), None)
        .await;
    let follow = app
        .api("POST", "/api/profiles/celeb/follow", Some(&jake), None)
        .await;
    let after = app
        .api("GET", "/api/profiles/Celeb", Some(&jake), None)
        .await;
    let unfollow = app
        .api("DELETE", "/api/profiles/celeb/follow", Some(&jake), None)
        .await;
    let finally = app
        .api("GET", "/api/profiles/celeb", Some(&jake), None)
        .await;

    assert_eq!(anonymous.status, StatusCode::OK);
    assert_eq!(
        anonymous.body,
        serde_json::json!({"profile": {"username": "celeb", "bio": null, "image": null, "following": false}})
    );
    assert_eq!(before.body["profile"]["following"], false);
    assert_eq!(follow.status, StatusCode::OK);
    assert_eq!(follow.body["profile"]["following"], true);
    assert_eq!(after.body["profile"]["following"], true);
    assert_eq!(unfollow.status, StatusCode::OK);
    assert_eq!(unfollow.body["profile"]["following"], false);
    assert_eq!(finally.body["profile"]["following"], false);
}

#[tokio::test]
async fn following_twice_is_following_once() {
    let app = spawn_app().await;
    let jake = app.register("jake").await;
    app.register("celeb").await;

    app.api("POST", "/api/profiles/celeb/follow", Some(&jake), None)
        .await;
    let again = app
        .api("POST", "/api/profiles/celeb/follow", Some(&jake), None)
        .await;

    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(app.db.count("SELECT count(*) FROM follows").await, 1);
}

#[tokio::test]
async fn nobody_follows_themselves() {
    let app = spawn_app().await;
    let jake = app.register("jake").await;

    let response = app
        .api("POST", "/api/profiles/jake/follow", Some(&jake), None)
        .await;

    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.errors(), ["user cannot follow themselves"]);
    assert_eq!(app.db.count("SELECT count(*) FROM follows").await, 0);
}

#[tokio::test]
async fn unknown_profiles_are_not_found() {
    let app = spawn_app().await;
    let jake = app.register("jake").await;

    let profile = app.get("/api/profiles/nobody").await;
    let follow = app
        .api("POST", "/api/profiles/nobody/follow", Some(&jake), None)
        .await;
    let odd = app.get("/api/profiles/%3Cscript%3E").await;

    assert_eq!(profile.status, StatusCode::NOT_FOUND);
    assert_eq!(profile.errors(), ["profile not found"]);
    assert_eq!(follow.status, StatusCode::NOT_FOUND);
    assert_eq!(odd.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn following_needs_a_token() {
    let app = spawn_app().await;
    app.register("celeb").await;

    let follow = app
        .api("POST", "/api/profiles/celeb/follow", None, None)
        .await;
    let unfollow = app
        .api("DELETE", "/api/profiles/celeb/follow", None, None)
        .await;

    assert_eq!(follow.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unfollow.status, StatusCode::UNAUTHORIZED);
}
