//! The `articles` table.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Conn;
use crate::schema::{article_tags, articles, favorites, follows, lower_text, tags, users};

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
}

/// An article as lists show it: everything but the body.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize, serde::Deserialize)]
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
}

/// Changes to an article; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = articles)]
pub struct ArticleChanges {
    pub slug: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub body: Option<String>,
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

impl ArticleFilter {
    fn query(&self) -> articles::BoxedQuery<'_, Pg> {
        let mut query = articles::table.into_boxed();
        if let Some(tag) = &self.tag {
            query = query.filter(
                articles::id.eq_any(
                    article_tags::table
                        .inner_join(tags::table)
                        .filter(tags::name.eq(tag))
                        .select(article_tags::article_id),
                ),
            );
        }
        if let Some(author) = &self.author {
            query = query.filter(
                articles::author_id.eq_any(
                    users::table
                        .filter(lower_text(users::username).eq(lower_text(author)))
                        .select(users::id),
                ),
            );
        }
        if let Some(fan) = &self.favorited_by {
            query = query.filter(
                articles::id.eq_any(
                    favorites::table
                        .inner_join(users::table)
                        .filter(lower_text(users::username).eq(lower_text(fan)))
                        .select(favorites::article_id),
                ),
            );
        }
        if let Some(reader) = self.followed_by {
            query = query.filter(
                articles::author_id.eq_any(
                    follows::table
                        .filter(follows::follower_id.eq(reader))
                        .select(follows::followee_id),
                ),
            );
        }
        query
    }
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

    /// Deletes article `id` with its tags, favorites and comments.
    pub async fn delete(conn: &mut Conn, id: i64) -> QueryResult<usize> {
        diesel::delete(articles::table.find(id)).execute(conn).await
    }

    /// One page of the articles matching `filter`, newest first.
    pub async fn list(
        conn: &mut Conn,
        filter: &ArticleFilter,
        limit: i64,
        offset: i64,
    ) -> QueryResult<Vec<ArticleSummary>> {
        filter
            .query()
            .order((articles::created_at.desc(), articles::id.desc()))
            .limit(limit)
            .offset(offset)
            .select(ArticleSummary::as_select())
            .load(conn)
            .await
    }

    /// The slugs of every article by `author`.
    pub async fn slugs_by_author(conn: &mut Conn, author: i64) -> QueryResult<Vec<(i64, String)>> {
        articles::table
            .filter(articles::author_id.eq(author))
            .select((articles::id, articles::slug))
            .load(conn)
            .await
    }

    /// How many articles match `filter`. A tag alone is answered from the
    /// tag's counter instead of counting its articles one by one.
    pub async fn count(conn: &mut Conn, filter: &ArticleFilter) -> QueryResult<i64> {
        if let ArticleFilter {
            tag: Some(tag),
            author: None,
            favorited_by: None,
            followed_by: None,
        } = filter
        {
            let counted: Option<i32> = tags::table
                .filter(tags::name.eq(tag))
                .select(tags::articles_count)
                .first(conn)
                .await
                .optional()?;
            return Ok(counted.map_or(0, i64::from));
        }
        filter.query().count().get_result(conn).await
    }
}
