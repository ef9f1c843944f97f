//! `DELETE /api/profiles/{username}/follow`

use actix_web::{HttpResponse, web};

use crate::error::ApiError;
use crate::routes::api::extract::ApiUser;
use crate::routes::api::json::ProfileBody;
use crate::services::profiles;
use crate::state::AppState;

#[tracing::instrument(skip(state, user))]
pub async fn unfollow(
    state: web::Data<AppState>,
    ApiUser(user): ApiUser,
    username: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let profile = profiles::unfollow(&state, &user, &username).await?;
    Ok(HttpResponse::Ok().json(ProfileBody::from(&profile)))
}
