//! `GET /profile/{username}` and `/profile/{username}/favorites`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::domain::paging::{Pager, Window};
use crate::error::PageError;
use crate::models::ArticleFilter;
use crate::routes::web::page::Page;
use crate::services::{articles, profiles};
use crate::state::AppState;
use crate::views::profile::ProfilePage;
use crate::views::{PagerLinks, href, render_validated};

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<String>,
}

pub async fn articles(
    state: web::Data<AppState>,
    page: Page,
    request: HttpRequest,
    username: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, PageError> {
    show(
        state,
        page,
        &request,
        &username,
        query.page.as_deref(),
        false,
    )
    .await
}

pub async fn favorites(
    state: web::Data<AppState>,
    page: Page,
    request: HttpRequest,
    username: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, PageError> {
    show(
        state,
        page,
        &request,
        &username,
        query.page.as_deref(),
        true,
    )
    .await
}

#[tracing::instrument(skip(state, page, request))]
async fn show(
    state: web::Data<AppState>,
    page: Page,
    request: &HttpRequest,
    username: &str,
    number: Option<&str>,
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
    let (number, window) = Window::page(number, Window::PAGE_SIZE);
    let list = articles::list(
        &state,
        &filter,
        window.limit,
        window.offset,
        page.viewer_id(),
    )
    .await?;
    let base = if favorites {
        format!("/profile/{}/favorites", profile.username)
    } else {
        format!("/profile/{}", profile.username)
    };
    let pager = PagerLinks::new(&Pager::new(number, list.total, Window::PAGE_SIZE), |n| {
        href(&base, &[("page", &n.to_string())])
    });
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
