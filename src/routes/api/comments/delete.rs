//! `DELETE /api/articles/{slug}/comments/{id}`

use actix_web::{HttpResponse, web};

use crate::error::{ApiError, AppError};
use crate::routes::api::extract::ApiUser;
use crate::services::comments;
use crate::state::AppState;

#[tracing::instrument(skip(state, user))]
pub async fn delete(
    state: web::Data<AppState>,
    ApiUser(user): ApiUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (slug, id) = path.into_inner();
    let id: i64 = id.parse().map_err(|_| AppError::NotFound("comment"))?;
    comments::delete(&state, user.id, &slug, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
