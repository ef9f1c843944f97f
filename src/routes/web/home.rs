//! `GET /?feed=your|global&tag=&before=|after=`: the home page, paged by
//! cursor ("Newer / Older").

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::page::Page;
use super::redirect;
use crate::domain::paging::Position;
use crate::error::{AppError, PageError};
use crate::models::ArticleFilter;
use crate::services::articles::{self, Browsed};
use crate::state::AppState;
use crate::views::home::HomePage;
use crate::views::{KeysetLinks, render};

#[derive(Deserialize)]
pub struct HomeQuery {
    feed: Option<String>,
    tag: Option<String>,
    before: Option<String>,
    after: Option<String>,
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
    let position = Position::from_page(query.before.as_deref(), query.after.as_deref());
    // A tag no article could carry (too long, control characters) finds nothing.
    let list = match articles::browse(&state, &filter, position, page.viewer_id()).await {
        Err(AppError::Validation(_)) => Browsed::default(),
        listed => listed?,
    };
    let popular_tags = articles::popular_tags(&state).await?;
    let feed = if tab == "your" { "your" } else { "" };
    let pager = KeysetLinks::new(
        "/",
        &[("feed", feed), ("tag", tag.unwrap_or(""))],
        list.newer,
        list.older,
    );
    render(&HomePage {
        page: &page,
        tab,
        tag,
        list: &list,
        pager,
        popular_tags: &popular_tags,
    })
}
