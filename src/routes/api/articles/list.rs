//! `GET /api/articles?tag=&author=&favorited=&limit=&offset=`: newest first.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::Paging;
use crate::error::ApiError;
use crate::models::ArticleFilter;
use crate::routes::api::extract::ApiViewer;
use crate::routes::api::json::ArticlesBody;
use crate::services::articles;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct Filters {
    tag: Option<String>,
    author: Option<String>,
    favorited: Option<String>,
    #[serde(flatten)]
    paging: Paging,
}

fn given(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

#[tracing::instrument(skip_all)]
pub async fn list(
    state: web::Data<AppState>,
    viewer: ApiViewer,
    query: web::Query<Filters>,
) -> Result<HttpResponse, ApiError> {
    let window = query.paging.window()?;
    let filter = ArticleFilter {
        tag: given(&query.tag),
        author: given(&query.author),
        favorited_by: given(&query.favorited),
        followed_by: None,
    };
    let page = articles::list(&state, &filter, window.limit, window.offset, viewer.0).await?;
    Ok(HttpResponse::Ok().json(ArticlesBody::new(&page.articles, page.total)))
}
