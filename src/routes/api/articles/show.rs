//! `GET /api/articles/{slug}`

use actix_web::{HttpResponse, web};

use crate::error::ApiError;
use crate::routes::api::extract::ApiViewer;
use crate::routes::api::json::ArticleBody;
use crate::services::articles;
use crate::state::AppState;

#[tracing::instrument(skip(state, viewer))]
pub async fn show(
    state: web::Data<AppState>,
    viewer: ApiViewer,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let article = articles::show(&state, &slug, viewer.0).await?;
    Ok(HttpResponse::Ok().json(ArticleBody::from(&article)))
}
