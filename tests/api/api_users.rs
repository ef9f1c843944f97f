//! `/api/users`, `/api/users/login`, `/api/user`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, spawn_app, spawn_app_with};

#[tokio::test]
async fn registering_returns_the_user_with_a_working_token() {
    let app = spawn_app().await;

    let response = app
        .api(
            "POST",
            "/api/users",
            None,
            Some(json!({"user": {"username": "Jacob", "email": "jake@jake.jake", "password": "jakejake"}})),
        )
        .await;

    assert_eq!(response.status, StatusCode::CREATED);
    assert!(
        response.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let user = &response.body["user"];
    assert_eq!(user["username"], "Jacob");
    assert_eq!(user["email"], "jake@jake.jake");
    assert_eq!(user["bio"], serde_json::Value::Null);
    assert_eq!(user["image"], serde_json::Value::Null);
    let token = user["token"].as_str().unwrap();
    let me = app.api("GET", "/api/user", Some(token), None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["user"]["username"], "Jacob");
}

#[tokio::test]
async fn registration_reports_every_invalid_field_and_creates_nothing() {
    let app = spawn_app().await;

    let response = app
        .api(
            "POST",
            "/api/users",
            None,
            Some(json!({"user": {"username": "", "email": "not-an-email", "password": "short"}})),
        )
        .await;

    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        response.errors(),
        [
            "username can't be blank",
            "email is invalid",
            "password is too short (minimum is 8 characters)"
        ]
    );
    assert_eq!(app.db.count("SELECT count(*) FROM users").await, 0);
}

#[tokio::test]
async fn missing_fields_are_blank_fields() {
    let app = spawn_app().await;

    let response = app
        .api("POST", "/api/users", None, Some(json!({"user": {}})))
        .await;

    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        response.errors(),
        [
            "username can't be blank",
            "email can't be blank",
            "password can't be blank"
        ]
    );
}

#[tokio::test]
async fn taken_usernames_and_emails_are_refused_whatever_their_case() {
    let app = spawn_app().await;
    app.register("jake").await;

    let response = app
        .api(
            "POST",
            "/api/users",
            None,
            Some(json!({"user": {"username": "JAKE", "email": "Jake@Example.com", "password": PASSWORD}})),
        )
        .await;

    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        response.errors(),
        [
            "username has already been taken",
            "email has already been taken"
        ]
    );
    assert_eq!(app.db.count("SELECT count(*) FROM users").await, 1);
}

#[tokio::test]
async fn signing_in_returns_a_token() {
    let app = spawn_app().await;
    app.register("jake").await;

    let response = app
        .api(
            "POST",
            "/api/users/login",
            None,
            Some(json!({"user": {"email": "JAKE@example.com", "password": PASSWORD}})),
        )
        .await;

    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.body["user"]["username"], "jake");
    let token = response.body["user"]["token"].as_str().unwrap();
    assert_eq!(
        app.api("GET", "/api/user", Some(token), None).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_look_the_same() {
    let app = spawn_app().await;
    app.register("jake").await;

    let wrong_password = app
        .api(
            "POST",
            "/api/users/login",
            None,
            Some(json!({"user": {"email": "jake@example.com", "password": "wrong-password"}})),
        )
        .await;
    let unknown_email = app
        .api(
            "POST",
            "/api/users/login",
            None,
            Some(json!({"user": {"email": "nobody@example.com", "password": PASSWORD}})),
        )
        .await;

    assert_eq!(wrong_password.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_email.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_password.text, unknown_email.text);
    assert_eq!(wrong_password.errors(), ["email or password is invalid"]);
}

#[tokio::test]
async fn signing_in_with_blank_fields_is_a_validation_error() {
    let app = spawn_app().await;

    let response = app
        .api(
            "POST",
            "/api/users/login",
            None,
            Some(json!({"user": {"email": "", "password": ""}})),
        )
        .await;

    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        response.errors(),
        ["email can't be blank", "password can't be blank"]
    );
}

#[tokio::test]
async fn the_current_user_needs_a_valid_token() {
    let app = spawn_app().await;
    let token = app.register("jake").await;

    let missing = app.api("GET", "/api/user", None, None).await;
    let garbage = app.api("GET", "/api/user", Some("not-a-token"), None).await;
    let tampered = app
        .api("GET", "/api/user", Some(&format!("{token}x")), None)
        .await;

    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.errors(), ["token is missing"]);
    assert_eq!(garbage.status, StatusCode::UNAUTHORIZED);
    assert_eq!(garbage.errors(), ["token is invalid"]);
    assert_eq!(tampered.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn reading_or_updating_the_user_never_renews_the_token() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    // Tokens issued in the same second are identical: make sure a renewed
    // one would differ.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    let current = app.api("GET", "/api/user", Some(&token), None).await;
    let updated = app
        .api(
            "PUT",
            "/api/user",
            Some(&token),
            Some(json!({"user": {"bio": "Still me"}})),
        )
        .await;

    assert_eq!(current.status, StatusCode::OK);
    assert_eq!(current.body["user"]["token"], token.as_str());
    assert_eq!(updated.status, StatusCode::OK);
    assert_eq!(updated.body["user"]["token"], token.as_str());
}

#[tokio::test]
async fn the_current_password_can_be_required_for_new_credentials() {
    let app = crate::helpers::spawn_app_with(|settings| {
        settings.auth.api_requires_current_password = true;
    })
    .await;
    let token = app.register("jake").await;
    let put = |body: Value| app.api("PUT", "/api/user", Some(&token), Some(body));

    let no_current = put(json!({"user": {"email": "thief@example.com"}})).await;
    let wrong =
        put(json!({"user": {"password": "taken over now", "currentPassword": "guess"}})).await;
    let bio_only = put(json!({"user": {"bio": "No password needed"}})).await;
    let right =
        put(json!({"user": {"email": "jacob@example.com", "currentPassword": PASSWORD}})).await;

    assert_eq!(no_current.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        no_current.errors(),
        ["currentPassword is needed to change your email or password"]
    );
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        wrong.errors(),
        ["currentPassword is not your current password"]
    );
    assert_eq!(bio_only.status, StatusCode::OK);
    assert_eq!(right.status, StatusCode::OK, "{}", right.text);
    assert_eq!(right.body["user"]["email"], "jacob@example.com");
}

#[tokio::test]
async fn by_default_the_api_changes_credentials_as_realworld_clients_expect() {
    let app = spawn_app().await;
    let token = app.register("jake").await;

    let response = app
        .api(
            "PUT",
            "/api/user",
            Some(&token),
            Some(json!({"user": {"email": "jacob@example.com"}})),
        )
        .await;

    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    assert_eq!(response.body["user"]["email"], "jacob@example.com");
}

#[tokio::test]
async fn bearer_tokens_are_accepted_too() {
    let app = spawn_app().await;
    let token = app.register("jake").await;

    let response = reqwest::Client::new()
        .get(format!("{}/api/user", app.address))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_token_from_a_differently_keyed_server_is_refused() {
    let app = spawn_app().await;
    let other = crate::helpers::spawn_app_with(|settings| {
        settings.auth.jwt_secret =
            secrecy::SecretString::from("another-secret-of-at-least-32-characters".to_string());
    })
    .await;
    let foreign = other.register("jake").await;

    let response = app.api("GET", "/api/user", Some(&foreign), None).await;

    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn updating_the_user_changes_what_is_given_and_nothing_else() {
    let app = spawn_app().await;
    let token = app.register("jake").await;

    let response = app
        .api(
            "PUT",
            "/api/user",
            Some(&token),
            Some(json!({"user": {"bio": "I like to skateboard", "image": "https://example.com/jake.png"}})),
        )
        .await;

    assert_eq!(response.status, StatusCode::OK);
    let user = &response.body["user"];
    assert_eq!(user["bio"], "I like to skateboard");
    assert_eq!(user["image"], "https://example.com/jake.png");
    assert_eq!(user["username"], "jake");
    assert_eq!(user["email"], "jake@example.com");
    let profile = app.get("/api/profiles/jake").await;
    assert_eq!(profile.body["profile"]["bio"], "I like to skateboard");
}

#[tokio::test]
async fn a_new_password_replaces_the_old_one() {
    let app = spawn_app().await;
    let token = app.register("jake").await;

    let response = app
        .api(
            "PUT",
            "/api/user",
            Some(&token),
            Some(json!({"user": {"password": "a brand new secret"}})),
        )
        .await;
    let old = app
        .api(
            "POST",
            "/api/users/login",
            None,
            Some(json!({"user": {"email": "jake@example.com", "password": PASSWORD}})),
        )
        .await;
    let new = app
        .api(
            "POST",
            "/api/users/login",
            None,
            Some(json!({"user": {"email": "jake@example.com", "password": "a brand new secret"}})),
        )
        .await;

    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    assert_eq!(new.status, StatusCode::OK);
}

#[tokio::test]
async fn a_new_password_revokes_older_tokens_but_not_the_one_it_returns() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let browser = app.browser();
    browser.sign_in("jake").await;

    let response = app
        .api(
            "PUT",
            "/api/user",
            Some(&token),
            Some(json!({"user": {"password": "a brand new secret"}})),
        )
        .await;
    let returned = response.body["user"]["token"].as_str().unwrap();
    let with_old = app.api("GET", "/api/user", Some(&token), None).await;
    let reading_with_old = app.api("GET", "/api/articles", Some(&token), None).await;
    let with_returned = app.api("GET", "/api/user", Some(returned), None).await;

    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(with_old.status, StatusCode::UNAUTHORIZED);
    assert_eq!(with_old.errors(), ["token is invalid"]);
    assert_eq!(
        reading_with_old.status,
        StatusCode::UNAUTHORIZED,
        "a revoked token personalizes nothing"
    );
    assert_eq!(with_returned.status, StatusCode::OK);
    assert_eq!(with_returned.body["user"]["username"], "jake");
    assert_eq!(
        browser.signed_in_as().await,
        None,
        "browsers signed in with the old password are signed out"
    );
}

#[tokio::test]
async fn invalid_updates_change_nothing() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    app.register("taken").await;

    let bad_image = app
        .api(
            "PUT",
            "/api/user",
            Some(&token),
            Some(json!({"user": {"bio": "new bio", "image": "javascript:alert(1)"}})),
        )
        .await;
    let taken = app
        .api(
            "PUT",
            "/api/user",
            Some(&token),
            Some(json!({"user": {"username": "Taken"}})),
        )
        .await;
    let empty = app
        .api("PUT", "/api/user", Some(&token), Some(json!({"user": {}})))
        .await;
    let unauthenticated = app
        .api(
            "PUT",
            "/api/user",
            None,
            Some(json!({"user": {"bio": "x"}})),
        )
        .await;

    assert_eq!(bad_image.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        bad_image.errors(),
        ["image must be an http:// or https:// address"]
    );
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(taken.errors(), ["username has already been taken"]);
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
    let me = app.api("GET", "/api/user", Some(&token), None).await;
    assert_eq!(me.body["user"]["bio"], serde_json::Value::Null);
    assert_eq!(me.body["user"]["username"], "jake");
}

#[tokio::test]
async fn a_token_outlives_nothing_when_its_account_is_deleted() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    app.db
        .client()
        .await
        .batch_execute("DELETE FROM users WHERE username = 'jake'")
        .await
        .unwrap();

    let response = app.api("GET", "/api/user", Some(&token), None).await;
    let follow = app
        .api("POST", "/api/profiles/jake/follow", Some(&token), None)
        .await;

    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert_eq!(follow.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn timestamps_have_milliseconds() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let slug = app.publish(&token, "Timely", &[]).await;

    let article = app.get(&format!("/api/articles/{slug}")).await;

    let created = article.body["article"]["createdAt"].as_str().unwrap();
    assert_eq!(created.len(), "2016-02-18T03:22:56.637Z".len(), "{created}");
    assert!(created.ends_with('Z'));
    assert_eq!(&created[19..20], ".");
}

#[tokio::test]
async fn repeated_failed_sign_ins_are_throttled_per_account_before_any_hashing() {
    let app = spawn_app_with(|settings| {
        settings.limits.signin_failures = 3;
    })
    .await;
    app.register("target").await;
    app.register("bystander").await;
    let login = |email: &'static str, password: &'static str| {
        let app = &app;
        async move {
            app.api(
                "POST",
                "/api/users/login",
                None,
                Some(json!({"user": {"email": email, "password": password}})),
            )
            .await
        }
    };

    let mut failures = Vec::new();
    for _ in 0..3 {
        failures.push(login("target@example.com", "wrong guess").await.status);
    }
    let throttled = login("target@example.com", PASSWORD).await;
    let other_case = login("TARGET@example.com", "another guess").await;
    let bystander = login("bystander@example.com", PASSWORD).await;

    assert_eq!(failures, [StatusCode::UNAUTHORIZED; 3]);
    assert_eq!(
        throttled.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        throttled.text
    );
    let retry_after: u64 = throttled.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=600).contains(&retry_after), "{retry_after}");
    assert!(
        throttled.errors()[0].contains("too many failed sign-ins"),
        "{:?}",
        throttled.errors()
    );
    assert_eq!(other_case.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        bystander.status,
        StatusCode::OK,
        "another account is not affected"
    );
}
