//! `GET /api/user`: the signed-in user, with a fresh token.

use actix_web::{HttpResponse, web};

use crate::error::ApiError;
use crate::routes::api::extract::ApiUser;
use crate::routes::api::json::UserBody;
use crate::state::AppState;

#[tracing::instrument(skip_all)]
pub async fn current(
    state: web::Data<AppState>,
    ApiUser(user): ApiUser,
) -> Result<HttpResponse, ApiError> {
    let token = state.tokens.issue(&user)?;
    Ok(HttpResponse::Ok().json(UserBody::new(&user, &token)))
}
