//! `POST /api/articles/{slug}/favorite`

use actix_web::{HttpResponse, web};

use crate::error::ApiError;
use crate::routes::api::extract::ApiUser;
use crate::routes::api::json::ArticleBody;
use crate::services::articles;
use crate::state::AppState;

#[tracing::instrument(skip(state, user))]
pub async fn favorite(
    state: web::Data<AppState>,
    ApiUser(user): ApiUser,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let article = articles::favorite(&state, user.id, &slug).await?;
    Ok(HttpResponse::Ok().json(ArticleBody::from(&article)))
}
