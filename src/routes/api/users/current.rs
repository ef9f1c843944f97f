//! `GET /api/user`: the signed-in user, with the token they presented.
//!
//! The token is handed back as it came, never renewed: a stolen token must
//! not be able to extend its own life. A new token comes only from signing in
//! (or from a change of credentials).

use actix_web::{HttpRequest, HttpResponse};

use crate::error::{ApiError, AppError};
use crate::routes::api::extract::{ApiUser, presented_token};
use crate::routes::api::json::UserBody;

#[tracing::instrument(skip_all)]
pub async fn current(
    request: HttpRequest,
    ApiUser(user): ApiUser,
) -> Result<HttpResponse, ApiError> {
    let token = presented_token(&request)?.ok_or(AppError::Unauthenticated("is missing"))?;
    Ok(HttpResponse::Ok().json(UserBody::new(&user, token)))
}
