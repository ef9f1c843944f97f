//! The `users` table.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::{Conn, like_prefix};
use crate::schema::{lower_text, revoked_sessions, users};

/// An account.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
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

/// Where a page of the people directory starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameCursor<'a> {
    /// The first page.
    Start,
    /// The people just after this username.
    After(&'a str),
    /// The people just before this username.
    Before(&'a str),
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

    /// Applies `changes` to the account `id` and returns the result. A new
    /// password also ends every session and API token issued so far: whoever
    /// knew the old one is signed out.
    pub async fn update(conn: &mut Conn, id: i64, changes: UserChanges) -> QueryResult<User> {
        let ended = i32::from(changes.password_hash.is_some());
        diesel::update(users::table.find(id))
            .set((
                changes,
                users::updated_at.eq(diesel::dsl::now),
                users::session_generation.eq(users::session_generation + ended),
            ))
            .returning(User::as_returning())
            .get_result(conn)
            .await
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
    /// case), alphabetically by username, `limit` of them from `from`: after
    /// (or, going back, before) a username. An empty prefix lists everyone.
    /// A page is an index walk from its cursor, however deep it is.
    pub async fn search(
        conn: &mut Conn,
        prefix: &str,
        limit: i64,
        from: NameCursor<'_>,
    ) -> QueryResult<Vec<User>> {
        let mut query = Self::matching(prefix);
        query = match from {
            NameCursor::Start => query.order(lower_text(users::username).asc()),
            NameCursor::After(name) => query
                .filter(lower_text(users::username).gt(name.to_lowercase()))
                .order(lower_text(users::username).asc()),
            NameCursor::Before(name) => query
                .filter(lower_text(users::username).lt(name.to_lowercase()))
                .order(lower_text(users::username).desc()),
        };
        let mut people = query
            .limit(limit)
            .select(User::as_select())
            .load(conn)
            .await?;
        if matches!(from, NameCursor::Before(_)) {
            people.reverse();
        }
        Ok(people)
    }

    /// How many accounts match `prefix`, counting no further than `cap`.
    pub async fn count_matching(conn: &mut Conn, prefix: &str, cap: i64) -> QueryResult<i64> {
        let ids: Vec<i64> = Self::matching(prefix)
            .select(users::id)
            .limit(cap)
            .load(conn)
            .await?;
        Ok(ids.len() as i64)
    }

    fn matching(prefix: &str) -> users::BoxedQuery<'static, diesel::pg::Pg> {
        let mut query = users::table.into_boxed();
        if !prefix.is_empty() {
            let pattern = like_prefix(&prefix.to_lowercase());
            query = query.filter(
                lower_text(users::username)
                    .like(pattern.clone())
                    .or(users::name
                        .ne("")
                        .and(lower_text(users::name).like(pattern))),
            );
        }
        query
    }
}
