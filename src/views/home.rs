//! The home page: feeds, tag filter, popular tags.

use askama::Template;

use super::PagerLinks;
use crate::routes::web::page::Page;
use crate::services::ArticlePage;

/// The home page.
#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage<'a> {
    pub page: &'a Page,
    /// `your`, `global`, or `tag`.
    pub tab: &'a str,
    pub tag: Option<&'a str>,
    pub list: &'a ArticlePage,
    pub pager: PagerLinks,
    pub popular_tags: &'a [String],
}
