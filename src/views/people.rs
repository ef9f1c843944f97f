//! The people directory.

use askama::Template;

use super::PagerLinks;
use crate::routes::web::page::Page;
use crate::services::profiles::Person;

/// People matching a search.
#[derive(Template)]
#[template(path = "people.html")]
pub struct PeoplePage<'a> {
    pub page: &'a Page,
    pub query: &'a str,
    pub total: i64,
    pub people: &'a [Person],
    pub pager: PagerLinks,
}
