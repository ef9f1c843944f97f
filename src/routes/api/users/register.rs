//! `POST /api/users`: create an account and get a token.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::UserRequest;
use crate::error::ApiError;
use crate::routes::api::json::UserBody;
use crate::services::accounts::{self, Registration};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct NewUser {
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

#[tracing::instrument(skip_all)]
pub async fn register(
    state: web::Data<AppState>,
    body: web::Json<UserRequest<NewUser>>,
) -> Result<HttpResponse, ApiError> {
    let input = &body.user;
    let user = accounts::register(
        &state,
        Registration {
            username: &input.username,
            email: &input.email,
            password: &input.password,
        },
    )
    .await?;
    let token = state.tokens.issue(&user)?;
    Ok(HttpResponse::Created().json(UserBody::new(&user, &token)))
}
