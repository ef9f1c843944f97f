//! `POST /api/users/login`: exchange an email and password for a token.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::UserRequest;
use crate::error::ApiError;
use crate::routes::api::json::UserBody;
use crate::services::accounts;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct Credentials {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

#[tracing::instrument(skip_all)]
pub async fn login(
    state: web::Data<AppState>,
    body: web::Json<UserRequest<Credentials>>,
) -> Result<HttpResponse, ApiError> {
    let user = accounts::authenticate(&state, &body.user.email, &body.user.password).await?;
    let token = state.tokens.issue(&user)?;
    Ok(HttpResponse::Ok().json(UserBody::new(&user, &token)))
}
