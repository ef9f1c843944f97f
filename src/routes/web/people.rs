//! `GET /people?q=&page=`: find people by username or name.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::page::Page;
use crate::domain::paging::{Pager, Window};
use crate::error::PageError;
use crate::services::profiles;
use crate::state::AppState;
use crate::views::people::PeoplePage;
use crate::views::{PagerLinks, href, render};

/// People per page.
const PER_PAGE: i64 = 20;

#[derive(Deserialize)]
pub struct PeopleQuery {
    q: Option<String>,
    page: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn search(
    state: web::Data<AppState>,
    page: Page,
    query: web::Query<PeopleQuery>,
) -> Result<HttpResponse, PageError> {
    let text = query.q.as_deref().unwrap_or("").trim();
    let (number, window) = Window::page(query.page.as_deref(), PER_PAGE);
    let (people, total) =
        profiles::directory(&state, text, window.limit, window.offset, page.viewer_id()).await?;
    let pager = PagerLinks::new(&Pager::new(number, total, PER_PAGE), |n| {
        href("/people", &[("q", text), ("page", &n.to_string())])
    });
    render(&PeoplePage {
        page: &page,
        query: text,
        total,
        people: &people,
        pager,
    })
}
