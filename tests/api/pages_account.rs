//! Sign-up, sign-in, sign-out, settings and account deletion pages.

use reqwest::StatusCode;

use million::settings::SessionStoreKind;

use crate::helpers::{Browser, PASSWORD, TestApp, session_stores, spawn_app, spawn_app_with};

#[tokio::test]
async fn signing_up_signs_the_new_user_in() {
    let app = spawn_app().await;
    let browser = app.browser();

    let form = browser.get("/register").await;
    browser.sign_up("newcomer").await;
    let home = browser.get("/").await;

    assert_eq!(form.status, StatusCode::OK);
    assert_eq!(form.text_of("h1"), "Sign up");
    assert_eq!(home.text_of(".nav-user"), "newcomer");
    assert_eq!(home.text_of(".flash"), "Welcome to million, newcomer!");
    assert_eq!(
        browser.get("/").await.text_of(".flash"),
        "",
        "the welcome shows once"
    );
}

#[tokio::test]
async fn an_invalid_sign_up_shows_each_problem_and_keeps_the_input() {
    let app = spawn_app().await;
    let browser = app.browser();

    let page = browser
        .submit(
            "/register",
            &[
                ("username", "bad name"),
                ("email", "nope"),
                ("password", "short"),
            ],
        )
        .await;

    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        page.texts(".field-error"),
        [
            "Username may only contain letters, digits, `_` and `-`",
            "Email is invalid",
            "Password is too short (minimum is 8 characters)"
        ]
    );
    assert_eq!(
        page.attr("input[name=username]", "value").unwrap(),
        "bad name"
    );
    assert_eq!(page.attr("input[name=email]", "value").unwrap(), "nope");
    assert_eq!(
        page.attr("input[name=password]", "value").unwrap(),
        "",
        "passwords are never echoed"
    );
    assert_eq!(app.db.count("SELECT count(*) FROM users").await, 0);
}

#[tokio::test]
async fn a_taken_username_is_shown_next_to_its_field() {
    let app = spawn_app().await;
    app.register("taken").await;

    let page = app
        .browser()
        .submit(
            "/register",
            &[
                ("username", "taken"),
                ("email", "other@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;

    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        page.texts(".field-error"),
        ["Username has already been taken"]
    );
}

#[tokio::test]
async fn signing_in_goes_back_where_the_user_was_headed() {
    let app = spawn_app().await;
    app.register("jake").await;
    let browser = app.browser();

    let settings = browser.get("/settings").await;
    let form = browser.get("/login?next=/settings").await;
    let signed_in = browser
        .submit(
            "/login",
            &[
                ("email", "jake@example.com"),
                ("password", PASSWORD),
                ("next", "/settings"),
            ],
        )
        .await;

    assert_eq!(settings.status, StatusCode::SEE_OTHER);
    assert_eq!(settings.location(), Some("/login?next=%2Fsettings"));
    assert_eq!(form.attr("input[name=next]", "value").unwrap(), "/settings");
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    assert_eq!(signed_in.location(), Some("/settings"));
    assert_eq!(browser.signed_in_as().await.as_deref(), Some("jake"));
}

#[tokio::test]
async fn signing_in_never_redirects_off_site() {
    let app = spawn_app().await;
    app.register("jake").await;
    let browser = app.browser();

    let page = browser
        .submit(
            "/login",
            &[
                ("email", "jake@example.com"),
                ("password", PASSWORD),
                ("next", "https://evil.example/"),
            ],
        )
        .await;

    assert_eq!(page.location(), Some("/"));
}

#[tokio::test]
async fn wrong_credentials_keep_the_email_and_say_nothing_more() {
    let app = spawn_app().await;
    app.register("jake").await;
    let browser = app.browser();

    let page = browser
        .submit(
            "/login",
            &[
                ("email", "jake@example.com"),
                ("password", "wrong password"),
            ],
        )
        .await;
    let blank = browser
        .submit("/login", &[("email", ""), ("password", "")])
        .await;

    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        page.text_of(".form-error"),
        "That email and password do not match an account."
    );
    assert_eq!(
        page.attr("input[name=email]", "value").unwrap(),
        "jake@example.com"
    );
    assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        blank.texts(".field-error"),
        ["Email can't be blank", "Password can't be blank"]
    );
    assert_eq!(browser.signed_in_as().await, None);
}

#[tokio::test]
async fn signing_in_gives_a_new_session_id() {
    let app = spawn_app().await;
    app.register("jake").await;
    // A session id fixed by an attacker before the victim signs in.
    let browser = app.browser_with_cookies("million_session=planted-by-an-attacker");

    let signed_in = browser
        .submit(
            "/login",
            &[("email", "jake@example.com"), ("password", PASSWORD)],
        )
        .await;

    let session = signed_in
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|cookie| cookie.starts_with("million_session="))
        .expect("a session cookie")
        .to_string();
    assert!(!session.contains("planted-by-an-attacker"), "{session}");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Lax"), "{session}");
    assert!(!session.contains("Secure"), "plain HTTP here: {session}");
    assert_eq!(browser.signed_in_as().await.as_deref(), Some("jake"));
}

#[tokio::test]
async fn the_session_cookie_is_secure_when_configured() {
    let app =
        crate::helpers::spawn_app_with(|settings| settings.session.cookie_secure = true).await;

    app.register("jake").await;
    let browser = app.browser();

    let login = browser.get("/login").await;
    let signed_in = browser
        .post_raw(
            "/login",
            &[
                ("csrf_token", &login.csrf_token().unwrap()),
                ("email", "jake@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;

    let cookies: Vec<&str> = login
        .headers
        .get_all("set-cookie")
        .iter()
        .chain(signed_in.headers.get_all("set-cookie"))
        .filter_map(|value| value.to_str().ok())
        .collect();
    assert!(
        cookies
            .iter()
            .any(|cookie| cookie.starts_with("million_session=")),
        "{cookies:?}"
    );
    for cookie in cookies {
        assert!(cookie.contains("Secure"), "{cookie}");
    }
}

#[tokio::test]
async fn signing_out_forgets_the_user() {
    let app = spawn_app().await;
    let browser = app.browser();
    browser.sign_up("jake").await;

    let page = browser.submit("/logout", &[]).await;

    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(browser.signed_in_as().await, None);
    assert_eq!(browser.get("/settings").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn settings_are_prefilled_and_saved() {
    let app = spawn_app().await;
    let browser = app.browser();
    browser.sign_up("jake").await;

    let form = browser.get("/settings").await;
    let saved = browser
        .submit(
            "/settings",
            &[
                ("image", "https://example.com/me.png"),
                ("username", "jacob"),
                ("name", "Jacob Smith"),
                ("bio", "I build things."),
                ("email", "jacob@example.com"),
                ("password", ""),
                ("current_password", PASSWORD),
            ],
        )
        .await;
    let profile = browser.get("/profile/jacob").await;

    assert_eq!(form.attr("input[name=username]", "value").unwrap(), "jake");
    assert_eq!(
        form.attr("input[name=email]", "value").unwrap(),
        "jake@example.com"
    );
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert_eq!(saved.location(), Some("/profile/jacob"));
    assert_eq!(profile.text_of(".flash"), "Your settings have been saved.");
    assert_eq!(profile.text_of(".profile-banner h1"), "Jacob Smith");
    assert_eq!(profile.text_of(".profile-banner .bio"), "I build things.");
    assert_eq!(
        profile.attr(".profile-banner img", "src").unwrap(),
        "https://example.com/me.png"
    );
    let signed_in = app
        .api(
            "POST",
            "/api/users/login",
            None,
            Some(serde_json::json!({"user": {"email": "jacob@example.com", "password": PASSWORD}})),
        )
        .await;
    assert_eq!(
        signed_in.status,
        StatusCode::OK,
        "an empty password field keeps the password"
    );
}

#[tokio::test]
async fn invalid_settings_are_shown_and_nothing_is_saved() {
    let app = spawn_app().await;
    let browser = app.browser();
    browser.sign_up("jake").await;

    let page = browser
        .submit(
            "/settings",
            &[
                ("image", "ftp://example.com/me.png"),
                ("username", "jake"),
                ("name", ""),
                ("bio", "New bio"),
                ("email", "jake@example.com"),
                ("password", "short"),
            ],
        )
        .await;

    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        page.texts(".field-error"),
        [
            "Avatar URL must be an http:// or https:// address",
            "New password is too short (minimum is 8 characters)"
        ]
    );
    assert_eq!(
        page.text_of("textarea[name=bio]"),
        "New bio",
        "input is kept"
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM users WHERE bio = ''")
            .await,
        1
    );
}

#[tokio::test]
async fn a_new_email_or_password_needs_the_current_password() {
    let app = spawn_app().await;
    let browser = app.browser();
    browser.sign_up("jake").await;
    let change = |email: &'static str, password: &'static str, current: &'static str| {
        vec![
            ("image", ""),
            ("username", "jake"),
            ("name", ""),
            ("bio", "Changed"),
            ("email", email),
            ("password", password),
            ("current_password", current),
        ]
    };

    let no_current = browser
        .submit("/settings", &change("thief@example.com", "", ""))
        .await;
    let wrong_current = browser
        .submit(
            "/settings",
            &change("jake@example.com", "stolen account now", "a guess at it"),
        )
        .await;
    let other_settings = browser
        .submit("/settings", &change("jake@example.com", "", ""))
        .await;

    assert_eq!(no_current.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        no_current.texts(".field-error"),
        ["Current password is needed to change your email or password"]
    );
    assert_eq!(
        no_current
            .attr("input[name=current_password]", "aria-describedby")
            .as_deref(),
        Some("current_password-error")
    );
    assert_eq!(
        no_current.attr("input[name=email]", "value").as_deref(),
        Some("thief@example.com"),
        "what was typed is kept"
    );
    assert_eq!(wrong_current.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        wrong_current.texts(".field-error"),
        ["Current password is not your current password"]
    );
    assert_eq!(
        wrong_current
            .attr("input[name=password]", "value")
            .as_deref(),
        Some(""),
        "passwords are never sent back"
    );
    assert_eq!(
        other_settings.status,
        StatusCode::SEE_OTHER,
        "{}",
        other_settings.text
    );
    assert_eq!(
        app.db
            .count(
                "SELECT count(*) FROM users WHERE email = 'jake@example.com' AND bio = 'Changed'"
            )
            .await,
        1
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM users WHERE session_generation = 0")
            .await,
        1
    );
    let api = app
        .api(
            "POST",
            "/api/users/login",
            None,
            Some(serde_json::json!({"user": {"email": "jake@example.com", "password": PASSWORD}})),
        )
        .await;
    assert_eq!(api.status, StatusCode::OK, "the old password still works");
}

#[tokio::test]
async fn deleting_the_account_needs_the_password_and_removes_everything() {
    let app = spawn_app().await;
    let browser = app.browser();
    browser.sign_up("leaver").await;
    let token = app.register("stayer").await;
    let own = browser
        .submit(
            "/editor",
            &[
                ("title", "Goodbye"),
                ("description", "D"),
                ("body", "B"),
                ("tags", ""),
            ],
        )
        .await;
    let others = app.publish(&token, "Stays", &[]).await;
    browser
        .submit(
            &format!("/article/{others}/comments"),
            &[("body", "A parting comment")],
        )
        .await;

    let confirm = browser.get("/settings/delete").await;
    let wrong = browser
        .submit("/settings/delete", &[("password", "not it")])
        .await;
    let deleted = browser
        .submit("/settings/delete", &[("password", PASSWORD)])
        .await;
    let home = browser.get("/").await;

    assert_eq!(own.status, StatusCode::SEE_OTHER);
    assert!(confirm.main_text().contains("leaver"));
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        wrong.texts(".field-error"),
        ["Password is not your current password"]
    );
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert_eq!(home.text_of(".flash"), "Your account has been deleted.");
    assert_eq!(home.text_of(".nav-user"), "");
    assert_eq!(
        app.get("/api/profiles/leaver").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/articles/goodbye").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.db.count("SELECT count(*) FROM comments").await, 0);
    assert_eq!(
        app.get(&format!("/api/articles/{others}")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn pages_that_need_an_account_send_visitors_to_sign_in() {
    let app = spawn_app().await;
    let browser = app.browser();

    for path in ["/settings", "/settings/delete", "/editor", "/?feed=your"] {
        let page = browser.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert!(
            page.location().unwrap().starts_with("/login?next="),
            "{path}"
        );
    }
}

async fn api_login(app: &TestApp, password: &str) -> String {
    let response = app
        .api(
            "POST",
            "/api/users/login",
            None,
            Some(serde_json::json!({"user": {"email": "jake@example.com", "password": password}})),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    response.body["user"]["token"].as_str().unwrap().to_string()
}

/// Jake, signed in on a laptop, a phone and an API client.
struct SignedInTwice {
    app: TestApp,
    laptop: Browser,
    phone: Browser,
    token: String,
}

async fn signed_in_twice(store: SessionStoreKind) -> SignedInTwice {
    let app = spawn_app_with(|settings| settings.session.store = store).await;
    let laptop = app.browser();
    let phone = app.browser();
    laptop.sign_up("jake").await;
    phone.sign_in("jake").await;
    let token = api_login(&app, PASSWORD).await;
    assert_eq!(phone.signed_in_as().await.as_deref(), Some("jake"));
    SignedInTwice {
        app,
        laptop,
        phone,
        token,
    }
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_session_and_token() {
    for store in session_stores() {
        let SignedInTwice {
            app,
            laptop,
            phone,
            token,
        } = signed_in_twice(store).await;

        let settings = laptop.get("/settings").await;
        let done = laptop.submit("/settings/sign-out-everywhere", &[]).await;
        let login = laptop.get("/login").await;
        let phone_home = phone.get("/").await;

        assert_eq!(
            settings.text_of(".sessions button"),
            "Sign out everywhere",
            "{store:?}"
        );
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{store:?}");
        assert_eq!(done.location(), Some("/login"));
        assert_eq!(
            login.text_of(".flash"),
            "You have been signed out on every browser and device."
        );
        assert_eq!(laptop.signed_in_as().await, None, "{store:?}");
        assert_eq!(phone_home.text_of(".nav-user"), "", "{store:?}");
        assert!(
            phone_home
                .text_of(".flash")
                .contains("You have been signed out"),
            "{store:?}: {}",
            phone_home.text_of(".flash")
        );
        assert_eq!(phone.signed_in_as().await, None, "{store:?}");
        let revoked = app.api("GET", "/api/user", Some(&token), None).await;
        assert_eq!(revoked.status, StatusCode::UNAUTHORIZED, "{store:?}");

        phone.sign_in("jake").await;
        assert_eq!(phone.signed_in_as().await.as_deref(), Some("jake"));
        let fresh = api_login(&app, PASSWORD).await;
        let current = app.api("GET", "/api/user", Some(&fresh), None).await;
        assert_eq!(current.status, StatusCode::OK, "{store:?}");
    }
}

#[tokio::test]
async fn signing_out_everywhere_needs_the_form_token() {
    let app = spawn_app().await;
    let browser = app.browser();
    browser.sign_up("jake").await;

    let forged = browser
        .post_raw("/settings/sign-out-everywhere", &[("csrf_token", "forged")])
        .await;

    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(browser.signed_in_as().await.as_deref(), Some("jake"));
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM users WHERE session_generation = 0")
            .await,
        1
    );
}

#[tokio::test]
async fn a_new_password_signs_out_every_other_browser_and_token() {
    for store in session_stores() {
        let SignedInTwice {
            app,
            laptop,
            phone,
            token: old_token,
        } = signed_in_twice(store).await;

        let saved = laptop
            .submit(
                "/settings",
                &[
                    ("image", ""),
                    ("username", "jake"),
                    ("name", ""),
                    ("bio", ""),
                    ("email", "jake@example.com"),
                    ("password", "a brand new passphrase"),
                    ("current_password", PASSWORD),
                ],
            )
            .await;

        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{store:?}");
        assert_eq!(
            laptop.signed_in_as().await.as_deref(),
            Some("jake"),
            "{store:?}: the browser that changed it stays signed in"
        );
        assert_eq!(phone.signed_in_as().await, None, "{store:?}");
        let revoked = app.api("GET", "/api/user", Some(&old_token), None).await;
        assert_eq!(revoked.status, StatusCode::UNAUTHORIZED, "{store:?}");
        api_login(&app, "a brand new passphrase").await;
    }
}

#[tokio::test]
async fn other_settings_keep_every_session() {
    let SignedInTwice {
        app,
        laptop,
        phone,
        token,
    } = signed_in_twice(SessionStoreKind::Memory).await;

    laptop
        .submit(
            "/settings",
            &[
                ("image", ""),
                ("username", "jake"),
                ("name", "Jake"),
                ("bio", "Still me."),
                ("email", "jake@example.com"),
                ("password", ""),
            ],
        )
        .await;

    assert_eq!(phone.signed_in_as().await.as_deref(), Some("jake"));
    let current = app.api("GET", "/api/user", Some(&token), None).await;
    assert_eq!(current.status, StatusCode::OK);
}
