//! Row locks taken in one global order before writes whose triggers update
//! counters on several rows.
//!
//! Deleting an article decrements its fans' and author's counters, the
//! site's article count and its tags' counts; deleting an account does that
//! for each of its articles and favorites. Left to the cascades, two such
//! transactions lock the same rows in different orders and deadlock. So
//! every writer locks in this order: articles, then users, then its shard of
//! the article count, then tags, each kind by ascending id. Publishing
//! touches rows in that order by itself (the new article, then the author,
//! then the count, then the tags, inserted by id); favoriting and following
//! lock the article, or both people, before they touch the link between
//! them, whose foreign keys and triggers would otherwise lock them the
//! other way round.

use diesel::sql_types::{Array, BigInt};
use diesel_async::RunQueryDsl;

use super::Conn;

/// Locks this connection's shard of the site's article count.
async fn shard(conn: &mut Conn) -> diesel::QueryResult<()> {
    diesel::sql_query(SHARD).execute(conn).await.map(|_| ())
}

async fn lock(conn: &mut Conn, sql: &str, ids: &[i64]) -> diesel::QueryResult<()> {
    diesel::sql_query(sql)
        .bind::<Array<BigInt>, _>(ids)
        .execute(conn)
        .await
        .map(|_| ())
}

const SHARD: &str =
    "SELECT 1 FROM article_counts WHERE shard = pg_backend_pid() % 16 FOR NO KEY UPDATE";

/// Locks what deleting `articles` will change.
pub async fn before_deleting_articles(
    conn: &mut Conn,
    articles: &[i64],
) -> diesel::QueryResult<()> {
    lock(
        conn,
        "SELECT 1 FROM articles WHERE id = ANY($1) ORDER BY id FOR UPDATE",
        articles,
    )
    .await?;
    lock(
        conn,
        "SELECT 1 FROM users WHERE id IN \
         (SELECT user_id FROM favorites WHERE article_id = ANY($1) \
          UNION SELECT author_id FROM articles WHERE id = ANY($1)) \
         ORDER BY id FOR NO KEY UPDATE",
        articles,
    )
    .await?;
    shard(conn).await?;
    lock(
        conn,
        "SELECT 1 FROM tags WHERE id IN (SELECT tag_id FROM article_tags WHERE article_id = ANY($1)) \
         ORDER BY id FOR NO KEY UPDATE",
        articles,
    )
    .await
}

/// Locks what deleting account `user` will change: its articles and the
/// articles it favorited, then itself, its articles' fans and the people it
/// follows or is followed by, then the count, then its articles' tags.
pub async fn before_deleting_user(conn: &mut Conn, user: i64) -> diesel::QueryResult<()> {
    let user = [user];
    lock(
        conn,
        "SELECT 1 FROM articles WHERE id IN \
         (SELECT id FROM articles WHERE author_id = ANY($1) \
          UNION SELECT article_id FROM favorites WHERE user_id = ANY($1)) \
         ORDER BY id FOR UPDATE",
        &user,
    )
    .await?;
    lock(
        conn,
        "SELECT 1 FROM users WHERE id IN \
         (SELECT unnest($1::int8[]) \
          UNION SELECT f.user_id FROM favorites f JOIN articles a ON a.id = f.article_id \
          WHERE a.author_id = ANY($1) \
          UNION SELECT followee_id FROM follows WHERE follower_id = ANY($1) \
          UNION SELECT follower_id FROM follows WHERE followee_id = ANY($1)) \
         ORDER BY id FOR NO KEY UPDATE",
        &user,
    )
    .await?;
    shard(conn).await?;
    lock(
        conn,
        "SELECT 1 FROM tags WHERE id IN (SELECT t.tag_id FROM article_tags t \
         JOIN articles a ON a.id = t.article_id WHERE a.author_id = ANY($1)) \
         ORDER BY id FOR NO KEY UPDATE",
        &user,
    )
    .await
}

/// Locks the article a favorite is about to be added to or taken from.
pub async fn before_favoriting(conn: &mut Conn, article: i64) -> diesel::QueryResult<()> {
    lock(
        conn,
        "SELECT 1 FROM articles WHERE id = ANY($1) FOR NO KEY UPDATE",
        &[article],
    )
    .await
}

/// Locks the two people a follow is about to link or unlink, by id.
pub async fn before_following(conn: &mut Conn, people: [i64; 2]) -> diesel::QueryResult<()> {
    lock(
        conn,
        "SELECT 1 FROM users WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
        &people,
    )
    .await
}

/// Locks the tags an article had (`article`) and will have (`tags`).
pub async fn before_retagging(
    conn: &mut Conn,
    article: i64,
    tags: &[i64],
) -> diesel::QueryResult<()> {
    diesel::sql_query(
        "SELECT 1 FROM tags WHERE id IN \
         (SELECT tag_id FROM article_tags WHERE article_id = $1 UNION SELECT unnest($2::int8[])) \
         ORDER BY id FOR NO KEY UPDATE",
    )
    .bind::<BigInt, _>(article)
    .bind::<Array<BigInt>, _>(tags)
    .execute(conn)
    .await
    .map(|_| ())
}
