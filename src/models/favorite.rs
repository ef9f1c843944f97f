//! The `favorites` table. A trigger keeps `articles.favorites_count` in step.

use std::collections::HashSet;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::Conn;
use crate::schema::{articles, favorites};

/// A user's favorite article.
pub struct Favorite;

impl Favorite {
    /// `user` favorites `article`; favoriting twice changes nothing. The
    /// article is locked first, in the global order ([`super::lock_order`]).
    pub async fn add(conn: &mut Conn, user: i64, article: i64) -> QueryResult<()> {
        conn.transaction(async |conn| {
            super::lock_order::before_favoriting(conn, article).await?;
            diesel::insert_into(favorites::table)
                .values((
                    favorites::user_id.eq(user),
                    favorites::article_id.eq(article),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await
        })
        .await?;
        Ok(())
    }

    /// `user` no longer favorites `article` (the article locked first, as
    /// by [`Favorite::add`]).
    pub async fn remove(conn: &mut Conn, user: i64, article: i64) -> QueryResult<()> {
        conn.transaction(async |conn| {
            super::lock_order::before_favoriting(conn, article).await?;
            diesel::delete(favorites::table.find((user, article)))
                .execute(conn)
                .await
        })
        .await?;
        Ok(())
    }

    /// The slugs of the articles `user` has favorited.
    pub async fn slugs_favorited_by(conn: &mut Conn, user: i64) -> QueryResult<Vec<String>> {
        favorites::table
            .inner_join(articles::table)
            .filter(favorites::user_id.eq(user))
            .select(articles::slug)
            .load(conn)
            .await
    }

    /// Which of `articles` `user` has favorited.
    pub async fn favorited_among(
        conn: &mut Conn,
        user: i64,
        articles: &[i64],
    ) -> QueryResult<HashSet<i64>> {
        if articles.is_empty() {
            return Ok(HashSet::new());
        }
        let ids: Vec<i64> = favorites::table
            .filter(favorites::user_id.eq(user))
            .filter(favorites::article_id.eq_any(articles))
            .select(favorites::article_id)
            .load(conn)
            .await?;
        Ok(ids.into_iter().collect())
    }
}
