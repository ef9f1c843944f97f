//! The `users` table.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use diesel::sql_types::{BigInt, Text};

use super::{Conn, Count, like_prefix};
use crate::domain::paging::NamePosition;
use crate::schema::{lower_text, revoked_sessions, users};

/// An account.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub name: String,
    pub bio: String,
    pub image: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Sessions and API tokens issued under an older generation are refused.
    pub session_generation: i32,
    /// Kept by triggers in the same transaction as the writes.
    pub articles_count: i32,
    pub favorites_count: i32,
    pub followers_count: i32,
    pub following_count: i32,
}

/// A person found in the directory, with the text they matched by.
#[derive(QueryableByName)]
struct Matched {
    #[diesel(embed)]
    user: User,
    #[diesel(sql_type = Text)]
    matched: String,
}

/// A new account.
#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
}

/// Changes to an account; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges {
    pub username: Option<String>,
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub name: Option<String>,
    pub bio: Option<String>,
    /// `Some(None)` removes the avatar.
    pub image: Option<Option<String>>,
}

impl User {
    /// The avatar address to show for this user.
    pub fn avatar(&self) -> &str {
        self.image
            .as_deref()
            .unwrap_or(crate::services::views::DEFAULT_AVATAR)
    }

    /// The account with this id.
    pub async fn find(conn: &mut Conn, id: i64) -> QueryResult<Option<User>> {
        users::table
            .find(id)
            .select(User::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// The account `id` and whether its browser session `session` has been
    /// revoked (signed out), in one query.
    pub async fn find_for_session(
        conn: &mut Conn,
        id: i64,
        session: &str,
    ) -> QueryResult<Option<(User, bool)>> {
        users::table
            .find(id)
            .select((
                User::as_select(),
                diesel::dsl::exists(revoked_sessions::table.find(session.to_string())),
            ))
            .first(conn)
            .await
            .optional()
    }

    /// The account with this username, in any case.
    pub async fn find_by_username(conn: &mut Conn, username: &str) -> QueryResult<Option<User>> {
        users::table
            .filter(lower_text(users::username).eq(lower_text(username)))
            .select(User::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// The account with this email address, in any case.
    pub async fn find_by_email(conn: &mut Conn, email: &str) -> QueryResult<Option<User>> {
        users::table
            .filter(lower_text(users::email).eq(lower_text(email)))
            .select(User::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// The accounts with these ids, in no particular order.
    pub async fn find_many(conn: &mut Conn, ids: &[i64]) -> QueryResult<Vec<User>> {
        users::table
            .filter(users::id.eq_any(ids))
            .select(User::as_select())
            .load(conn)
            .await
    }

    /// The accounts with these ids, by id.
    pub async fn find_map(conn: &mut Conn, ids: &[i64]) -> QueryResult<HashMap<i64, User>> {
        Ok(Self::find_many(conn, ids)
            .await?
            .into_iter()
            .map(|user| (user.id, user))
            .collect())
    }

    /// Creates an account.
    pub async fn create(conn: &mut Conn, new: NewUser<'_>) -> QueryResult<User> {
        diesel::insert_into(users::table)
            .values(new)
            .returning(User::as_returning())
            .get_result(conn)
            .await
    }

    /// Applies `changes` to the account `id` and returns the result, unless
    /// its session generation has moved on from `generation` (the one the
    /// request's session or token was issued under): then nothing changes
    /// and the answer is `None`, so a request that started before "sign out
    /// everywhere" cannot undo it. A new password also ends every session and
    /// API token issued so far: whoever knew the old one is signed out.
    pub async fn update(
        conn: &mut Conn,
        id: i64,
        generation: i32,
        changes: UserChanges,
    ) -> QueryResult<Option<User>> {
        let ended = i32::from(changes.password_hash.is_some());
        diesel::update(
            users::table
                .find(id)
                .filter(users::session_generation.eq(generation)),
        )
        .set((
            changes,
            users::updated_at.eq(diesel::dsl::now),
            users::session_generation.eq(users::session_generation + ended),
        ))
        .returning(User::as_returning())
        .get_result(conn)
        .await
        .optional()
    }

    /// Ends every session and API token issued so far for `id`; false if
    /// there is no such account.
    pub async fn end_sessions(conn: &mut Conn, id: i64) -> QueryResult<bool> {
        let updated = diesel::update(users::table.find(id))
            .set(users::session_generation.eq(users::session_generation + 1))
            .execute(conn)
            .await?;
        Ok(updated == 1)
    }

    /// Deletes an account; its articles, comments, follows and favorites go
    /// with it, its locks taken in the global order ([`super::lock_order`]).
    pub async fn delete(conn: &mut Conn, id: i64) -> QueryResult<usize> {
        conn.transaction(async |conn| {
            super::lock_order::before_deleting_user(conn, id).await?;
            diesel::delete(users::table.find(id)).execute(conn).await
        })
        .await
    }

    /// Accounts whose username or display name starts with `prefix` (any
    /// case), `limit` of them from `from`, each with the text it matched by
    /// (lowercase), in the order of that text; an empty prefix lists everyone
    /// by username.
    ///
    /// Two index walks merged: usernames from the username index, names
    /// from the name index (skipping people whose username matches too, so
    /// nobody appears twice), both in byte order from the cursor. However
    /// many people match and however deep the page, it reads a bounded
    /// number of entries of each.
    pub async fn search(
        conn: &mut Conn,
        prefix: &str,
        limit: i64,
        from: &NamePosition,
    ) -> QueryResult<Vec<(User, String)>> {
        let (cursor, op, dir) = match from {
            NamePosition::Start => (None, ">", "ASC"),
            NamePosition::After(cursor) => (Some(cursor), ">", "ASC"),
            NamePosition::Before(cursor) => (Some(cursor), "<", "DESC"),
        };
        let beyond = |key: &str| match cursor {
            Some(_) => format!(" AND ({key}, u.id) {op} ($2, $3)"),
            None => String::new(),
        };
        let usernames = format!(
            "(SELECT u.*, lower(u.username) AS matched FROM users u \
              WHERE lower(u.username) LIKE $1{} ORDER BY lower(u.username) {dir}, u.id {dir} LIMIT $4)",
            beyond("lower(u.username)")
        );
        // People whose username matches too are shown by their username, so
        // the name walk skips them; it looks at no more than 50 pages' worth
        // of names, so a prefix shared by a great many names and usernames
        // alike costs a bounded walk (at worst, a name-only match hidden
        // behind over a thousand such people waits for a longer prefix).
        let names = format!(
            "(SELECT * FROM (SELECT u.*, lower(u.name) COLLATE \"C\" AS matched FROM users u \
              WHERE u.name <> '' AND lower(u.name) COLLATE \"C\" LIKE $1{} \
              ORDER BY lower(u.name) COLLATE \"C\" {dir}, u.id {dir} LIMIT 50 * $4) w \
              WHERE lower(w.username) NOT LIKE $1 ORDER BY matched {dir}, id {dir} LIMIT $4)",
            beyond("lower(u.name) COLLATE \"C\"")
        );
        let sources = if prefix.is_empty() {
            usernames
        } else {
            format!("{usernames} UNION ALL {names}")
        };
        let sql = format!("SELECT * FROM ({sources}) m ORDER BY matched {dir}, id {dir} LIMIT $4");
        let (key, id) = cursor.map_or((String::new(), 0), |cursor| (cursor.key.clone(), cursor.id));
        let mut rows: Vec<Matched> = diesel::sql_query(sql)
            .bind::<Text, _>(like_prefix(&prefix.to_lowercase()))
            .bind::<Text, _>(key)
            .bind::<BigInt, _>(id)
            .bind::<BigInt, _>(limit)
            .load(conn)
            .await?;
        if dir == "DESC" {
            rows.reverse();
        }
        Ok(rows
            .into_iter()
            .map(|row| (row.user, row.matched))
            .collect())
    }

    /// How many accounts match `prefix`, counting no further than `cap`:
    /// the same two index walks, each stopping near `cap`.
    pub async fn count_matching(conn: &mut Conn, prefix: &str, cap: i64) -> QueryResult<i64> {
        // Names are walked no further than twice the cap: if more of those
        // are also username matches, the username walk reaches the cap by
        // itself. (An empty prefix matches every username: names add none.)
        let sql = "SELECT count(*) AS n FROM (\
               (SELECT 1 FROM users WHERE lower(username) LIKE $1 \
                 ORDER BY lower(username), id LIMIT $2) UNION ALL \
               (SELECT 1 FROM (SELECT username FROM users \
                  WHERE name <> '' AND lower(name) COLLATE \"C\" LIKE $1 \
                  ORDER BY lower(name) COLLATE \"C\", id LIMIT 2 * $2) w \
                 WHERE lower(username) NOT LIKE $1)) c";
        let counted: Count = diesel::sql_query(sql)
            .bind::<Text, _>(like_prefix(&prefix.to_lowercase()))
            .bind::<BigInt, _>(cap)
            .get_result(conn)
            .await?;
        Ok(counted.n.min(cap))
    }
}
