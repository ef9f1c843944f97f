//! `PUT /api/user`: change the signed-in user's settings.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::UserRequest;
use crate::error::ApiError;
use crate::routes::api::extract::ApiUser;
use crate::routes::api::json::UserBody;
use crate::services::accounts::{self, SettingsUpdate};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct Changes {
    email: Option<String>,
    username: Option<String>,
    password: Option<String>,
    bio: Option<String>,
    image: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn update(
    state: web::Data<AppState>,
    ApiUser(user): ApiUser,
    body: web::Json<UserRequest<Changes>>,
) -> Result<HttpResponse, ApiError> {
    let changes = &body.user;
    let user = accounts::update(
        &state,
        &user,
        SettingsUpdate {
            username: changes.username.as_deref(),
            email: changes.email.as_deref(),
            password: changes.password.as_deref(),
            name: None,
            bio: changes.bio.as_deref(),
            image: changes.image.as_deref(),
        },
    )
    .await?;
    let token = state.tokens.issue(&user)?;
    Ok(HttpResponse::Ok().json(UserBody::new(&user, &token)))
}
