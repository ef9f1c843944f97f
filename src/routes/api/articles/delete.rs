//! `DELETE /api/articles/{slug}`

use actix_web::{HttpResponse, web};

use crate::error::ApiError;
use crate::routes::api::extract::ApiUser;
use crate::services::articles;
use crate::state::AppState;

#[tracing::instrument(skip(state, user))]
pub async fn delete(
    state: web::Data<AppState>,
    ApiUser(user): ApiUser,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    articles::delete(&state, user.id, &slug).await?;
    Ok(HttpResponse::NoContent().finish())
}
