//! The `tags` and `article_tags` tables. A trigger keeps `tags.articles_count`
//! in step, so popular tags are an index scan.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Conn;
use crate::schema::{article_tags, tags};

/// A tag.
pub struct Tag;

impl Tag {
    /// The `limit` most used tags, most used first.
    pub async fn popular(conn: &mut Conn, limit: i64) -> QueryResult<Vec<String>> {
        tags::table
            .filter(tags::articles_count.gt(0))
            .order((tags::articles_count.desc(), tags::name.asc()))
            .limit(limit)
            .select(tags::name)
            .load(conn)
            .await
    }

    /// Replaces the tags of `article` with `names` (sorted by name), taking
    /// the tags' locks in the global order ([`super::lock_order`]).
    pub async fn set_for_article(
        conn: &mut Conn,
        article: i64,
        names: &[String],
    ) -> QueryResult<()> {
        if names.is_empty() {
            super::lock_order::before_retagging(conn, article, &[]).await?;
            diesel::delete(article_tags::table.filter(article_tags::article_id.eq(article)))
                .execute(conn)
                .await?;
            return Ok(());
        }
        let new_tags: Vec<_> = names.iter().map(|name| tags::name.eq(name)).collect();
        diesel::insert_into(tags::table)
            .values(new_tags)
            .on_conflict(tags::name)
            .do_nothing()
            .execute(conn)
            .await?;
        let ids: HashMap<String, i64> = tags::table
            .filter(tags::name.eq_any(names))
            .select((tags::name, tags::id))
            .load::<(String, i64)>(conn)
            .await?
            .into_iter()
            .collect();
        let mut links: Vec<(i64, i16)> = names
            .iter()
            .enumerate()
            .filter_map(|(position, name)| {
                Some((*ids.get(name)?, i16::try_from(position).unwrap_or(i16::MAX)))
            })
            .collect();
        // Counters are updated row by row in insertion order: by id, as the
        // lock order wants.
        links.sort_unstable();
        let tag_ids: Vec<i64> = links.iter().map(|(tag, _)| *tag).collect();
        super::lock_order::before_retagging(conn, article, &tag_ids).await?;
        diesel::delete(article_tags::table.filter(article_tags::article_id.eq(article)))
            .execute(conn)
            .await?;
        let links: Vec<_> = links
            .into_iter()
            .map(|(tag, position)| {
                (
                    article_tags::article_id.eq(article),
                    article_tags::tag_id.eq(tag),
                    article_tags::position.eq(position),
                )
            })
            .collect();
        diesel::insert_into(article_tags::table)
            .values(links)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// The tags of each of `articles`, sorted by name.
    pub async fn for_articles(
        conn: &mut Conn,
        articles: &[i64],
    ) -> QueryResult<HashMap<i64, Vec<String>>> {
        if articles.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<(i64, String)> = article_tags::table
            .inner_join(tags::table)
            .filter(article_tags::article_id.eq_any(articles))
            .order((article_tags::article_id, tags::name))
            .select((article_tags::article_id, tags::name))
            .load(conn)
            .await?;
        let mut by_article: HashMap<i64, Vec<String>> = HashMap::new();
        for (article, name) in rows {
            by_article.entry(article).or_default().push(name);
        }
        Ok(by_article)
    }
}
