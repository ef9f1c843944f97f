//! `GET /api/tags`: tags in use, most used first.

use actix_web::{HttpResponse, web};

use crate::error::ApiError;
use crate::routes::api::json::TagsBody;
use crate::services::articles;
use crate::state::AppState;

#[tracing::instrument(skip_all)]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let tags = articles::all_tags(&state).await?;
    Ok(HttpResponse::Ok().json(TagsBody { tags: &tags }))
}
