//! A user's profile page.

use askama::Template;

use super::KeysetLinks;
use crate::routes::web::page::Page;
use crate::services::ProfileView;
use crate::services::articles::Browsed;
use crate::services::profiles::FollowCounts;

/// A profile with one tab of articles: theirs, or their favorites.
#[derive(Template)]
#[template(path = "profile.html")]
pub struct ProfilePage<'a> {
    pub page: &'a Page,
    pub profile: &'a ProfileView,
    pub counts: FollowCounts,
    /// Whether the favorites tab is shown.
    pub favorites: bool,
    pub list: &'a Browsed,
    pub pager: KeysetLinks,
}
