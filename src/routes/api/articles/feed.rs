//! `GET /api/articles/feed`: articles by the authors the user follows.

use actix_web::{HttpResponse, web};

use super::Paging;
use crate::error::ApiError;
use crate::models::ArticleFilter;
use crate::routes::api::extract::ApiUser;
use crate::routes::api::json::ArticlesBody;
use crate::services::articles;
use crate::state::AppState;

#[tracing::instrument(skip_all)]
pub async fn feed(
    state: web::Data<AppState>,
    ApiUser(user): ApiUser,
    query: web::Query<Paging>,
) -> Result<HttpResponse, ApiError> {
    let window = query.window()?;
    let filter = ArticleFilter {
        followed_by: Some(user.id),
        ..ArticleFilter::default()
    };
    let page = articles::list(&state, &filter, window.limit, window.offset, Some(user.id)).await?;
    Ok(HttpResponse::Ok().json(ArticlesBody::new(&page.articles, page.total)))
}
