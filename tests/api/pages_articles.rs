//! The editor and the article page: publishing, editing, Markdown, comments,
//! favorites, deletion.

use reqwest::StatusCode;

use crate::helpers::spawn_app;

#[tokio::test]
async fn publishing_from_the_editor_shows_the_rendered_article() {
    let app = spawn_app().await;
    let browser = app.browser();
    browser.sign_up("writer").await;

    let editor = browser.get("/editor").await;
    let published = browser
        .submit(
            "/editor",
            &[
                ("title", "Markdown works"),
                ("description", "A test of rendering"),
                (
                    "body",
                    "# Heading\n\nSome **bold** text and a [link](https://example.com).",
                ),
                ("tags", "rust, web testing"),
            ],
        )
        .await;
    let page = browser.get("/article/markdown-works").await;

    assert_eq!(editor.status, StatusCode::OK);
    assert_eq!(published.status, StatusCode::SEE_OTHER);
    assert_eq!(published.location(), Some("/article/markdown-works"));
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.text_of(".article-banner h1"), "Markdown works");
    assert_eq!(page.text_of(".article-body h1"), "Heading");
    assert_eq!(page.text_of(".article-body strong"), "bold");
    assert_eq!(
        page.attr(".article-body a", "rel").unwrap(),
        "noopener nofollow ugc"
    );
    assert_eq!(
        page.texts(".article-page .tag-list .tag"),
        ["rust", "testing", "web"]
    );
    assert_eq!(page.text_of(".article-banner .author"), "writer");
}

#[tokio::test]
async fn hostile_markdown_and_titles_are_shown_harmless() {
    let app = spawn_app().await;
    let token = app.register("attacker").await;
    let response = app
        .api(
            "POST",
            "/api/articles",
            Some(&token),
            Some(serde_json::json!({"article": {
                "title": "<script>alert('title')</script>",
                "description": "<img src=x onerror=alert(1)>",
                "body": "<script>alert('body')</script>\n\n<a href=\"javascript:alert(1)\">click</a>\n\n<img src=x onerror=alert(2)>",
                "tagList": ["<b>tag</b>"],
            }})),
        )
        .await;
    let slug = response.body["article"]["slug"]
        .as_str()
        .unwrap()
        .to_string();

    let page = app.browser().get(&format!("/article/{slug}")).await;
    let home = app.browser().get("/").await;

    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !page.text.contains("<script>alert"),
        "no script element reaches the page"
    );
    assert!(
        !page.text.contains("onerror"),
        "no event handler reaches the page"
    );
    assert!(
        !page.text.contains("javascript:"),
        "no script URL reaches the page"
    );
    assert_eq!(
        page.text_of(".article-banner h1"),
        "<script>alert('title')</script>",
        "shown as text"
    );
    assert!(
        home.text
            .contains("<h2>&#60;script&#62;alert(&#39;title&#39;)&#60;/script&#62;</h2>"),
        "the title is escaped in lists"
    );
    assert_eq!(
        home.text_of(".preview-link p"),
        "<img src=x onerror=alert(1)>"
    );
}

#[tokio::test]
async fn an_invalid_article_is_shown_again_with_its_problems() {
    let app = spawn_app().await;
    let browser = app.browser();
    browser.sign_up("writer").await;

    let page = browser
        .submit(
            "/editor",
            &[
                ("title", ""),
                ("description", "Kept description"),
                ("body", ""),
                ("tags", "a b"),
            ],
        )
        .await;

    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        page.texts(".field-error"),
        ["Title can't be blank", "Article (Markdown) can't be blank"]
    );
    assert_eq!(
        page.attr("input[name=description]", "value").unwrap(),
        "Kept description"
    );
    assert_eq!(page.attr("input[name=tags]", "value").unwrap(), "a b");
    assert_eq!(app.db.count("SELECT count(*) FROM articles").await, 0);
}

#[tokio::test]
async fn authors_edit_their_articles_in_the_editor() {
    let app = spawn_app().await;
    let browser = app.browser();
    browser.sign_up("writer").await;
    browser
        .submit(
            "/editor",
            &[
                ("title", "First draft"),
                ("description", "D"),
                ("body", "Old"),
                ("tags", "one two"),
            ],
        )
        .await;

    let form = browser.get("/editor/first-draft").await;
    let saved = browser
        .submit(
            "/editor/first-draft",
            &[
                ("title", "Final version"),
                ("description", "D2"),
                ("body", "New *body*"),
                ("tags", "two three"),
            ],
        )
        .await;
    let page = browser.get("/article/final-version").await;

    assert_eq!(
        form.attr("input[name=title]", "value").unwrap(),
        "First draft"
    );
    assert_eq!(form.text_of("textarea[name=body]"), "Old");
    assert_eq!(form.attr("input[name=tags]", "value").unwrap(), "one two");
    assert_eq!(saved.location(), Some("/article/final-version"));
    assert_eq!(page.text_of(".article-body em"), "body");
    assert_eq!(page.texts(".article-page .tag-list .tag"), ["three", "two"]);
    assert_eq!(
        browser.get("/article/first-draft").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn nobody_edits_or_deletes_someone_elses_article() {
    let app = spawn_app().await;
    let token = app.register("author").await;
    let slug = app.publish(&token, "Protected", &[]).await;
    let browser = app.browser();
    browser.sign_up("intruder").await;

    let form = browser.get(&format!("/editor/{slug}")).await;
    let edit = browser
        .submit(
            &format!("/editor/{slug}"),
            &[
                ("title", "Defaced"),
                ("description", "x"),
                ("body", "x"),
                ("tags", ""),
            ],
        )
        .await;
    let delete = browser
        .submit(&format!("/article/{slug}/delete"), &[])
        .await;
    let page = browser.get(&format!("/article/{slug}")).await;

    assert_eq!(form.status, StatusCode::FORBIDDEN);
    assert_eq!(form.text_of("h1"), "Not allowed");
    assert_eq!(edit.status, StatusCode::FORBIDDEN);
    assert_eq!(delete.status, StatusCode::FORBIDDEN);
    assert_eq!(page.text_of(".article-banner h1"), "Protected");
    assert!(
        page.texts(".article-meta .button")
            .iter()
            .all(|label| !label.contains("Edit article"))
    );
}

#[tokio::test]
async fn readers_comment_and_delete_their_own_comments() {
    let app = spawn_app().await;
    let token = app.register("author").await;
    let slug = app.publish(&token, "Discuss", &[]).await;
    let browser = app.browser();
    browser.sign_up("reader").await;

    let posted = browser
        .submit(
            &format!("/article/{slug}/comments"),
            &[("body", "Great read!\nThanks.")],
        )
        .await;
    let page = browser.get(&format!("/article/{slug}")).await;
    let comment_id = page
        .attr(".comment", "id")
        .unwrap()
        .trim_start_matches("comment-")
        .to_string();
    let deleted = browser
        .submit(
            &format!("/article/{slug}/comments/{comment_id}/delete"),
            &[],
        )
        .await;
    let after = browser.get(&format!("/article/{slug}")).await;

    assert_eq!(posted.status, StatusCode::SEE_OTHER);
    assert!(
        posted
            .location()
            .unwrap()
            .starts_with(&format!("/article/{slug}#comment-"))
    );
    assert_eq!(page.texts(".comment-body"), ["Great read! Thanks."]);
    assert_eq!(page.text_of(".comment .author"), "reader");
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert!(after.texts(".comment-body").is_empty());
}

#[tokio::test]
async fn a_blank_comment_is_shown_with_its_problem() {
    let app = spawn_app().await;
    let token = app.register("author").await;
    let slug = app.publish(&token, "Discuss", &[]).await;
    let browser = app.browser();
    browser.sign_up("reader").await;

    let page = browser
        .submit(&format!("/article/{slug}/comments"), &[("body", "   ")])
        .await;

    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(page.texts(".field-error"), ["Your comment can't be blank"]);
    assert_eq!(page.text_of(".article-banner h1"), "Discuss");
}

#[tokio::test]
async fn others_comments_have_no_delete_button_and_cannot_be_deleted() {
    let app = spawn_app().await;
    let author = app.register("author").await;
    let slug = app.publish(&author, "Discuss", &[]).await;
    let comment = app
        .api(
            "POST",
            &format!("/api/articles/{slug}/comments"),
            Some(&author),
            Some(serde_json::json!({"comment": {"body": "Author's note"}})),
        )
        .await;
    let id = comment.body["comment"]["id"].as_i64().unwrap();
    let browser = app.browser();
    browser.sign_up("reader").await;

    let page = browser.get(&format!("/article/{slug}")).await;
    let attempt = browser
        .submit(&format!("/article/{slug}/comments/{id}/delete"), &[])
        .await;

    assert!(page.texts(".comment footer button").is_empty());
    assert_eq!(attempt.status, StatusCode::FORBIDDEN);
    assert_eq!(app.db.count("SELECT count(*) FROM comments").await, 1);
}

#[tokio::test]
async fn favoriting_from_the_article_page_counts() {
    let app = spawn_app().await;
    let token = app.register("author").await;
    let slug = app.publish(&token, "Likeable", &[]).await;
    let browser = app.browser();
    browser.sign_up("fan").await;
    let path = format!("/article/{slug}");

    let favorited = browser
        .submit(&format!("{path}/favorite"), &[("next", &path)])
        .await;
    let page = browser.get(&path).await;
    let unfavorited = browser
        .submit(&format!("{path}/unfavorite"), &[("next", &path)])
        .await;
    let after = browser.get(&path).await;

    assert_eq!(favorited.status, StatusCode::SEE_OTHER);
    assert_eq!(favorited.location(), Some(path.as_str()));
    assert_eq!(page.text_of(".favorite-button"), "♥ Unfavorite (1)");
    assert_eq!(unfavorited.status, StatusCode::SEE_OTHER);
    assert_eq!(after.text_of(".favorite-button"), "♥ Favorite (0)");
}

#[tokio::test]
async fn authors_delete_their_articles() {
    let app = spawn_app().await;
    let browser = app.browser();
    browser.sign_up("writer").await;
    browser
        .submit(
            "/editor",
            &[
                ("title", "Short lived"),
                ("description", "D"),
                ("body", "B"),
                ("tags", ""),
            ],
        )
        .await;

    let page = browser.get("/article/short-lived").await;
    let deleted = browser.submit("/article/short-lived/delete", &[]).await;
    let profile = browser.get("/profile/writer").await;

    assert!(
        page.texts(".article-meta .button")
            .iter()
            .any(|label| label == "Edit article")
    );
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert_eq!(deleted.location(), Some("/profile/writer"));
    assert_eq!(profile.text_of(".flash"), "The article has been deleted.");
    assert_eq!(
        browser.get("/article/short-lived").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn unknown_and_impossible_articles_are_404_pages() {
    let app = spawn_app().await;
    let browser = app.browser();

    let missing = browser.get("/article/not-there").await;
    let impossible = browser.get("/article/%00%FF").await;
    let editor = app.browser();
    editor.sign_up("writer").await;
    let missing_editor = editor.get("/editor/not-there").await;

    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.text_of(".error-messages li"), "article not found");
    assert_eq!(impossible.status, StatusCode::NOT_FOUND);
    assert_eq!(missing_editor.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn signed_out_visitors_are_invited_to_sign_in_to_comment() {
    let app = spawn_app().await;
    let token = app.register("author").await;
    let slug = app.publish(&token, "Open", &[]).await;

    let page = app.browser().get(&format!("/article/{slug}")).await;

    assert!(page.texts(".comment-form").is_empty());
    assert!(
        page.text_of(".comments p")
            .contains("Sign in or sign up to add comments")
    );
}
