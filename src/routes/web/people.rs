//! `GET /people?q=&after=|before=`: find people by username or name, a page
//! at a time by username ("Previous / Next").

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::page::Page;
use crate::domain::account::Username;
use crate::error::PageError;
use crate::models::NameCursor;
use crate::services::profiles::{self, DIRECTORY_COUNT_CAP};
use crate::state::AppState;
use crate::views::people::PeoplePage;
use crate::views::{KeysetLinks, render};

/// People per page.
const PER_PAGE: i64 = 20;

#[derive(Deserialize)]
pub struct PeopleQuery {
    q: Option<String>,
    after: Option<String>,
    before: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn search(
    state: web::Data<AppState>,
    page: Page,
    query: web::Query<PeopleQuery>,
) -> Result<HttpResponse, PageError> {
    let text = query.q.as_deref().unwrap_or("").trim();
    // A cursor that could not be a username is no cursor: the first page.
    let name = |raw: &Option<String>| {
        raw.as_deref()
            .filter(|raw| Username::parse(raw).is_ok())
            .map(str::to_string)
    };
    let (after, before) = (name(&query.after), name(&query.before));
    let from = match (&after, &before) {
        (Some(after), _) => NameCursor::After(after),
        (None, Some(before)) => NameCursor::Before(before),
        (None, None) => NameCursor::Start,
    };
    let directory = profiles::directory(&state, text, PER_PAGE, from, page.viewer_id()).await?;
    let pager = KeysetLinks::by_name(
        "/people",
        &[("q", text)],
        directory.previous.as_deref(),
        directory.next.as_deref(),
    );
    render(&PeoplePage {
        page: &page,
        query: text,
        matches: directory.matches,
        capped: directory.matches > DIRECTORY_COUNT_CAP,
        cap: DIRECTORY_COUNT_CAP,
        people: &directory.people,
        pager,
    })
}
