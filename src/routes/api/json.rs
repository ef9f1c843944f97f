//! The RealWorld response shapes.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::models::User;
use crate::services::{ArticleView, CommentView, ProfileView};

/// ISO 8601 with milliseconds, as RealWorld shows: `2016-02-18T03:22:56.637Z`.
pub fn timestamp(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn optional(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
}

/// `{"user": {...}}`
#[derive(Serialize)]
pub struct UserBody<'a> {
    user: UserJson<'a>,
}

#[derive(Serialize)]
struct UserJson<'a> {
    email: &'a str,
    token: &'a str,
    username: &'a str,
    bio: Option<&'a str>,
    image: Option<&'a str>,
}

impl<'a> UserBody<'a> {
    /// The signed-in user with their token.
    pub fn new(user: &'a User, token: &'a str) -> Self {
        Self {
            user: UserJson {
                email: &user.email,
                token,
                username: &user.username,
                bio: optional(&user.bio),
                image: user.image.as_deref(),
            },
        }
    }
}

/// A profile inside other objects.
#[derive(Serialize)]
pub struct ProfileJson<'a> {
    username: &'a str,
    bio: Option<&'a str>,
    image: Option<&'a str>,
    following: bool,
}

impl<'a> From<&'a ProfileView> for ProfileJson<'a> {
    fn from(profile: &'a ProfileView) -> Self {
        Self {
            username: &profile.username,
            bio: optional(&profile.bio),
            image: profile.image.as_deref(),
            following: profile.following,
        }
    }
}

/// `{"profile": {...}}`
#[derive(Serialize)]
pub struct ProfileBody<'a> {
    profile: ProfileJson<'a>,
}

impl<'a> From<&'a ProfileView> for ProfileBody<'a> {
    fn from(profile: &'a ProfileView) -> Self {
        Self {
            profile: profile.into(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArticleJson<'a> {
    slug: &'a str,
    title: &'a str,
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a str>,
    tag_list: &'a [String],
    created_at: String,
    updated_at: String,
    favorited: bool,
    favorites_count: i32,
    author: ProfileJson<'a>,
}

impl<'a> From<&'a ArticleView> for ArticleJson<'a> {
    fn from(article: &'a ArticleView) -> Self {
        Self {
            slug: &article.summary.slug,
            title: &article.summary.title,
            description: &article.summary.description,
            body: article.body.as_deref(),
            tag_list: &article.tags,
            created_at: timestamp(&article.summary.created_at),
            updated_at: timestamp(&article.summary.updated_at),
            favorited: article.favorited,
            favorites_count: article.summary.favorites_count,
            author: (&article.author).into(),
        }
    }
}

/// `{"article": {...}}` with the body.
#[derive(Serialize)]
pub struct ArticleBody<'a> {
    article: ArticleJson<'a>,
}

impl<'a> From<&'a ArticleView> for ArticleBody<'a> {
    fn from(article: &'a ArticleView) -> Self {
        Self {
            article: article.into(),
        }
    }
}

/// `{"articles": [...], "articlesCount": n}`, without bodies.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArticlesBody<'a> {
    articles: Vec<ArticleJson<'a>>,
    articles_count: i64,
}

impl<'a> ArticlesBody<'a> {
    /// A page of articles and the size of the whole list.
    pub fn new(articles: &'a [ArticleView], total: i64) -> Self {
        Self {
            articles: articles.iter().map(Into::into).collect(),
            articles_count: total,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CommentJson<'a> {
    id: i64,
    created_at: String,
    updated_at: String,
    body: &'a str,
    author: ProfileJson<'a>,
}

impl<'a> From<&'a CommentView> for CommentJson<'a> {
    fn from(comment: &'a CommentView) -> Self {
        Self {
            id: comment.id,
            created_at: timestamp(&comment.created_at),
            updated_at: timestamp(&comment.updated_at),
            body: &comment.body,
            author: (&comment.author).into(),
        }
    }
}

/// `{"comment": {...}}`
#[derive(Serialize)]
pub struct CommentBody<'a> {
    comment: CommentJson<'a>,
}

impl<'a> From<&'a CommentView> for CommentBody<'a> {
    fn from(comment: &'a CommentView) -> Self {
        Self {
            comment: comment.into(),
        }
    }
}

/// `{"comments": [...]}`
#[derive(Serialize)]
pub struct CommentsBody<'a> {
    comments: Vec<CommentJson<'a>>,
}

impl<'a> From<&'a [CommentView]> for CommentsBody<'a> {
    fn from(comments: &'a [CommentView]) -> Self {
        Self {
            comments: comments.iter().map(Into::into).collect(),
        }
    }
}

/// `{"tags": [...]}`
#[derive(Serialize)]
pub struct TagsBody<'a> {
    pub tags: &'a [String],
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timestamps_have_milliseconds_and_zulu() {
        let at = Utc.with_ymd_and_hms(2016, 2, 18, 3, 22, 56).unwrap()
            + chrono::Duration::microseconds(637_123);
        assert_eq!(timestamp(&at), "2016-02-18T03:22:56.637Z");
    }
}
