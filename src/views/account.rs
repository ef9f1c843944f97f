//! Sign-in, sign-up, settings and account deletion pages.

use askama::Template;
use serde::Deserialize;

use crate::domain::FieldErrors;
use crate::routes::web::page::Page;

/// The sign-in page.
#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub page: &'a Page,
    pub email: &'a str,
    /// Where to go after signing in.
    pub next: &'a str,
    pub errors: &'a FieldErrors,
    /// A message about the whole form (wrong credentials).
    pub failure: Option<String>,
}

/// The sign-up page.
#[derive(Template)]
#[template(path = "register.html")]
pub struct RegisterPage<'a> {
    pub page: &'a Page,
    pub username: &'a str,
    pub email: &'a str,
    pub errors: &'a FieldErrors,
}

/// The settings form as submitted or prefilled.
#[derive(Debug, Default, Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub bio: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub current_password: String,
}

/// The settings page.
#[derive(Template)]
#[template(path = "settings.html")]
pub struct SettingsPage<'a> {
    pub page: &'a Page,
    pub form: &'a SettingsForm,
    pub errors: &'a FieldErrors,
}

/// The page confirming an account deletion.
#[derive(Template)]
#[template(path = "delete_account.html")]
pub struct DeleteAccountPage<'a> {
    pub page: &'a Page,
    pub username: &'a str,
    pub errors: &'a FieldErrors,
}
