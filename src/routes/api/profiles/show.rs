//! `GET /api/profiles/{username}`

use actix_web::{HttpResponse, web};

use crate::error::ApiError;
use crate::routes::api::extract::ApiViewer;
use crate::routes::api::json::ProfileBody;
use crate::services::profiles;
use crate::state::AppState;

#[tracing::instrument(skip(state, viewer))]
pub async fn show(
    state: web::Data<AppState>,
    viewer: ApiViewer,
    username: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let profile = profiles::show(&state, &username, viewer.0).await?;
    Ok(HttpResponse::Ok().json(ProfileBody::from(&profile)))
}
