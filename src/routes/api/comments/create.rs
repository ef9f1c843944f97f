//! `POST /api/articles/{slug}/comments`

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::error::ApiError;
use crate::routes::api::extract::ApiUser;
use crate::routes::api::json::CommentBody;
use crate::services::comments;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct CommentRequest {
    comment: NewComment,
}

#[derive(Deserialize)]
pub struct NewComment {
    #[serde(default)]
    body: String,
}

#[tracing::instrument(skip(state, user, body))]
pub async fn create(
    state: web::Data<AppState>,
    ApiUser(user): ApiUser,
    slug: web::Path<String>,
    body: web::Json<CommentRequest>,
) -> Result<HttpResponse, ApiError> {
    let comment = comments::add(&state, &user, &slug, &body.comment.body).await?;
    Ok(HttpResponse::Ok().json(CommentBody::from(&comment)))
}
