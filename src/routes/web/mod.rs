//! The server-rendered pages for browsers.

pub mod account;
pub mod architecture;
pub mod article;
pub mod editor;
pub mod home;
pub mod page;
pub mod people;
pub mod profile;
pub mod redirect;
pub mod settings;

use actix_web::{HttpResponse, web};

use crate::error::{AppError, PageError};

/// Registers the page routes.
pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::PathConfig::default()
            .error_handler(|_, _| PageError(AppError::NotFound("page")).into()),
    )
    .app_data(web::QueryConfig::default().error_handler(|_, _| {
        PageError(AppError::invalid(
            "address",
            "has parameters that could not be read",
        ))
        .into()
    }))
    .route("/", web::get().to(home::show))
    .route("/people", web::get().to(people::search))
    .route("/architecture", web::get().to(architecture::show))
    .route("/favicon.ico", web::get().to(favicon))
    .route("/register", web::get().to(account::register::form))
    .route("/register", web::post().to(account::register::submit))
    .route("/login", web::get().to(account::login::form))
    .route("/login", web::post().to(account::login::submit))
    .route("/logout", web::post().to(account::logout::submit))
    .route("/settings", web::get().to(settings::edit::form))
    .route("/settings", web::post().to(settings::edit::submit))
    .route(
        "/settings/sign-out-everywhere",
        web::post().to(settings::sign_out_everywhere::submit),
    )
    .route("/settings/delete", web::get().to(settings::delete::confirm))
    .route("/settings/delete", web::post().to(settings::delete::submit))
    .route(
        "/profile/{username}",
        web::get().to(profile::show::articles),
    )
    .route(
        "/profile/{username}/favorites",
        web::get().to(profile::show::favorites),
    )
    .route(
        "/profile/{username}/follow",
        web::post().to(profile::follow::submit),
    )
    .route(
        "/profile/{username}/unfollow",
        web::post().to(profile::unfollow::submit),
    )
    .route("/editor", web::get().to(editor::create::form))
    .route("/editor", web::post().to(editor::create::submit))
    .route("/editor/{slug}", web::get().to(editor::edit::form))
    .route("/editor/{slug}", web::post().to(editor::edit::submit))
    .route("/article/{slug}", web::get().to(article::show::show))
    .route(
        "/article/{slug}/delete",
        web::post().to(article::delete::submit),
    )
    .route(
        "/article/{slug}/favorite",
        web::post().to(article::favorite::submit),
    )
    .route(
        "/article/{slug}/unfavorite",
        web::post().to(article::unfavorite::submit),
    )
    .route(
        "/article/{slug}/comments",
        web::post().to(article::comment::submit),
    )
    .route(
        "/article/{slug}/comments/{id}/delete",
        web::post().to(article::uncomment::submit),
    );
}

/// Form bodies of at most `limit` bytes; larger ones get 413.
pub fn form_config(limit: usize) -> web::FormConfig {
    web::FormConfig::default()
        .limit(limit)
        .error_handler(|error, _| {
            let app_error = match error {
                actix_web::error::UrlencodedError::Overflow { .. } => AppError::PayloadTooLarge,
                _ => AppError::invalid("form", "could not be read"),
            };
            PageError(app_error).into()
        })
}

/// Browsers ask for `/favicon.ico` whatever the page says.
async fn favicon() -> HttpResponse {
    HttpResponse::MovedPermanently()
        .insert_header(("Location", "/static/img/favicon.svg"))
        .finish()
}

/// Any other address.
pub async fn not_found() -> Result<HttpResponse, PageError> {
    Err(PageError(AppError::NotFound("page")))
}
