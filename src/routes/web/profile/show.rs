//! `GET /profile/{username}` and `/profile/{username}/favorites`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::domain::paging::Position;
use crate::error::PageError;
use crate::models::ArticleFilter;
use crate::routes::web::page::Page;
use crate::services::{articles, profiles};
use crate::state::AppState;
use crate::views::profile::ProfilePage;
use crate::views::{KeysetLinks, render_validated};

#[derive(Deserialize)]
pub struct PageQuery {
    before: Option<String>,
    after: Option<String>,
}

impl PageQuery {
    fn position(&self) -> Position {
        Position::from_page(self.before.as_deref(), self.after.as_deref())
    }
}

pub async fn articles(
    state: web::Data<AppState>,
    page: Page,
    request: HttpRequest,
    username: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, PageError> {
    show(state, page, &request, &username, query.position(), false).await
}

pub async fn favorites(
    state: web::Data<AppState>,
    page: Page,
    request: HttpRequest,
    username: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, PageError> {
    show(state, page, &request, &username, query.position(), true).await
}

#[tracing::instrument(skip(state, page, request))]
async fn show(
    state: web::Data<AppState>,
    page: Page,
    request: &HttpRequest,
    username: &str,
    position: Position,
    favorites: bool,
) -> Result<HttpResponse, PageError> {
    let (profile, counts) = profiles::show_with_counts(&state, username, page.viewer_id()).await?;
    let filter = if favorites {
        ArticleFilter {
            favorited_by: Some(profile.username.clone()),
            ..ArticleFilter::default()
        }
    } else {
        ArticleFilter {
            author: Some(profile.username.clone()),
            ..ArticleFilter::default()
        }
    };
    let list = articles::browse(&state, &filter, position, page.viewer_id()).await?;
    let base = if favorites {
        format!("/profile/{}/favorites", profile.username)
    } else {
        format!("/profile/{}", profile.username)
    };
    let pager = KeysetLinks::new(&base, &[], list.newer, list.older);
    render_validated(
        request,
        &ProfilePage {
            page: &page,
            profile: &profile,
            counts,
            favorites,
            list: &list,
            pager,
        },
    )
}
