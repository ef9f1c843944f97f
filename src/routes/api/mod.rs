//! The RealWorld JSON API under `/api`.

pub mod articles;
pub mod comments;
pub mod extract;
pub mod json;
pub mod profiles;
pub mod tags;
pub mod users;

use actix_web::{HttpResponse, Route, web};

use crate::error::{ApiError, AppError};

/// Registers the API routes (mounted under `/api` by the caller).
pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.app_data(extract::query_config())
        .app_data(extract::path_config())
        .service(resource("/users").route(web::post().to(users::register::register)))
        .service(resource("/users/login").route(web::post().to(users::login::login)))
        .service(
            resource("/user")
                .route(web::get().to(users::current::current))
                .route(web::put().to(users::update::update)),
        )
        .service(resource("/profiles/{username}").route(web::get().to(profiles::show::show)))
        .service(
            resource("/profiles/{username}/follow")
                .route(web::post().to(profiles::follow::follow))
                .route(web::delete().to(profiles::unfollow::unfollow)),
        )
        .service(
            resource("/articles")
                .route(web::get().to(articles::list::list))
                .route(web::post().to(articles::create::create)),
        )
        .service(resource("/articles/feed").route(web::get().to(articles::feed::feed)))
        .service(
            resource("/articles/{slug}")
                .route(web::get().to(articles::show::show))
                .route(web::put().to(articles::update::update))
                .route(web::delete().to(articles::delete::delete)),
        )
        .service(
            resource("/articles/{slug}/favorite")
                .route(web::post().to(articles::favorite::favorite))
                .route(web::delete().to(articles::unfavorite::unfavorite)),
        )
        .service(
            resource("/articles/{slug}/comments")
                .route(web::get().to(comments::list::list))
                .route(web::post().to(comments::create::create)),
        )
        .service(
            resource("/articles/{slug}/comments/{id}")
                .route(web::delete().to(comments::delete::delete)),
        )
        .service(resource("/tags").route(web::get().to(tags::list)))
        .default_service(web::to(not_found));
}

/// A resource that answers other methods with 405 in the API's error shape.
fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(Route::new().to(method_not_allowed))
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError(AppError::NotFound("endpoint")))
}

async fn method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed().json(serde_json::json!({
        "errors": { "body": ["method not allowed on this endpoint"] }
    }))
}
