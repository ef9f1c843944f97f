//! Articles: lists and feeds, reading, writing, favorites, tags.
//!
//! A list costs a constant number of queries whatever its length: the page,
//! the count, the authors, the tags, and for a signed-in viewer their
//! favorites and follows among those articles and authors.

use std::collections::{HashMap, HashSet};

use diesel_async::AsyncConnection;
use rand::RngExt;

use crate::domain::FieldErrors;
use crate::domain::article::{Body, Description, Slug, TagList, Title};
use crate::error::AppError;
use crate::models::{
    Article, ArticleChanges, ArticleFilter, ArticleSummary, Conn, Favorite, Follow, NewArticle,
    Tag, User, unique_violation,
};
use crate::state::AppState;

use super::{ArticlePage, ArticleView, ProfileView};

/// How many tags the "popular tags" lists show.
pub const POPULAR_TAGS: i64 = 20;

/// Tags as submitted: a list (the API) or one typed field (the editor page).
#[derive(Debug, Clone, Copy)]
pub enum TagInput<'a> {
    List(&'a [String]),
    Field(&'a str),
    Unchanged,
}

impl TagInput<'_> {
    fn parse(self) -> Option<Result<TagList, String>> {
        match self {
            Self::List(tags) => Some(TagList::parse(tags)),
            Self::Field(text) => Some(TagList::parse_field(text)),
            Self::Unchanged => None,
        }
    }
}

/// A new article as submitted.
#[derive(Debug, Clone, Copy)]
pub struct Draft<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub body: &'a str,
    pub tags: TagInput<'a>,
}

/// Changes to an article as submitted; `None` leaves a field unchanged.
#[derive(Debug, Clone, Copy)]
pub struct Revision<'a> {
    pub title: Option<&'a str>,
    pub description: Option<&'a str>,
    pub body: Option<&'a str>,
    pub tags: TagInput<'a>,
}

/// One page of the articles matching `filter`, as `viewer` sees them.
pub async fn list(
    state: &AppState,
    filter: &ArticleFilter,
    limit: i64,
    offset: i64,
    viewer: Option<i64>,
) -> Result<ArticlePage, AppError> {
    let mut conn = state.db.read().await?;
    let summaries = Article::list(&mut conn, filter, limit, offset).await?;
    let total = Article::count(&mut conn, filter).await?;
    let articles = decorate(&mut conn, summaries, viewer).await?;
    Ok(ArticlePage { articles, total })
}

/// The article at `slug`, with its body, as `viewer` sees it.
pub async fn show(
    state: &AppState,
    slug: &str,
    viewer: Option<i64>,
) -> Result<ArticleView, AppError> {
    let mut conn = state.db.read().await?;
    let article = find(&mut conn, slug).await?;
    with_body(&mut conn, article, viewer).await
}

/// The most used tags.
pub async fn popular_tags(state: &AppState) -> Result<Vec<String>, AppError> {
    let mut conn = state.db.read().await?;
    Ok(Tag::popular(&mut conn, POPULAR_TAGS).await?)
}

/// All tags in use, most used first (at most 100).
pub async fn all_tags(state: &AppState) -> Result<Vec<String>, AppError> {
    let mut conn = state.db.read().await?;
    Ok(Tag::popular(&mut conn, 100).await?)
}

/// Publishes a new article by `author`.
#[tracing::instrument(skip_all, fields(author = author.id))]
pub async fn publish(
    state: &AppState,
    author: &User,
    draft: Draft<'_>,
) -> Result<ArticleView, AppError> {
    let mut errors = FieldErrors::default();
    let title = errors.check("title", Title::parse(draft.title));
    let description = errors.check("description", Description::parse(draft.description));
    let body = errors.check("body", Body::parse(draft.body));
    let tags = draft
        .tags
        .parse()
        .and_then(|tags| errors.check("tagList", tags))
        .unwrap_or_default();
    let (Some(title), Some(description), Some(body), true) =
        (title, description, body, errors.is_empty())
    else {
        return Err(errors.into());
    };
    let description = description.into_inner();
    let body = body.into_inner();
    let mut conn = state.db.write().await?;
    let mut attempt = 0;
    let article = loop {
        attempt += 1;
        let slug = free_slug(&mut conn, &title.slug(), None).await?;
        let created = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                let new = NewArticle {
                    slug: &slug,
                    author_id: author.id,
                    title: title.as_str(),
                    description: &description,
                    body: &body,
                };
                let article = Article::create(conn, new).await?;
                Tag::set_for_article(conn, article.id, tags.as_slice()).await?;
                Ok(article)
            })
            .await;
        match created {
            // Someone took the slug between the check and the insert: pick again.
            Err(error) if unique_violation(&error).is_some() && attempt < 3 => continue,
            other => break other?,
        }
    };
    with_body(&mut conn, article, Some(author.id)).await
}

/// Applies `revision` to the article at `slug`, which `editor` must have written.
#[tracing::instrument(skip_all, fields(editor = editor.id, slug))]
pub async fn revise(
    state: &AppState,
    editor: &User,
    slug: &str,
    revision: Revision<'_>,
) -> Result<ArticleView, AppError> {
    let mut errors = FieldErrors::default();
    let title = revision
        .title
        .and_then(|raw| errors.check("title", Title::parse(raw)));
    let description = revision
        .description
        .and_then(|raw| errors.check("description", Description::parse(raw)));
    let body = revision
        .body
        .and_then(|raw| errors.check("body", Body::parse(raw)));
    let tags = revision
        .tags
        .parse()
        .and_then(|tags| errors.check("tagList", tags));
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let mut conn = state.db.write().await?;
    let article = find(&mut conn, slug).await?;
    if article.author_id != editor.id {
        return Err(AppError::Forbidden("edit someone else's article"));
    }
    // The slug follows the title (as RealWorld asks), unless the title is unchanged.
    let new_slug = match &title {
        Some(title) if title.as_str() != article.title => {
            Some(free_slug(&mut conn, &title.slug(), Some(article.id)).await?)
        }
        _ => None,
    };
    let changes = ArticleChanges {
        slug: new_slug,
        title: title.map(|title| title.as_str().to_string()),
        description: description.map(Description::into_inner),
        body: body.map(Body::into_inner),
    };
    let updated = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let updated = Article::update(conn, article.id, changes).await?;
            if let Some(tags) = &tags {
                Tag::set_for_article(conn, article.id, tags.as_slice()).await?;
            }
            Ok(updated)
        })
        .await
        .map_err(|error| match unique_violation(&error) {
            Some(_) => AppError::invalid(
                "title",
                "gives an address already in use; try another title",
            ),
            None => error.into(),
        })?;
    with_body(&mut conn, updated, Some(editor.id)).await
}

/// Deletes the article at `slug`, which `user` must have written.
#[tracing::instrument(skip(state))]
pub async fn delete(state: &AppState, user: i64, slug: &str) -> Result<(), AppError> {
    let mut conn = state.db.write().await?;
    let article = find(&mut conn, slug).await?;
    if article.author_id != user {
        return Err(AppError::Forbidden("delete someone else's article"));
    }
    Article::delete(&mut conn, article.id).await?;
    Ok(())
}

/// `user` favorites the article at `slug`.
#[tracing::instrument(skip(state))]
pub async fn favorite(state: &AppState, user: i64, slug: &str) -> Result<ArticleView, AppError> {
    let mut conn = state.db.write().await?;
    let article = find(&mut conn, slug).await?;
    Favorite::add(&mut conn, user, article.id).await?;
    let article = find(&mut conn, slug).await?;
    with_body(&mut conn, article, Some(user)).await
}

/// `user` no longer favorites the article at `slug`.
#[tracing::instrument(skip(state))]
pub async fn unfavorite(state: &AppState, user: i64, slug: &str) -> Result<ArticleView, AppError> {
    let mut conn = state.db.write().await?;
    let article = find(&mut conn, slug).await?;
    Favorite::remove(&mut conn, user, article.id).await?;
    let article = find(&mut conn, slug).await?;
    with_body(&mut conn, article, Some(user)).await
}

/// The article at `slug`, or 404. Slugs we could never have made are refused
/// without asking the database.
pub async fn find(conn: &mut Conn, slug: &str) -> Result<Article, AppError> {
    let slug = Slug::parse(slug).ok_or(AppError::NotFound("article"))?;
    Article::find_by_slug(conn, slug.as_str())
        .await?
        .ok_or(AppError::NotFound("article"))
}

async fn with_body(
    conn: &mut Conn,
    article: Article,
    viewer: Option<i64>,
) -> Result<ArticleView, AppError> {
    let body = article.body.clone();
    let mut views = decorate(conn, vec![article.into()], viewer).await?;
    let mut view = views
        .pop()
        .ok_or_else(|| anyhow::anyhow!("article author is missing"))?;
    view.body = Some(body);
    Ok(view)
}

/// Adds authors, tags and the viewer's flags to `summaries`, in four queries at most.
async fn decorate(
    conn: &mut Conn,
    summaries: Vec<ArticleSummary>,
    viewer: Option<i64>,
) -> Result<Vec<ArticleView>, AppError> {
    let ids: Vec<i64> = summaries.iter().map(|article| article.id).collect();
    let author_ids: Vec<i64> = summaries
        .iter()
        .map(|article| article.author_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let authors: HashMap<i64, User> = User::find_many(conn, &author_ids)
        .await?
        .into_iter()
        .map(|user| (user.id, user))
        .collect();
    let mut tags = Tag::for_articles(conn, &ids).await?;
    let (favorited, followed) = match viewer {
        Some(viewer) => (
            Favorite::favorited_among(conn, viewer, &ids).await?,
            Follow::followed_among(conn, viewer, &author_ids).await?,
        ),
        None => Default::default(),
    };
    Ok(summaries
        .into_iter()
        .filter_map(|summary| {
            let author = authors.get(&summary.author_id)?;
            Some(ArticleView {
                tags: tags.remove(&summary.id).unwrap_or_default(),
                favorited: favorited.contains(&summary.id),
                author: ProfileView::of(author, followed.contains(&author.id)),
                body: None,
                summary,
            })
        })
        .collect())
}

/// `base`, or `base` with a random suffix when another article has it.
async fn free_slug(conn: &mut Conn, base: &str, current: Option<i64>) -> Result<String, AppError> {
    match Article::find_by_slug(conn, base).await? {
        Some(holder) if Some(holder.id) != current => {
            const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
            let mut rng = rand::rng();
            let suffix: String = (0..6)
                .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
                .collect();
            Ok(format!("{base}-{suffix}"))
        }
        _ => Ok(base.to_string()),
    }
}
