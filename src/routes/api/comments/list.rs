//! `GET /api/articles/{slug}/comments`: oldest first.

use actix_web::{HttpResponse, web};

use crate::error::ApiError;
use crate::routes::api::extract::ApiViewer;
use crate::routes::api::json::CommentsBody;
use crate::services::comments;
use crate::state::AppState;

#[tracing::instrument(skip(state, viewer))]
pub async fn list(
    state: web::Data<AppState>,
    viewer: ApiViewer,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let comments = comments::list(&state, &slug, viewer.0).await?;
    Ok(HttpResponse::Ok().json(CommentsBody::from(comments.as_slice())))
}
