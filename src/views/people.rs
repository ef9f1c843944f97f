//! The people directory.

use askama::Template;

use super::KeysetLinks;
use crate::routes::web::page::Page;
use crate::services::profiles::Person;

/// People matching a search.
#[derive(Template)]
#[template(path = "people.html")]
pub struct PeoplePage<'a> {
    pub page: &'a Page,
    pub query: &'a str,
    /// How many match, counted no further than `cap`.
    pub matches: i64,
    /// Whether more than `cap` match.
    pub capped: bool,
    pub cap: i64,
    pub people: &'a [Person],
    pub pager: KeysetLinks,
}
