//! Reading articles: lists and feeds, one article, tags.
//!
//! A list costs a constant number of queries whatever its length: the page,
//! the count, the authors, the tags; a signed-in viewer adds their favorites
//! and follows among those. With the cache tier, single articles, the tag
//! lists and the first pages of the global list come from Redis, shared by
//! every viewer, and only the viewer's own flags touch the database.

use std::collections::HashSet;

use crate::domain::FieldErrors;
use crate::domain::account::Username;
use crate::domain::article::{Slug, TagList};
use crate::domain::paging::{Cursor, Position, Window};
use crate::domain::text;
use crate::error::AppError;
use crate::models::{Article, ArticleFilter, ArticleSummary, Conn, Favorite, Follow, Tag, User};
use crate::state::AppState;

use super::cached;
use super::{ArticlePage, ArticleView, ProfileView};

/// How many tags the "popular tags" lists show.
pub const POPULAR_TAGS: i64 = 20;

/// One page of the articles matching `filter`, as `viewer` sees them, with
/// the size of the whole list (the API's `limit`/`offset`).
///
/// A filter value that no article could match (too long, or holding control
/// characters such as NUL, which PostgreSQL cannot even compare) is a
/// validation error naming its query parameter.
pub async fn list(
    state: &AppState,
    filter: &ArticleFilter,
    limit: i64,
    offset: i64,
    viewer: Option<i64>,
) -> Result<ArticlePage, AppError> {
    check_filter(filter)?;
    if filter.followed_by.is_some() && offset > Window::MAX_FEED_OFFSET {
        return Err(AppError::invalid(
            "offset",
            format!(
                "must be a whole number from 0 to {} in the feed",
                Window::MAX_FEED_OFFSET
            ),
        ));
    }
    let mut page = fetch(state, filter, limit, Position::Offset(offset), true).await?;
    if let Some(viewer) = viewer {
        let mut conn = state.db.read().await?;
        personalize(&mut conn, &mut page.articles, viewer).await?;
    }
    Ok(page)
}

/// A page of articles as the HTML pages show it, with the cursors of the
/// pages around it: page 5,000 costs what page 1 costs.
#[derive(Debug, Default)]
pub struct Browsed {
    pub articles: Vec<ArticleView>,
    /// Where the newer articles start, when there are any.
    pub newer: Option<Cursor>,
    /// Where the older articles start, when there are any.
    pub older: Option<Cursor>,
}

/// The page of `Window::PAGE_SIZE` articles matching `filter` at `position`,
/// as `viewer` sees them (filters are checked as by [`list`]).
pub async fn browse(
    state: &AppState,
    filter: &ArticleFilter,
    position: Position,
    viewer: Option<i64>,
) -> Result<Browsed, AppError> {
    check_filter(filter)?;
    let size = Window::PAGE_SIZE;
    // One more than shown says whether there is a page beyond.
    let mut articles = fetch(state, filter, size + 1, position, false)
        .await?
        .articles;
    let beyond = articles.len() as i64 > size;
    if beyond {
        match position {
            Position::Newer(_) => drop(articles.remove(0)),
            _ => articles.truncate(size as usize),
        }
    }
    let cursor = |view: &ArticleView| Cursor {
        at: view.summary.created_at,
        id: view.summary.id,
    };
    let (first, last) = (articles.first().map(cursor), articles.last().map(cursor));
    let (newer, older) = match position {
        Position::Offset(_) => (None, last.filter(|_| beyond)),
        Position::Older(_) => (first, last.filter(|_| beyond)),
        Position::Newer(_) => (first.filter(|_| beyond), last),
    };
    if let Some(viewer) = viewer {
        let mut conn = state.db.read().await?;
        personalize(&mut conn, &mut articles, viewer).await?;
    }
    Ok(Browsed {
        articles,
        newer,
        older,
    })
}

/// The articles at `position`, shared by every viewer: the first pages of
/// the global list from the cache tier (always counted, so that every
/// cached entry is whole), the rest from the database, counted if `counted`.
async fn fetch(
    state: &AppState,
    filter: &ArticleFilter,
    limit: i64,
    position: Position,
    counted: bool,
) -> Result<ArticlePage, AppError> {
    let cacheable = match position {
        Position::Offset(offset) => {
            *filter == ArticleFilter::default() && offset + limit <= cached::CACHED_LIST_DEPTH
        }
        _ => false,
    };
    let generation = if cacheable {
        state.cache.generation(cached::LIST_GENERATION).await
    } else {
        None
    };
    match (generation, position) {
        (Some(generation), Position::Offset(offset)) => Ok(state
            .cache
            .get_or_load(
                &cached::list(generation, limit, offset),
                cached::ttl(state.cache_settings.list_ttl_secs),
                async || {
                    load_list(state, filter, limit, position, true)
                        .await
                        .map(Some)
                },
            )
            .await?
            .unwrap_or_default()),
        _ => load_list(state, filter, limit, position, counted).await,
    }
}

fn check_filter(filter: &ArticleFilter) -> Result<(), AppError> {
    let mut errors = FieldErrors::default();
    let fields = [
        ("tag", &filter.tag, TagList::MAX_LENGTH),
        ("author", &filter.author, Username::MAX),
        ("favorited", &filter.favorited_by, Username::MAX),
    ];
    for (field, value, max) in fields {
        if let Some(value) = value {
            errors.check(field, text::checked(value, 1, max, false));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Validation(errors))
    }
}

/// Reads a page, and the size of the whole list if `counted` (from
/// counters: see [`Article::count`]).
async fn load_list(
    state: &AppState,
    filter: &ArticleFilter,
    limit: i64,
    position: Position,
    counted: bool,
) -> Result<ArticlePage, AppError> {
    let mut conn = state.db.read().await?;
    let summaries = Article::list(&mut conn, filter, limit, position).await?;
    let total = if counted {
        Article::count(&mut conn, filter).await?
    } else {
        0
    };
    let articles = decorate(&mut conn, summaries).await?;
    Ok(ArticlePage { articles, total })
}

/// The article at `slug`, with its body, as `viewer` sees it.
pub async fn show(
    state: &AppState,
    slug: &str,
    viewer: Option<i64>,
) -> Result<ArticleView, AppError> {
    let slug = Slug::parse(slug).ok_or(AppError::NotFound("article"))?;
    let article = state
        .cache
        .get_or_load(
            &cached::article(slug.as_str()),
            cached::ttl(state.cache_settings.article_ttl_secs),
            async || {
                let mut conn = state.db.read().await?;
                match Article::find_by_slug(&mut conn, slug.as_str()).await? {
                    Some(article) => Ok(Some(with_body(&mut conn, article).await?)),
                    None => Ok(None),
                }
            },
        )
        .await?
        .ok_or(AppError::NotFound("article"))?;
    let mut views = [article];
    if let Some(viewer) = viewer {
        let mut conn = state.db.read().await?;
        personalize(&mut conn, &mut views, viewer).await?;
    }
    let [article] = views;
    Ok(article)
}

/// The most used tags, for the sidebar.
pub async fn popular_tags(state: &AppState) -> Result<Vec<String>, AppError> {
    tags(state, POPULAR_TAGS).await
}

/// All tags in use, most used first (at most 100).
pub async fn all_tags(state: &AppState) -> Result<Vec<String>, AppError> {
    tags(state, 100).await
}

async fn tags(state: &AppState, limit: i64) -> Result<Vec<String>, AppError> {
    let tags = state
        .cache
        .get_or_load(
            &cached::tags(limit),
            cached::ttl(state.cache_settings.tags_ttl_secs),
            async || {
                let mut conn = state.db.read().await?;
                Ok(Some(Tag::popular(&mut conn, limit).await?))
            },
        )
        .await?;
    Ok(tags.unwrap_or_default())
}

/// `article` with its body, author and tags, as anyone sees it.
pub(super) async fn with_body(conn: &mut Conn, article: Article) -> Result<ArticleView, AppError> {
    let body = article.body.clone();
    let body_html = article.body_html.clone();
    let mut views = decorate(conn, vec![article.into()]).await?;
    let mut view = views
        .pop()
        .ok_or_else(|| anyhow::anyhow!("article author is missing"))?;
    view.body = Some(body);
    view.body_html = body_html;
    Ok(view)
}

/// Adds authors and tags to `summaries`, in two queries.
async fn decorate(
    conn: &mut Conn,
    summaries: Vec<ArticleSummary>,
) -> Result<Vec<ArticleView>, AppError> {
    let ids: Vec<i64> = summaries.iter().map(|article| article.id).collect();
    let author_ids: Vec<i64> = summaries
        .iter()
        .map(|article| article.author_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let authors = User::find_map(conn, &author_ids).await?;
    let mut tags = Tag::for_articles(conn, &ids).await?;
    Ok(summaries
        .into_iter()
        .filter_map(|summary| {
            let author = authors.get(&summary.author_id)?;
            Some(ArticleView {
                tags: tags.remove(&summary.id).unwrap_or_default(),
                favorited: false,
                author: ProfileView::of(author, false),
                body: None,
                body_html: None,
                summary,
            })
        })
        .collect())
}

/// Sets `viewer`'s favorite and follow flags on `articles`, in two queries.
pub(super) async fn personalize(
    conn: &mut Conn,
    articles: &mut [ArticleView],
    viewer: i64,
) -> Result<(), AppError> {
    if articles.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = articles.iter().map(|article| article.summary.id).collect();
    let author_ids: Vec<i64> = articles
        .iter()
        .map(|article| article.author.id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let favorited = Favorite::favorited_among(conn, viewer, &ids).await?;
    let followed = Follow::followed_among(conn, viewer, &author_ids).await?;
    for article in articles {
        article.favorited = favorited.contains(&article.summary.id);
        article.author.following = followed.contains(&article.author.id);
    }
    Ok(())
}
