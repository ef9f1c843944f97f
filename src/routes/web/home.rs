//! `GET /?feed=your|global&tag=&page=`: the home page.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::page::Page;
use super::redirect;
use crate::domain::paging::{Pager, Window};
use crate::error::{AppError, PageError};
use crate::models::ArticleFilter;
use crate::services::{ArticlePage, articles};
use crate::state::AppState;
use crate::views::home::HomePage;
use crate::views::{PagerLinks, href, render};

#[derive(Deserialize)]
pub struct HomeQuery {
    feed: Option<String>,
    tag: Option<String>,
    page: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn show(
    state: web::Data<AppState>,
    page: Page,
    query: web::Query<HomeQuery>,
) -> Result<HttpResponse, PageError> {
    let tag = query
        .tag
        .as_deref()
        .map(str::trim)
        .filter(|tag| !tag.is_empty());
    let wants_feed = query.feed.as_deref() == Some("your");
    let (tab, filter) = match (tag, wants_feed, page.viewer_id()) {
        (Some(tag), _, _) => (
            "tag",
            ArticleFilter {
                tag: Some(tag.to_string()),
                ..ArticleFilter::default()
            },
        ),
        (None, true, Some(viewer)) => (
            "your",
            ArticleFilter {
                followed_by: Some(viewer),
                ..ArticleFilter::default()
            },
        ),
        (None, true, None) => return Ok(redirect::to_login("/?feed=your")),
        (None, false, _) => ("global", ArticleFilter::default()),
    };
    let (number, window) = Window::page(query.page.as_deref(), Window::PAGE_SIZE);
    // A tag no article could carry (too long, control characters) finds nothing.
    let list = match articles::list(
        &state,
        &filter,
        window.limit,
        window.offset,
        page.viewer_id(),
    )
    .await
    {
        Err(AppError::Validation(_)) => ArticlePage::default(),
        listed => listed?,
    };
    let popular_tags = articles::popular_tags(&state).await?;
    let feed = if tab == "your" { "your" } else { "" };
    let pager = PagerLinks::new(&Pager::new(number, list.total, Window::PAGE_SIZE), |n| {
        href(
            "/",
            &[
                ("feed", feed),
                ("tag", tag.unwrap_or("")),
                ("page", &n.to_string()),
            ],
        )
    });
    render(&HomePage {
        page: &page,
        tab,
        tag,
        list: &list,
        pager,
        popular_tags: &popular_tags,
    })
}
