//! Comments on articles.

use std::collections::{HashMap, HashSet};

use crate::domain::comment::CommentBody;
use crate::error::AppError;
use crate::models::{Comment, Conn, Follow, NewComment, User};
use crate::state::AppState;

use super::articles::find;
use super::{CommentView, ProfileView};

/// The comments on the article at `slug`, oldest first, as `viewer` sees them.
pub async fn list(
    state: &AppState,
    slug: &str,
    viewer: Option<i64>,
) -> Result<Vec<CommentView>, AppError> {
    let mut conn = state.db.read().await?;
    let article = find(&mut conn, slug).await?;
    load(&mut conn, article.id, viewer).await
}

/// The comments on article `article`, oldest first, as `viewer` sees them.
pub async fn list_for_article(
    state: &AppState,
    article: i64,
    viewer: Option<i64>,
) -> Result<Vec<CommentView>, AppError> {
    let mut conn = state.db.read().await?;
    load(&mut conn, article, viewer).await
}

/// Comments with their authors and the viewer's follow flags: three queries.
async fn load(
    conn: &mut Conn,
    article: i64,
    viewer: Option<i64>,
) -> Result<Vec<CommentView>, AppError> {
    let comments = Comment::for_article(conn, article).await?;
    let author_ids: Vec<i64> = comments
        .iter()
        .map(|comment| comment.author_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let authors: HashMap<i64, User> = User::find_many(conn, &author_ids)
        .await?
        .into_iter()
        .map(|user| (user.id, user))
        .collect();
    let followed = match viewer {
        Some(viewer) => Follow::followed_among(conn, viewer, &author_ids).await?,
        None => HashSet::new(),
    };
    Ok(comments
        .into_iter()
        .filter_map(|comment| {
            let author = authors.get(&comment.author_id)?;
            let profile = ProfileView::of(author, followed.contains(&author.id));
            Some(CommentView::of(comment, profile))
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
    let comment = Comment::create(&mut conn, new).await?;
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
    Ok(())
}
