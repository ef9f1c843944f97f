//! The home page: feeds, tag filter, popular tags.

use askama::Template;

use super::KeysetLinks;
use crate::routes::web::page::Page;
use crate::services::articles::Browsed;

/// The home page.
#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage<'a> {
    pub page: &'a Page,
    /// `your`, `global`, or `tag`.
    pub tab: &'a str,
    pub tag: Option<&'a str>,
    pub list: &'a Browsed,
    pub pager: KeysetLinks,
    pub popular_tags: &'a [String],
}
