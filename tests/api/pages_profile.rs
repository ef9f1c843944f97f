//! Profile pages: details, counts, follow buttons, tabs.

use reqwest::StatusCode;

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_profile_shows_the_person_and_their_articles() {
    let app = spawn_app().await;
    let token = app.register("author").await;
    app.api(
        "PUT",
        "/api/user",
        Some(&token),
        Some(serde_json::json!({"user": {"bio": "Writes a lot.", "image": "https://example.com/a.png"}})),
    )
    .await;
    app.publish(&token, "First", &[]).await;
    app.publish(&token, "Second", &[]).await;
    let fan = app.register("fan").await;
    app.api("POST", "/api/profiles/author/follow", Some(&fan), None)
        .await;

    let page = app.browser().get("/profile/author").await;

    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.text_of(".profile-banner h1"), "author");
    assert_eq!(page.text_of(".profile-banner .bio"), "Writes a lot.");
    assert_eq!(
        page.attr(".profile-banner img", "src").unwrap(),
        "https://example.com/a.png"
    );
    assert_eq!(page.text_of(".followers-count"), "1");
    assert_eq!(page.text_of(".following-count"), "0");
    assert_eq!(page.texts(".preview h2"), ["Second", "First"]);
    assert_eq!(page.text_of(".tabs a.active"), "Articles");
}

#[tokio::test]
async fn the_favorites_tab_lists_what_they_favorited() {
    let app = spawn_app().await;
    let author = app.register("author").await;
    let fan = app.register("fan").await;
    let liked = app.publish(&author, "Liked", &[]).await;
    app.publish(&author, "Ignored", &[]).await;
    app.api(
        "POST",
        &format!("/api/articles/{liked}/favorite"),
        Some(&fan),
        None,
    )
    .await;

    let page = app.browser().get("/profile/fan/favorites").await;

    assert_eq!(page.text_of(".tabs a.active"), "Favorited articles");
    assert_eq!(page.texts(".preview h2"), ["Liked"]);
}

#[tokio::test]
async fn following_from_a_profile_updates_the_counts() {
    let app = spawn_app().await;
    app.register("celeb").await;
    let browser = app.browser();
    browser.sign_up("fan").await;

    let before = browser.get("/profile/celeb").await;
    let followed = browser.submit("/profile/celeb/follow", &[]).await;
    let after = browser.get("/profile/celeb").await;
    browser.submit("/profile/celeb/unfollow", &[]).await;
    let finally = browser.get("/profile/celeb").await;
    let own = browser.get("/profile/fan").await;

    assert_eq!(before.text_of(".follow-button"), "Follow celeb");
    assert_eq!(followed.location(), Some("/profile/celeb"));
    assert_eq!(after.text_of(".follow-button"), "Unfollow celeb");
    assert_eq!(after.text_of(".followers-count"), "1");
    assert_eq!(finally.text_of(".followers-count"), "0");
    assert_eq!(own.text_of(".profile-actions a"), "Edit profile settings");
    assert_eq!(own.text_of(".following-count"), "0");
}

#[tokio::test]
async fn signed_out_visitors_are_asked_to_sign_in_to_follow() {
    let app = spawn_app().await;
    app.register("celeb").await;

    let page = app.browser().get("/profile/celeb").await;
    let attempt = app.browser().post_raw("/profile/celeb/follow", &[]).await;

    assert_eq!(
        page.attr(".profile-actions a", "href").unwrap(),
        "/login?next=/profile/celeb"
    );
    assert_eq!(
        attempt.status,
        StatusCode::FORBIDDEN,
        "no session, no token"
    );
    assert_eq!(app.db.count("SELECT count(*) FROM follows").await, 0);
}

#[tokio::test]
async fn unknown_profiles_are_404_pages() {
    let app = spawn_app().await;

    let page = app.browser().get("/profile/nobody").await;
    let odd = app.browser().get("/profile/%3Cscript%3E/favorites").await;

    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert_eq!(page.text_of(".error-messages li"), "profile not found");
    assert_eq!(odd.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn profile_and_article_pages_answer_conditional_requests() {
    let app = spawn_app().await;
    let token = app.register("author").await;
    let slug = app.publish(&token, "Validated", &[]).await;
    let browser = app.browser();

    for (path, change) in [
        ("/profile/author".to_string(), "bio"),
        (format!("/article/{slug}"), "comment"),
    ] {
        let first = browser.get(&path).await;
        let etag = first.headers["etag"].to_str().unwrap().to_string();
        let unchanged = browser.get_with(&path, &[("If-None-Match", &etag)]).await;
        match change {
            "bio" => {
                app.api(
                    "PUT",
                    "/api/user",
                    Some(&token),
                    Some(serde_json::json!({"user": {"bio": "New"}})),
                )
                .await;
            }
            _ => {
                app.api(
                    "POST",
                    &format!("/api/articles/{slug}/comments"),
                    Some(&token),
                    Some(serde_json::json!({"comment": {"body": "New"}})),
                )
                .await;
            }
        }
        let changed = browser.get_with(&path, &[("If-None-Match", &etag)]).await;

        assert!(etag.starts_with("W/\""), "{path}: {etag}");
        assert_eq!(unchanged.status, StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(unchanged.text, "", "{path}: no body for 304");
        assert_eq!(changed.status, StatusCode::OK, "{path}");
        assert_ne!(changed.headers["etag"].to_str().unwrap(), etag, "{path}");
    }
}
