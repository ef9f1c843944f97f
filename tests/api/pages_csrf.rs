//! Every state-changing form refuses a submission without the session's
//! anti-forgery token, and changes nothing.

use reqwest::StatusCode;

use crate::helpers::{PASSWORD, spawn_app};

#[tokio::test]
async fn every_form_refuses_a_forged_submission() {
    let app = spawn_app().await;
    let token = app.register("author").await;
    let slug = app.publish(&token, "Target", &[]).await;
    let comment = app
        .api(
            "POST",
            &format!("/api/articles/{slug}/comments"),
            Some(&token),
            Some(serde_json::json!({"comment": {"body": "Mine"}})),
        )
        .await;
    let comment_id = comment.body["comment"]["id"].as_i64().unwrap();
    let browser = app.browser();
    browser.sign_in("author").await;
    let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/register".into(),
            vec![
                ("username", "x"),
                ("email", "x@example.com"),
                ("password", PASSWORD),
            ],
        ),
        (
            "/login".into(),
            vec![("email", "author@example.com"), ("password", PASSWORD)],
        ),
        ("/logout".into(), vec![]),
        (
            "/settings".into(),
            vec![
                ("username", "hijacked"),
                ("email", "h@example.com"),
                ("image", ""),
                ("name", ""),
                ("bio", ""),
            ],
        ),
        ("/settings/delete".into(), vec![("password", PASSWORD)]),
        (
            "/editor".into(),
            vec![
                ("title", "Forged"),
                ("description", "d"),
                ("body", "b"),
                ("tags", ""),
            ],
        ),
        (
            format!("/editor/{slug}"),
            vec![
                ("title", "Forged"),
                ("description", "d"),
                ("body", "b"),
                ("tags", ""),
            ],
        ),
        (format!("/article/{slug}/favorite"), vec![]),
        (
            format!("/article/{slug}/comments"),
            vec![("body", "Forged")],
        ),
        (
            format!("/article/{slug}/comments/{comment_id}/delete"),
            vec![],
        ),
        (format!("/article/{slug}/delete"), vec![]),
        ("/profile/author/follow".into(), vec![]),
    ];

    for (path, fields) in &forms {
        let missing = browser.post_raw(path, fields).await;
        let mut with_wrong = fields.clone();
        with_wrong.push(("csrf_token", "forged-token"));
        let wrong = browser.post_raw(path, &with_wrong).await;
        assert_eq!(
            missing.status,
            StatusCode::FORBIDDEN,
            "{path} without a token"
        );
        assert_eq!(
            wrong.status,
            StatusCode::FORBIDDEN,
            "{path} with a wrong token"
        );
        assert!(
            wrong.main_text().contains("this form has expired"),
            "{path}"
        );
    }

    assert_eq!(browser.signed_in_as().await.as_deref(), Some("author"));
    assert_eq!(app.db.count("SELECT count(*) FROM users").await, 1);
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM articles WHERE title = 'Target'")
            .await,
        1
    );
    assert_eq!(app.db.count("SELECT count(*) FROM comments").await, 1);
    assert_eq!(app.db.count("SELECT count(*) FROM favorites").await, 0);
}

#[tokio::test]
async fn a_token_from_another_session_is_refused() {
    let app = spawn_app().await;
    let victim = app.browser();
    victim.sign_up("victim").await;
    let attacker = app.browser();
    let attackers_token = attacker.csrf_token().await;

    let forged = victim
        .post_raw(
            "/editor",
            &[
                ("csrf_token", &attackers_token),
                ("title", "Forged"),
                ("description", "d"),
                ("body", "b"),
            ],
        )
        .await;

    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(app.db.count("SELECT count(*) FROM articles").await, 0);
}

#[tokio::test]
async fn unreadable_and_oversized_forms_are_refused_cleanly() {
    let app = spawn_app().await;
    let browser = app.browser();
    browser.sign_up("writer").await;
    let token = browser.csrf_token().await;

    let mut huge = format!("csrf_token={token}&title=t&description=d&tags=&body=");
    huge.push_str(&"x".repeat(200 * 1024));
    let oversized = browser
        .post_body(
            "/editor",
            "application/x-www-form-urlencoded",
            huge.into_bytes(),
        )
        .await;
    let bad_utf8 = browser
        .post_body(
            "/editor",
            "application/x-www-form-urlencoded",
            [
                format!("csrf_token={token}&title=").as_bytes(),
                b"\xff\xfe",
                b"&description=d&body=b&tags=",
            ]
            .concat(),
        )
        .await;
    let wrong_type = browser
        .post_body("/editor", "application/json", b"{}".to_vec())
        .await;

    assert_eq!(oversized.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(oversized.text_of("h1"), "Too much data");
    // Undecodable bytes become U+FFFD, as browsers do with bad encodings.
    assert_eq!(bad_utf8.status, StatusCode::SEE_OTHER);
    assert_eq!(wrong_type.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        wrong_type.text_of(".error-messages li"),
        "form could not be read"
    );
    let titles = app
        .db
        .client()
        .await
        .query("SELECT title FROM articles", &[])
        .await
        .unwrap();
    let titles: Vec<String> = titles.iter().map(|row| row.get(0)).collect();
    assert_eq!(titles, ["\u{FFFD}\u{FFFD}"]);
}
