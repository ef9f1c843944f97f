//! The `articles` table.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::Conn;
use crate::domain::paging::Position;
use crate::schema::articles;

/// An article with its body.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = articles, check_for_backend(Pg))]
pub struct Article {
    pub id: i64,
    pub slug: String,
    pub author_id: i64,
    pub title: String,
    pub description: String,
    pub body: String,
    pub favorites_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The body rendered to sanitized HTML when it was written; `None` for
    /// articles written before that was stored.
    pub body_html: Option<String>,
}

/// An article as lists show it: everything but the body.
#[derive(
    Debug, Clone, Queryable, QueryableByName, Selectable, serde::Serialize, serde::Deserialize,
)]
#[diesel(table_name = articles, check_for_backend(Pg))]
pub struct ArticleSummary {
    pub id: i64,
    pub slug: String,
    pub author_id: i64,
    pub title: String,
    pub description: String,
    pub favorites_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Article> for ArticleSummary {
    fn from(article: Article) -> Self {
        Self {
            id: article.id,
            slug: article.slug,
            author_id: article.author_id,
            title: article.title,
            description: article.description,
            favorites_count: article.favorites_count,
            created_at: article.created_at,
            updated_at: article.updated_at,
        }
    }
}

/// A new article.
#[derive(Debug, Insertable)]
#[diesel(table_name = articles)]
pub struct NewArticle<'a> {
    pub slug: &'a str,
    pub author_id: i64,
    pub title: &'a str,
    pub description: &'a str,
    pub body: &'a str,
    pub body_html: &'a str,
}

/// Changes to an article; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = articles)]
pub struct ArticleChanges {
    pub slug: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub body: Option<String>,
    pub body_html: Option<String>,
}

/// Which articles a list shows. Filters combine; none means every article.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ArticleFilter {
    /// Articles carrying this tag.
    pub tag: Option<String>,
    /// Articles written by this username.
    pub author: Option<String>,
    /// Articles favorited by this username.
    pub favorited_by: Option<String>,
    /// Articles by the authors this user id follows (the feed).
    pub followed_by: Option<i64>,
}

impl Article {
    /// The article at `slug`.
    pub async fn find_by_slug(conn: &mut Conn, slug: &str) -> QueryResult<Option<Article>> {
        articles::table
            .filter(articles::slug.eq(slug))
            .select(Article::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Creates an article.
    pub async fn create(conn: &mut Conn, new: NewArticle<'_>) -> QueryResult<Article> {
        diesel::insert_into(articles::table)
            .values(new)
            .returning(Article::as_returning())
            .get_result(conn)
            .await
    }

    /// Applies `changes` to article `id` and returns the result.
    pub async fn update(conn: &mut Conn, id: i64, changes: ArticleChanges) -> QueryResult<Article> {
        diesel::update(articles::table.find(id))
            .set((changes, articles::updated_at.eq(diesel::dsl::now)))
            .returning(Article::as_returning())
            .get_result(conn)
            .await
    }

    /// Deletes article `id` with its tags, favorites and comments, taking
    /// its locks in the global order ([`super::lock_order`]).
    pub async fn delete(conn: &mut Conn, id: i64) -> QueryResult<usize> {
        conn.transaction(async |conn| {
            super::lock_order::before_deleting_articles(conn, &[id]).await?;
            diesel::delete(articles::table.find(id)).execute(conn).await
        })
        .await
    }

    /// One page of the articles matching `filter`, newest first (see
    /// [`super::article_list`]).
    pub async fn list(
        conn: &mut Conn,
        filter: &ArticleFilter,
        limit: i64,
        position: Position,
    ) -> QueryResult<Vec<ArticleSummary>> {
        super::article_list::list(conn, filter, limit, position).await
    }

    /// The slugs of every article by `author`.
    pub async fn slugs_by_author(conn: &mut Conn, author: i64) -> QueryResult<Vec<(i64, String)>> {
        articles::table
            .filter(articles::author_id.eq(author))
            .select((articles::id, articles::slug))
            .load(conn)
            .await
    }

    /// How many articles match `filter`, read from counters.
    pub async fn count(conn: &mut Conn, filter: &ArticleFilter) -> QueryResult<i64> {
        super::article_list::count(conn, filter).await
    }
}
