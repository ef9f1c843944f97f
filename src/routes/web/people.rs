//! `GET /people?q=&after=|before=`: find people by username or name, a page
//! at a time in the order of what they matched by ("Previous / Next").

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::page::Page;
use crate::domain::paging::{NameCursor, NamePosition};
use crate::error::PageError;
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
    // A cursor that could not be one is none: the first page.
    let from = match (
        query.after.as_deref().and_then(NameCursor::parse),
        query.before.as_deref().and_then(NameCursor::parse),
    ) {
        (Some(after), _) => NamePosition::After(after),
        (None, Some(before)) => NamePosition::Before(before),
        (None, None) => NamePosition::Start,
    };
    let directory = profiles::directory(&state, text, PER_PAGE, &from, page.viewer_id()).await?;
    let pager = KeysetLinks::by_name(
        "/people",
        &[("q", text)],
        directory
            .previous
            .map(|cursor| cursor.to_param())
            .as_deref(),
        directory.next.map(|cursor| cursor.to_param()).as_deref(),
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
