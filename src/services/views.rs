//! What the services return: data shaped for display, with the per-viewer
//! flags (following, favorited) filled in.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::models::{ArticleSummary, Comment, User};

/// The picture shown for users without an avatar of their own.
pub const DEFAULT_AVATAR: &str = "/static/img/avatar.svg";

/// A date as the pages print it: `November 27, 2026`.
pub fn long_date(at: &DateTime<Utc>) -> String {
    at.format("%B %-d, %Y").to_string()
}

/// A user as someone else sees them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProfileView {
    pub id: i64,
    pub username: String,
    pub name: String,
    pub bio: String,
    pub image: Option<String>,
    /// Whether the viewer follows this user.
    pub following: bool,
}

impl ProfileView {
    /// `user` as seen by a viewer who does or does not follow them.
    pub fn of(user: &User, following: bool) -> Self {
        Self {
            id: user.id,
            username: user.username.clone(),
            name: user.name.clone(),
            bio: user.bio.clone(),
            image: user.image.clone(),
            following,
        }
    }
}

impl ProfileView {
    /// The avatar address to show.
    pub fn avatar(&self) -> &str {
        self.image.as_deref().unwrap_or(DEFAULT_AVATAR)
    }

    /// The display name, or the username when there is none.
    pub fn display_name(&self) -> &str {
        if self.name.is_empty() {
            &self.username
        } else {
            &self.name
        }
    }
}

/// An article with its author, tags and the viewer's favorite flag.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArticleView {
    pub summary: ArticleSummary,
    /// The Markdown body; lists leave it out.
    pub body: Option<String>,
    /// The body as sanitized HTML, rendered when it was written (missing for
    /// articles written before that was stored, and in lists).
    #[serde(default)]
    pub body_html: Option<String>,
    pub tags: Vec<String>,
    /// Whether the viewer has favorited it.
    pub favorited: bool,
    pub author: ProfileView,
}

impl ArticleView {
    /// The publication date as pages show it.
    pub fn date(&self) -> String {
        long_date(&self.summary.created_at)
    }
}

/// One page of a list of articles.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ArticlePage {
    pub articles: Vec<ArticleView>,
    /// How many articles the whole list holds.
    pub total: i64,
}

/// A comment with its author.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommentView {
    pub id: i64,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub author: ProfileView,
}

impl CommentView {
    /// The date as pages show it.
    pub fn date(&self) -> String {
        long_date(&self.created_at)
    }

    /// `comment` written by `author`.
    pub fn of(comment: Comment, author: ProfileView) -> Self {
        Self {
            id: comment.id,
            body: comment.body,
            created_at: comment.created_at,
            updated_at: comment.updated_at,
            author,
        }
    }
}
