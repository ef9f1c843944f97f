//! The `comments` table.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Conn;
use crate::schema::comments;

/// A comment on an article.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = comments, check_for_backend(Pg))]
pub struct Comment {
    pub id: i64,
    pub article_id: i64,
    pub author_id: i64,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A new comment.
#[derive(Debug, Insertable)]
#[diesel(table_name = comments)]
pub struct NewComment<'a> {
    pub article_id: i64,
    pub author_id: i64,
    pub body: &'a str,
}

impl Comment {
    /// Comments on `article`, oldest first (the order of the conversation).
    pub async fn for_article(conn: &mut Conn, article: i64) -> QueryResult<Vec<Comment>> {
        comments::table
            .filter(comments::article_id.eq(article))
            .order(comments::id.asc())
            .limit(1000)
            .select(Comment::as_select())
            .load(conn)
            .await
    }

    /// Comment `id` on `article`.
    pub async fn find(conn: &mut Conn, article: i64, id: i64) -> QueryResult<Option<Comment>> {
        comments::table
            .filter(comments::id.eq(id))
            .filter(comments::article_id.eq(article))
            .select(Comment::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// The articles `author` has commented on.
    pub async fn article_ids_by_author(conn: &mut Conn, author: i64) -> QueryResult<Vec<i64>> {
        comments::table
            .filter(comments::author_id.eq(author))
            .select(comments::article_id)
            .distinct()
            .load(conn)
            .await
    }

    /// Creates a comment.
    pub async fn create(conn: &mut Conn, new: NewComment<'_>) -> QueryResult<Comment> {
        diesel::insert_into(comments::table)
            .values(new)
            .returning(Comment::as_returning())
            .get_result(conn)
            .await
    }

    /// Deletes comment `id`.
    pub async fn delete(conn: &mut Conn, id: i64) -> QueryResult<usize> {
        diesel::delete(comments::table.find(id)).execute(conn).await
    }
}
