//! `million seed`: generated users, articles, tags, follows, favorites and
//! comments, streamed into PostgreSQL with binary `COPY` in one transaction.
//!
//! Popularity is skewed the way real sites are: a few authors write much and
//! are followed by many, a few articles collect most favorites and comments.
//! Every seeded account's password is `password`; on an empty database the
//! first account is `demo` (demo@example.com).

mod text;

use std::collections::HashSet;
use std::pin::pin;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio_postgres::Transaction;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use text::{TAGS, TextPools, username};

/// The password of every seeded account.
pub const PASSWORD: &str = "password";

/// How much to generate.
#[derive(Debug, Clone)]
pub struct Plan {
    pub users: u64,
    pub articles: u64,
    /// Average accounts each user follows.
    pub follows_per_user: f64,
    /// Average articles each user favorites.
    pub favorites_per_user: f64,
    /// Average comments per article.
    pub comments_per_article: f64,
}

impl Plan {
    /// `users` users and `articles` articles with the usual activity around them.
    pub fn new(users: u64, articles: u64) -> Self {
        Self {
            users,
            articles,
            follows_per_user: 5.0,
            favorites_per_user: 3.0,
            comments_per_article: 1.0,
        }
    }

    /// The small data set `make run` starts with.
    pub fn demo() -> Self {
        Self::new(60, 240)
    }
}

/// Seeds the database at `conninfo` according to `plan`; with `if_empty`, only
/// when it has no users yet.
pub async fn run(conninfo: &str, plan: &Plan, if_empty: bool) -> anyhow::Result<()> {
    let mut client = crate::db::connect::Target::parse(conninfo)?
        .client()
        .await
        .context("connecting to the database to seed it")?;
    let existing: i64 = client
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .context("counting users (has the database been migrated?)")?
        .get(0);
    if if_empty && existing > 0 {
        tracing::info!("the database already has {existing} users: not seeding");
        return Ok(());
    }
    if plan.users == 0 {
        anyhow::bail!("--users must be at least 1");
    }
    let started = Instant::now();
    eprintln!(
        "Seeding {} users and {} articles (password for every account: `{PASSWORD}`)…",
        plan.users, plan.articles
    );
    let mut rng = StdRng::seed_from_u64(0x6d69_6c6c ^ existing as u64);
    let pools = TextPools::new(&mut rng);
    let password_hash = tokio::task::spawn_blocking(|| {
        crate::auth::password::hash_phc(PASSWORD.as_bytes()).context("hashing the seed password")
    })
    .await??;

    let tx = client.transaction().await?;
    // A superuser can skip the foreign-key checks: every reference is made here.
    let superuser: bool = tx
        .query_one(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await?
        .get(0);
    if superuser {
        tx.batch_execute("SET LOCAL session_replication_role = replica")
            .await?;
    }
    // Counters are recomputed once at the end instead of row by row, and
    // the times the taggings and favorites carry are written with them.
    tx.batch_execute(
        "SET LOCAL synchronous_commit = off;
         ALTER TABLE articles DISABLE TRIGGER articles_count;
         ALTER TABLE follows DISABLE TRIGGER follows_count;
         ALTER TABLE favorites DISABLE TRIGGER favorites_count;
         ALTER TABLE favorites DISABLE TRIGGER favorites_time;
         ALTER TABLE article_tags DISABLE TRIGGER tags_count;
         ALTER TABLE article_tags DISABLE TRIGGER article_tags_time;",
    )
    .await?;
    let mut seeder = Seeder {
        tx: &tx,
        rng,
        pools,
        now: Utc::now(),
    };
    let users = seeder.users(plan, existing == 0, &password_hash).await?;
    let articles = seeder.plan_articles(plan, &users).await?;
    let favorites = seeder.plan_favorites(plan, &users, &articles);
    seeder.articles(&articles, &favorites).await?;
    seeder.tags(&articles).await?;
    seeder.follows(plan, &users).await?;
    seeder.favorites(&favorites, &articles).await?;
    seeder.comments(plan, &users, &articles).await?;

    let step = Step::start("counters", 0);
    tx.batch_execute(
        "SELECT recount_list_counters();
         SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users));
         SELECT setval(pg_get_serial_sequence('articles', 'id'), (SELECT max(id) FROM articles));
         SELECT setval(pg_get_serial_sequence('comments', 'id'), GREATEST((SELECT max(id) FROM comments), 1));
         ALTER TABLE articles ENABLE TRIGGER articles_count;
         ALTER TABLE follows ENABLE TRIGGER follows_count;
         ALTER TABLE favorites ENABLE TRIGGER favorites_count;
         ALTER TABLE favorites ENABLE TRIGGER favorites_time;
         ALTER TABLE article_tags ENABLE TRIGGER tags_count;
         ALTER TABLE article_tags ENABLE TRIGGER article_tags_time;",
    )
    .await?;
    tx.commit().await.context("committing the seed data")?;
    step.finish(0);
    // Statistics for the planner, and a visibility map so counts can use index-only scans.
    let step = Step::start("vacuum", 0);
    client.batch_execute("VACUUM (ANALYZE)").await?;
    step.finish(0);
    drop(client);
    eprintln!(
        "Seeded in {:.1}s. Sign in as demo@example.com (or any seeded email) with password `{PASSWORD}`.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A seeded user: id and sign-up time.
struct SeededUser {
    id: i64,
    created_at: DateTime<Utc>,
}

/// A seeded article: id, author and publication time.
struct SeededArticle {
    id: i64,
    author_id: i64,
    created_at: DateTime<Utc>,
}

/// A planned favorite: who, which article (by index), when.
struct SeededFavorite {
    user_id: i64,
    article: usize,
    at: DateTime<Utc>,
}

struct Seeder<'a> {
    tx: &'a Transaction<'a>,
    rng: StdRng,
    pools: TextPools,
    now: DateTime<Utc>,
}

impl Seeder<'_> {
    async fn next_id(&self, table: &str) -> anyhow::Result<i64> {
        let row = self
            .tx
            .query_one(
                &format!("SELECT COALESCE(max(id), 0) + 1 FROM {table}"),
                &[],
            )
            .await?;
        Ok(row.get(0))
    }

    /// A moment between `from` and now, later for larger `fraction`s.
    fn moment(&mut self, from: DateTime<Utc>, fraction: f64) -> DateTime<Utc> {
        let span = (self.now - from).num_seconds().max(1) as f64;
        let jitter: f64 = self.rng.random_range(-0.01..0.01);
        let offset = (span * (fraction + jitter).clamp(0.0, 1.0)) as i64;
        from + chrono::Duration::seconds(offset)
    }

    /// A random moment between `from` and now.
    fn sometime_after(&mut self, from: DateTime<Utc>) -> DateTime<Utc> {
        let fraction: f64 = self.rng.random();
        self.moment(from, fraction)
    }

    /// An index below `len`, skewed towards 0: the popular end.
    fn skewed(&mut self, len: usize) -> usize {
        let x: f64 = self.rng.random();
        ((x * x * x) * len as f64) as usize % len.max(1)
    }

    /// A count with mean `mean`, from an exponential distribution.
    fn count_around(&mut self, mean: f64, max: usize) -> usize {
        let u: f64 = self.rng.random_range(f64::EPSILON..1.0);
        ((-u.ln() * mean).round() as usize).min(max)
    }

    async fn users(
        &mut self,
        plan: &Plan,
        demo: bool,
        password_hash: &str,
    ) -> anyhow::Result<Vec<SeededUser>> {
        let first = self.next_id("users").await?;
        let step = Step::start("users", plan.users);
        let sink = self
            .tx
            .copy_in("COPY users (id, username, email, password_hash, name, bio, created_at, updated_at) FROM STDIN BINARY")
            .await?;
        let types = [
            Type::INT8,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TIMESTAMPTZ,
            Type::TIMESTAMPTZ,
        ];
        let mut writer = pin!(BinaryCopyInWriter::new(sink, &types));
        let origin = self.now - chrono::Duration::days(3 * 365);
        let mut users = Vec::with_capacity(plan.users as usize);
        for i in 0..plan.users {
            let id = first + i as i64;
            let (given, family) = self.pools.name(&mut self.rng);
            let (name, handle) = if demo && i == 0 {
                ("Demo User".to_string(), "demo".to_string())
            } else {
                (format!("{given} {family}"), username(&given, &family, id))
            };
            let email = format!("{handle}@example.com");
            let bio = self.pools.bio(&mut self.rng);
            let created_at = self.moment(origin, i as f64 / plan.users as f64 * 0.8);
            let row: [&(dyn ToSql + Sync); 8] = [
                &id,
                &handle,
                &email,
                &password_hash,
                &name,
                &bio,
                &created_at,
                &created_at,
            ];
            writer.as_mut().write(&row).await?;
            users.push(SeededUser { id, created_at });
            step.tick(i + 1);
        }
        writer.as_mut().finish().await?;
        step.finish(plan.users);
        Ok(users)
    }

    /// Decides each article's id, author and date (written later, with its favorites count).
    async fn plan_articles(
        &mut self,
        plan: &Plan,
        users: &[SeededUser],
    ) -> anyhow::Result<Vec<SeededArticle>> {
        let first = self.next_id("articles").await?;
        Ok((0..plan.articles)
            .map(|i| {
                let author = &users[self.skewed(users.len())];
                SeededArticle {
                    id: first + i as i64,
                    author_id: author.id,
                    created_at: self.sometime_after(author.created_at),
                }
            })
            .collect())
    }

    /// Decides who favorites what, so articles can be written with their counts.
    fn plan_favorites(
        &mut self,
        plan: &Plan,
        users: &[SeededUser],
        articles: &[SeededArticle],
    ) -> Vec<SeededFavorite> {
        let mut favorites = Vec::new();
        if articles.is_empty() {
            return favorites;
        }
        for user in users {
            let count = self.count_around(plan.favorites_per_user, 200.min(articles.len()));
            let mut chosen = HashSet::with_capacity(count);
            for _ in 0..count {
                let article = self.skewed(articles.len());
                if chosen.insert(article) {
                    let at = self.sometime_after(user.created_at.max(articles[article].created_at));
                    favorites.push(SeededFavorite {
                        user_id: user.id,
                        article,
                        at,
                    });
                }
            }
        }
        favorites
    }

    async fn articles(
        &mut self,
        articles: &[SeededArticle],
        favorites: &[SeededFavorite],
    ) -> anyhow::Result<()> {
        let mut favorites_count = vec![0i32; articles.len()];
        for favorite in favorites {
            favorites_count[favorite.article] += 1;
        }
        let step = Step::start("articles", articles.len() as u64);
        let sink = self
            .tx
            .copy_in("COPY articles (id, slug, author_id, title, description, body, body_html, favorites_count, created_at, updated_at) FROM STDIN BINARY")
            .await?;
        let types = [
            Type::INT8,
            Type::TEXT,
            Type::INT8,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::INT4,
            Type::TIMESTAMPTZ,
            Type::TIMESTAMPTZ,
        ];
        let mut writer = pin!(BinaryCopyInWriter::new(sink, &types));
        for (i, article) in articles.iter().enumerate() {
            let title = self.pools.title(&mut self.rng);
            let slug = match crate::domain::article::Title::parse(&title) {
                Ok(title) => format!("{}-{}", title.slug(), article.id),
                Err(_) => format!("article-{}", article.id),
            };
            let description = self.pools.description(&mut self.rng);
            let body = self.pools.body(&mut self.rng);
            let row: [&(dyn ToSql + Sync); 10] = [
                &article.id,
                &slug,
                &article.author_id,
                &title,
                &description,
                &body.markdown,
                &body.html,
                &favorites_count[i],
                &article.created_at,
                &article.created_at,
            ];
            writer.as_mut().write(&row).await?;
            step.tick(i as u64 + 1);
        }
        writer.as_mut().finish().await?;
        step.finish(articles.len() as u64);
        Ok(())
    }

    async fn tags(&mut self, articles: &[SeededArticle]) -> anyhow::Result<()> {
        let names: Vec<&str> = TAGS.to_vec();
        self.tx
            .execute(
                "INSERT INTO tags (name) SELECT unnest($1::text[]) ON CONFLICT (name) DO NOTHING",
                &[&names],
            )
            .await?;
        let rows = self
            .tx
            .query("SELECT id, name FROM tags WHERE name = ANY($1)", &[&names])
            .await?;
        let ids: Vec<i64> = names
            .iter()
            .filter_map(|name| {
                rows.iter()
                    .find(|row| row.get::<_, &str>(1) == *name)
                    .map(|row| row.get(0))
            })
            .collect();
        let step = Step::start("article tags", articles.len() as u64);
        let sink = self
            .tx
            .copy_in(
                "COPY article_tags (article_id, tag_id, position, created_at) FROM STDIN BINARY",
            )
            .await?;
        let mut writer = pin!(BinaryCopyInWriter::new(
            sink,
            &[Type::INT8, Type::INT8, Type::INT2, Type::TIMESTAMPTZ]
        ));
        let mut written = 0u64;
        for (i, article) in articles.iter().enumerate() {
            let count = self.rng.random_range(0..5usize);
            let mut chosen = HashSet::new();
            for position in 0..count {
                let tag = ids[self.skewed(ids.len())];
                if chosen.insert(tag) {
                    let position = position as i16;
                    writer
                        .as_mut()
                        .write(&[&article.id, &tag, &position, &article.created_at])
                        .await?;
                    written += 1;
                }
            }
            step.tick(i as u64 + 1);
        }
        writer.as_mut().finish().await?;
        step.finish(written);
        Ok(())
    }

    async fn follows(&mut self, plan: &Plan, users: &[SeededUser]) -> anyhow::Result<()> {
        let step = Step::start("follows", users.len() as u64);
        let sink = self
            .tx
            .copy_in("COPY follows (follower_id, followee_id, created_at) FROM STDIN BINARY")
            .await?;
        let mut writer = pin!(BinaryCopyInWriter::new(
            sink,
            &[Type::INT8, Type::INT8, Type::TIMESTAMPTZ]
        ));
        let mut written = 0u64;
        for (i, follower) in users.iter().enumerate() {
            let count = self.count_around(plan.follows_per_user, 200.min(users.len() - 1));
            let mut chosen = HashSet::with_capacity(count);
            for _ in 0..count {
                let followee = &users[self.skewed(users.len())];
                if followee.id != follower.id && chosen.insert(followee.id) {
                    let at = self.sometime_after(follower.created_at.max(followee.created_at));
                    writer
                        .as_mut()
                        .write(&[&follower.id, &followee.id, &at])
                        .await?;
                    written += 1;
                }
            }
            step.tick(i as u64 + 1);
        }
        writer.as_mut().finish().await?;
        step.finish(written);
        Ok(())
    }

    async fn favorites(
        &mut self,
        favorites: &[SeededFavorite],
        articles: &[SeededArticle],
    ) -> anyhow::Result<()> {
        let step = Step::start("favorites", favorites.len() as u64);
        let sink = self
            .tx
            .copy_in("COPY favorites (user_id, article_id, created_at, article_created_at) FROM STDIN BINARY")
            .await?;
        let mut writer = pin!(BinaryCopyInWriter::new(
            sink,
            &[Type::INT8, Type::INT8, Type::TIMESTAMPTZ, Type::TIMESTAMPTZ]
        ));
        for (i, favorite) in favorites.iter().enumerate() {
            let article = &articles[favorite.article];
            writer
                .as_mut()
                .write(&[
                    &favorite.user_id,
                    &article.id,
                    &favorite.at,
                    &article.created_at,
                ])
                .await?;
            step.tick(i as u64 + 1);
        }
        writer.as_mut().finish().await?;
        step.finish(favorites.len() as u64);
        Ok(())
    }

    async fn comments(
        &mut self,
        plan: &Plan,
        users: &[SeededUser],
        articles: &[SeededArticle],
    ) -> anyhow::Result<()> {
        let total = (articles.len() as f64 * plan.comments_per_article) as u64;
        if total == 0 {
            return Ok(());
        }
        let first = self.next_id("comments").await?;
        let step = Step::start("comments", total);
        let sink = self
            .tx
            .copy_in("COPY comments (id, article_id, author_id, body, created_at, updated_at) FROM STDIN BINARY")
            .await?;
        let types = [
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::TEXT,
            Type::TIMESTAMPTZ,
            Type::TIMESTAMPTZ,
        ];
        let mut writer = pin!(BinaryCopyInWriter::new(sink, &types));
        for i in 0..total {
            let id = first + i as i64;
            let article = &articles[self.skewed(articles.len())];
            let author = &users[self.rng.random_range(0..users.len())];
            let body = self.pools.comment(&mut self.rng);
            let at = self.sometime_after(article.created_at.max(author.created_at));
            let row: [&(dyn ToSql + Sync); 6] = [&id, &article.id, &author.id, &body, &at, &at];
            writer.as_mut().write(&row).await?;
            step.tick(i + 1);
        }
        writer.as_mut().finish().await?;
        step.finish(total);
        Ok(())
    }
}

/// Progress of one table: a bar on a terminal, a summary line at the end.
struct Step {
    name: &'static str,
    bar: ProgressBar,
    started: Instant,
}

impl Step {
    fn start(name: &'static str, total: u64) -> Self {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(
                "  {prefix:<13} [{bar:30}] {pos:>9}/{len:9} {per_sec:>12} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_prefix(name);
        bar.enable_steady_tick(Duration::from_millis(200));
        Self {
            name,
            bar,
            started: Instant::now(),
        }
    }

    fn tick(&self, done: u64) {
        if done.is_multiple_of(1024) {
            self.bar.set_position(done);
        }
    }

    fn finish(self, rows: u64) {
        self.bar.finish_and_clear();
        eprintln!(
            "  {:<13} {:>9} rows in {:.1}s",
            self.name,
            rows,
            self.started.elapsed().as_secs_f64()
        );
    }
}
