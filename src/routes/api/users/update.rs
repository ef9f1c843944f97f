//! `PUT /api/user`: change the signed-in user's settings.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::UserRequest;
use crate::error::{ApiError, AppError};
use crate::routes::api::extract::{ApiUser, presented_token};
use crate::routes::api::json::UserBody;
use crate::services::accounts::{self, CurrentPassword, SettingsUpdate};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct Changes {
    email: Option<String>,
    username: Option<String>,
    password: Option<String>,
    bio: Option<String>,
    image: Option<String>,
    /// Needed for a new email or password when
    /// `auth.api_requires_current_password` is on; ignored otherwise.
    #[serde(rename = "currentPassword")]
    current_password: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn update(
    request: HttpRequest,
    state: web::Data<AppState>,
    ApiUser(user): ApiUser,
    body: web::Json<UserRequest<Changes>>,
) -> Result<HttpResponse, ApiError> {
    let changes = &body.user;
    let saved = accounts::update(
        &state,
        &user,
        SettingsUpdate {
            username: changes.username.as_deref(),
            email: changes.email.as_deref(),
            password: changes.password.as_deref(),
            name: None,
            bio: changes.bio.as_deref(),
            image: changes.image.as_deref(),
            current_password: CurrentPassword {
                given: changes.current_password.as_deref(),
                required: state.api_requires_current_password,
                field: "currentPassword",
            },
        },
    )
    .await?;
    // A new password (set by this request: the update refuses to run if the
    // generation moved meanwhile) revoked every older token, so this client
    // gets a new one; otherwise the presented token comes back unchanged, so
    // that no call can extend a token's life.
    let token = if changes.password.is_some() {
        state.tokens.issue(&saved)?
    } else {
        presented_token(&request)?
            .ok_or(AppError::Unauthenticated("is missing"))?
            .to_string()
    };
    Ok(HttpResponse::Ok().json(UserBody::new(&saved, &token)))
}
