//! The `follows` table: who follows whom.

use std::collections::HashSet;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::Conn;
use crate::schema::{follows, users};

/// A follow relationship.
pub struct Follow;

impl Follow {
    /// `follower` follows `followee`; following twice changes nothing. Both
    /// people are locked first, in the global order ([`super::lock_order`]).
    pub async fn create(conn: &mut Conn, follower: i64, followee: i64) -> QueryResult<()> {
        conn.transaction(async |conn| {
            super::lock_order::before_following(conn, [follower, followee]).await?;
            diesel::insert_into(follows::table)
                .values((
                    follows::follower_id.eq(follower),
                    follows::followee_id.eq(followee),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await
        })
        .await?;
        Ok(())
    }

    /// `follower` stops following `followee` (both locked first, as by
    /// [`Follow::create`]).
    pub async fn delete(conn: &mut Conn, follower: i64, followee: i64) -> QueryResult<()> {
        conn.transaction(async |conn| {
            super::lock_order::before_following(conn, [follower, followee]).await?;
            diesel::delete(follows::table.find((follower, followee)))
                .execute(conn)
                .await
        })
        .await?;
        Ok(())
    }

    /// Which of `candidates` `follower` follows.
    pub async fn followed_among(
        conn: &mut Conn,
        follower: i64,
        candidates: &[i64],
    ) -> QueryResult<HashSet<i64>> {
        if candidates.is_empty() {
            return Ok(HashSet::new());
        }
        let ids: Vec<i64> = follows::table
            .filter(follows::follower_id.eq(follower))
            .filter(follows::followee_id.eq_any(candidates))
            .select(follows::followee_id)
            .load(conn)
            .await?;
        Ok(ids.into_iter().collect())
    }

    /// Everyone `user` follows or is followed by.
    pub async fn related(conn: &mut Conn, user: i64) -> QueryResult<Vec<i64>> {
        let followees: Vec<i64> = follows::table
            .filter(follows::follower_id.eq(user))
            .select(follows::followee_id)
            .load(conn)
            .await?;
        let followers: Vec<i64> = follows::table
            .filter(follows::followee_id.eq(user))
            .select(follows::follower_id)
            .load(conn)
            .await?;
        Ok(followees.into_iter().chain(followers).collect())
    }

    /// How many follow `user` and how many `user` follows, from the
    /// counters a trigger keeps.
    pub async fn counts(conn: &mut Conn, user: i64) -> QueryResult<(i64, i64)> {
        let counts: Option<(i32, i32)> = users::table
            .find(user)
            .select((users::followers_count, users::following_count))
            .first(conn)
            .await
            .optional()?;
        let (followers, following) = counts.unwrap_or_default();
        Ok((i64::from(followers), i64::from(following)))
    }
}
