//! Comments on articles. With the cache tier, a thread is cached as everyone
//! sees it; only whom the viewer follows is looked up per request.

use std::collections::HashSet;

use crate::domain::comment::CommentBody;
use crate::error::AppError;
use crate::models::{Comment, Conn, Follow, NewComment, User};
use crate::state::AppState;
use crate::tiers::cache::Invalidation;

use super::articles::find;
use super::{CommentView, ProfileView, cached};

/// The comments on the article at `slug`, oldest first, as `viewer` sees them.
pub async fn list(
    state: &AppState,
    slug: &str,
    viewer: Option<i64>,
) -> Result<Vec<CommentView>, AppError> {
    let article = {
        let mut conn = state.db.read().await?;
        find(&mut conn, slug).await?
    };
    list_for_article(state, article.id, viewer).await
}

/// The comments on article `article`, oldest first, as `viewer` sees them.
pub async fn list_for_article(
    state: &AppState,
    article: i64,
    viewer: Option<i64>,
) -> Result<Vec<CommentView>, AppError> {
    let mut comments = state
        .cache
        .get_or_load(
            &cached::comments(article),
            cached::ttl(state.cache_settings.comments_ttl_secs),
            async || {
                let mut conn = state.db.read().await?;
                Ok(Some(load(&mut conn, article).await?))
            },
        )
        .await?
        .unwrap_or_default();
    if let Some(viewer) = viewer
        && !comments.is_empty()
    {
        let authors: Vec<i64> = comments
            .iter()
            .map(|comment| comment.author.id)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut conn = state.db.read().await?;
        let followed = Follow::followed_among(&mut conn, viewer, &authors).await?;
        for comment in &mut comments {
            comment.author.following = followed.contains(&comment.author.id);
        }
    }
    Ok(comments)
}

/// Comments with their authors, as anyone sees them: two queries.
async fn load(conn: &mut Conn, article: i64) -> Result<Vec<CommentView>, AppError> {
    let comments = Comment::for_article(conn, article).await?;
    let author_ids: Vec<i64> = comments
        .iter()
        .map(|comment| comment.author_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let authors = User::find_map(conn, &author_ids).await?;
    Ok(comments
        .into_iter()
        .filter_map(|comment| {
            let author = authors.get(&comment.author_id)?;
            Some(CommentView::of(comment, ProfileView::of(author, false)))
        })
        .collect())
}

/// `author` comments on the article at `slug`.
#[tracing::instrument(skip_all, fields(author = author.id, slug))]
pub async fn add(
    state: &AppState,
    author: &User,
    slug: &str,
    body: &str,
) -> Result<CommentView, AppError> {
    let body = CommentBody::parse(body).map_err(|message| AppError::invalid("body", message))?;
    let mut conn = state.db.write().await?;
    let article = find(&mut conn, slug).await?;
    let new = NewComment {
        article_id: article.id,
        author_id: author.id,
        body: &body.into_inner(),
    };
    // The article may be deleted between the lookup and the insert.
    let comment = Comment::create(&mut conn, new)
        .await
        .map_err(super::unless_gone("article"))?;
    forget_thread(state, article.id).await;
    Ok(CommentView::of(comment, ProfileView::of(author, false)))
}

/// `user` deletes their comment `id` on the article at `slug`.
#[tracing::instrument(skip(state))]
pub async fn delete(state: &AppState, user: i64, slug: &str, id: i64) -> Result<(), AppError> {
    let mut conn = state.db.write().await?;
    let article = find(&mut conn, slug).await?;
    let comment = Comment::find(&mut conn, article.id, id)
        .await?
        .ok_or(AppError::NotFound("comment"))?;
    if comment.author_id != user {
        return Err(AppError::Forbidden("delete someone else's comment"));
    }
    Comment::delete(&mut conn, comment.id).await?;
    forget_thread(state, article.id).await;
    Ok(())
}

async fn forget_thread(state: &AppState, article: i64) {
    state
        .cache
        .invalidate(Invalidation {
            keys: vec![cached::comments(article)],
            generations: Vec::new(),
        })
        .await;
}
