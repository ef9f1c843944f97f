//! Writing articles: publishing, revising, deleting, favorites. Each write
//! tells the cache what it changed once it has committed. Reading is in
//! `article_reads`.

use diesel_async::AsyncConnection;
use rand::RngExt;

use crate::content::markdown;
use crate::domain::FieldErrors;
use crate::domain::article::{Body, Description, Slug, TagList, Title};
use crate::error::AppError;
use crate::models::{
    Article, ArticleChanges, Conn, Favorite, NewArticle, Tag, User, unique_violation,
};
use crate::state::AppState;

use super::ArticleView;
use super::article_reads::{personalize, with_body};
use super::cached;

pub use super::article_reads::{Browsed, POPULAR_TAGS, all_tags, browse, list, popular_tags, show};

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
    let body_html = markdown::render_off_thread(body.clone()).await?;
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
                    body_html: &body_html,
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
    state
        .cache
        .invalidate(cached::article_written(&[&article.slug], true))
        .await;
    viewed_by(&mut conn, article, author.id).await
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
    let body = body.map(Body::into_inner);
    let body_html = match &body {
        Some(body) => Some(markdown::render_off_thread(body.clone()).await?),
        None => None,
    };
    let changes = ArticleChanges {
        slug: new_slug,
        title: title.map(|title| title.as_str().to_string()),
        description: description.map(Description::into_inner),
        body,
        body_html,
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
    state
        .cache
        .invalidate(cached::article_written(
            &[&article.slug, &updated.slug],
            tags.is_some(),
        ))
        .await;
    viewed_by(&mut conn, updated, editor.id).await
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
    let mut forget = cached::article_written(&[&article.slug], true);
    forget.keys.push(cached::comments(article.id));
    state.cache.invalidate(forget).await;
    Ok(())
}

/// `user` favorites the article at `slug`.
pub async fn favorite(state: &AppState, user: i64, slug: &str) -> Result<ArticleView, AppError> {
    set_favorite(state, user, slug, true).await
}

/// `user` no longer favorites the article at `slug`.
pub async fn unfavorite(state: &AppState, user: i64, slug: &str) -> Result<ArticleView, AppError> {
    set_favorite(state, user, slug, false).await
}

#[tracing::instrument(skip(state))]
async fn set_favorite(
    state: &AppState,
    user: i64,
    slug: &str,
    favorite: bool,
) -> Result<ArticleView, AppError> {
    let mut conn = state.db.write().await?;
    let article = find(&mut conn, slug).await?;
    if favorite {
        // The article may be deleted between the lookup and the insert.
        Favorite::add(&mut conn, user, article.id)
            .await
            .map_err(super::unless_gone("article"))?;
    } else {
        Favorite::remove(&mut conn, user, article.id).await?;
    }
    state
        .cache
        .invalidate(cached::article_written(&[&article.slug], false))
        .await;
    // Read again: the trigger has changed the count.
    let article = find(&mut conn, slug).await?;
    viewed_by(&mut conn, article, user).await
}

/// The article at `slug`, or 404. Slugs we could never have made are refused
/// without asking the database.
pub async fn find(conn: &mut Conn, slug: &str) -> Result<Article, AppError> {
    let slug = Slug::parse(slug).ok_or(AppError::NotFound("article"))?;
    Article::find_by_slug(conn, slug.as_str())
        .await?
        .ok_or(AppError::NotFound("article"))
}

/// `article` as `viewer` sees it, fresh from the database.
async fn viewed_by(
    conn: &mut Conn,
    article: Article,
    viewer: i64,
) -> Result<ArticleView, AppError> {
    let mut views = [with_body(conn, article).await?];
    personalize(conn, &mut views, viewer).await?;
    let [view] = views;
    Ok(view)
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
