//! Lists of articles and their sizes, at a cost that does not grow with the
//! site.
//!
//! Every list walks one index in the order it is shown, starting from the
//! narrowest thing the filter names: an author's articles, someone's
//! favorites, a tag's articles, or every article. Each of those indexes
//! carries the article's time, so a page is found without sorting, and the
//! API's `offset` skips along the index alone (an index-only walk) before
//! the articles themselves are read. The feed reads the keys of the newest
//! few of each followed author (so its offset is bounded lower: see
//! [`crate::domain::paging::Window::MAX_FEED_OFFSET`]). Sizes come from counters that triggers keep in the same
//! transaction as the writes (see the migrations); only a combination of
//! filters is counted by walking, and then only the narrowest one's rows.

use diesel::pg::Pg;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Text, Timestamptz};
use diesel_async::RunQueryDsl;

use super::article::{ArticleFilter, ArticleSummary};
use super::{Conn, Count};
use crate::domain::paging::{Cursor, Position};

/// The columns of [`ArticleSummary`], from the articles aliased `a`.
const SUMMARY: &str = "a.id, a.slug, a.author_id, a.title, a.description, a.favorites_count, a.created_at, a.updated_at";

/// A value bound to a placeholder.
enum Bind {
    Text(String),
    Int(i64),
    Time(chrono::DateTime<chrono::Utc>),
}

/// SQL text and the values of its placeholders, in order.
#[derive(Default)]
struct Sql {
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    /// A placeholder for `value`.
    fn bind(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    fn query(self) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
        let mut query = diesel::sql_query(self.text).into_boxed::<Pg>();
        for value in self.binds {
            query = match value {
                Bind::Text(text) => query.bind::<Text, _>(text),
                Bind::Int(int) => query.bind::<BigInt, _>(int),
                Bind::Time(time) => query.bind::<Timestamptz, _>(time),
            };
        }
        query
    }
}

/// Where a list is read from: a table, the condition that picks the
/// filter's rows, and the columns it is ordered by (time, article id).
struct Driver {
    from: &'static str,
    condition: String,
    at: &'static str,
    article: &'static str,
}

impl Driver {
    /// The narrowest index `filter` allows, and the conditions left for the
    /// other filters it names.
    fn choose(filter: &ArticleFilter, sql: &mut Sql) -> (Self, Vec<String>) {
        let mut rest = Vec::new();
        let driver = if let Some(author) = &filter.author {
            Self {
                from: "articles a",
                condition: format!("a.author_id = {}", user_id(sql, author)),
                at: "a.created_at",
                article: "a.id",
            }
        } else if let Some(fan) = &filter.favorited_by {
            Self {
                from: "favorites d",
                condition: format!("d.user_id = {}", user_id(sql, fan)),
                at: "d.article_created_at",
                article: "d.article_id",
            }
        } else if let Some(tag) = &filter.tag {
            Self {
                from: "article_tags d",
                condition: format!("d.tag_id = {}", tag_id(sql, tag)),
                at: "d.created_at",
                article: "d.article_id",
            }
        } else {
            Self {
                from: "articles a",
                condition: "TRUE".to_string(),
                at: "a.created_at",
                article: "a.id",
            }
        };
        // The author drives whenever one is named, so an author is never
        // left over; favorites are, under an author; a tag is, under either.
        let article = driver.article;
        if let Some(fan) = &filter.favorited_by
            && filter.author.is_some()
        {
            rest.push(favorited_by(sql, article, fan));
        }
        if let Some(tag) = &filter.tag
            && (filter.author.is_some() || filter.favorited_by.is_some())
        {
            rest.push(format!(
                "EXISTS (SELECT 1 FROM article_tags t WHERE t.article_id = {article} AND t.tag_id = {})",
                tag_id(sql, tag)
            ));
        }
        (driver, rest)
    }
}

fn user_id(sql: &mut Sql, username: &str) -> String {
    format!(
        "(SELECT id FROM users WHERE lower(username) = lower({}))",
        sql.bind(Bind::Text(username.to_string()))
    )
}

fn tag_id(sql: &mut Sql, tag: &str) -> String {
    format!(
        "(SELECT id FROM tags WHERE name = {})",
        sql.bind(Bind::Text(tag.to_string()))
    )
}

fn favorited_by(sql: &mut Sql, article: &str, fan: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM favorites v WHERE v.article_id = {article} AND v.user_id = {})",
        user_id(sql, fan)
    )
}

/// `(at, id) < cursor` (or `>`), in the form that walks an index.
fn beyond(sql: &mut Sql, at: &str, article: &str, position: Position) -> Option<String> {
    let (cursor, op): (Cursor, &str) = match position {
        Position::Offset(_) => return None,
        Position::Older(cursor) => (cursor, "<"),
        Position::Newer(cursor) => (cursor, ">"),
    };
    let time = sql.bind(Bind::Time(cursor.at));
    let id = sql.bind(Bind::Int(cursor.id));
    Some(format!("({at}, {article}) {op} ({time}, {id})"))
}

/// One page of the articles matching `filter`, newest first.
pub async fn list(
    conn: &mut Conn,
    filter: &ArticleFilter,
    limit: i64,
    position: Position,
) -> diesel::QueryResult<Vec<ArticleSummary>> {
    let sql = match filter.followed_by {
        Some(reader) => feed_sql(filter, reader, limit, position),
        None => list_sql(filter, limit, position),
    };
    let mut rows: Vec<ArticleSummary> = sql.query().load(conn).await?;
    if matches!(position, Position::Newer(_)) {
        rows.reverse();
    }
    Ok(rows)
}

/// Newest first, except when reading newer items: then oldest first (the
/// caller turns them round), so the walk starts at the cursor.
fn direction(position: Position) -> &'static str {
    match position {
        Position::Newer(_) => "ASC",
        _ => "DESC",
    }
}

fn list_sql(filter: &ArticleFilter, limit: i64, position: Position) -> Sql {
    let mut sql = Sql::default();
    let (driver, mut conditions) = Driver::choose(filter, &mut sql);
    conditions.insert(0, driver.condition.clone());
    if let Some(beyond) = beyond(&mut sql, driver.at, driver.article, position) {
        conditions.push(beyond);
    }
    let dir = direction(position);
    let limit = sql.bind(Bind::Int(limit));
    let offset = match position {
        Position::Offset(offset) if offset > 0 => {
            format!(" OFFSET {}", sql.bind(Bind::Int(offset)))
        }
        _ => String::new(),
    };
    // The page's keys first, from the index alone; then its articles.
    sql.text = format!(
        "SELECT {SUMMARY} FROM (SELECT {at} AS k_at, {article} AS k_id FROM {from} WHERE {conditions} \
         ORDER BY {at} {dir}, {article} {dir} LIMIT {limit}{offset}) k \
         JOIN articles a ON a.id = k.k_id ORDER BY k.k_at {dir}, k.k_id {dir}",
        at = driver.at,
        article = driver.article,
        from = driver.from,
        conditions = conditions.join(" AND "),
    );
    sql
}

fn feed_sql(filter: &ArticleFilter, reader: i64, limit: i64, position: Position) -> Sql {
    let mut sql = Sql::default();
    let unfiltered = ArticleFilter {
        followed_by: None,
        ..filter.clone()
    };
    let mut conditions = vec!["x.author_id = f.followee_id".to_string()];
    if let Some(tag) = &unfiltered.tag {
        conditions.push(format!(
            "EXISTS (SELECT 1 FROM article_tags t WHERE t.article_id = x.id AND t.tag_id = {})",
            tag_id(&mut sql, tag)
        ));
    }
    if let Some(author) = &unfiltered.author {
        conditions.push(format!("x.author_id = {}", user_id(&mut sql, author)));
    }
    if let Some(fan) = &unfiltered.favorited_by {
        conditions.push(favorited_by(&mut sql, "x.id", fan));
    }
    if let Some(beyond) = beyond(&mut sql, "x.created_at", "x.id", position) {
        conditions.push(beyond);
    }
    let dir = direction(position);
    let (each, offset) = match position {
        Position::Offset(offset) if offset > 0 => (
            sql.bind(Bind::Int(limit + offset)),
            format!(" OFFSET {}", sql.bind(Bind::Int(offset))),
        ),
        _ => (sql.bind(Bind::Int(limit)), String::new()),
    };
    let reader = sql.bind(Bind::Int(reader));
    let limit = sql.bind(Bind::Int(limit));
    // The keys of each followed author's newest few (from the index alone),
    // the newest of those, then their articles.
    sql.text = format!(
        "SELECT {SUMMARY} FROM (SELECT k.created_at AS k_at, k.id AS k_id FROM follows f \
         CROSS JOIN LATERAL (SELECT x.created_at, x.id FROM articles x WHERE {conditions} \
         ORDER BY x.created_at {dir}, x.id {dir} LIMIT {each}) k \
         WHERE f.follower_id = {reader} ORDER BY k.created_at {dir}, k.id {dir} LIMIT {limit}{offset}) p \
         JOIN articles a ON a.id = p.k_id ORDER BY p.k_at {dir}, p.k_id {dir}",
        conditions = conditions.join(" AND "),
    );
    sql
}

/// How many articles match `filter`, from the counters where one filter
/// (or none) is given.
pub async fn count(conn: &mut Conn, filter: &ArticleFilter) -> diesel::QueryResult<i64> {
    let mut sql = Sql::default();
    sql.text = match filter {
        ArticleFilter {
            tag: None,
            author: None,
            favorited_by: None,
            followed_by: None,
        } => "SELECT COALESCE(sum(articles), 0)::int8 AS n FROM article_counts".to_string(),
        ArticleFilter {
            tag: Some(tag),
            author: None,
            favorited_by: None,
            followed_by: None,
        } => format!(
            "SELECT COALESCE((SELECT articles_count FROM tags WHERE name = {}), 0)::int8 AS n",
            sql.bind(Bind::Text(tag.clone()))
        ),
        ArticleFilter {
            tag: None,
            author: Some(author),
            favorited_by: None,
            followed_by: None,
        } => format!(
            "SELECT COALESCE((SELECT articles_count FROM users WHERE lower(username) = lower({})), 0)::int8 AS n",
            sql.bind(Bind::Text(author.clone()))
        ),
        ArticleFilter {
            tag: None,
            author: None,
            favorited_by: Some(fan),
            followed_by: None,
        } => format!(
            "SELECT COALESCE((SELECT favorites_count FROM users WHERE lower(username) = lower({})), 0)::int8 AS n",
            sql.bind(Bind::Text(fan.clone()))
        ),
        ArticleFilter {
            tag: None,
            author: None,
            favorited_by: None,
            followed_by: Some(reader),
        } => format!(
            "SELECT COALESCE(sum(u.articles_count), 0)::int8 AS n FROM follows f \
             JOIN users u ON u.id = f.followee_id WHERE f.follower_id = {}",
            sql.bind(Bind::Int(*reader))
        ),
        ArticleFilter {
            followed_by: Some(reader),
            ..
        } => {
            let feed = feed_sql(filter, *reader, i64::MAX / 2, Position::Offset(0));
            sql = feed;
            sql.text = format!("SELECT count(*) AS n FROM ({}) page", sql.text);
            sql.text.clone()
        }
        _ => {
            let (driver, mut conditions) = Driver::choose(filter, &mut sql);
            conditions.insert(0, driver.condition.clone());
            format!(
                "SELECT count(*) AS n FROM {} WHERE {}",
                driver.from,
                conditions.join(" AND ")
            )
        }
    };
    let counted: Count = sql.query().get_result(conn).await?;
    Ok(counted.n)
}
