//! The `follows` table: who follows whom.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Conn;
use crate::schema::follows;

/// A follow relationship.
pub struct Follow;

impl Follow {
    /// `follower` follows `followee`; following twice changes nothing.
    pub async fn create(conn: &mut Conn, follower: i64, followee: i64) -> QueryResult<()> {
        diesel::insert_into(follows::table)
            .values((
                follows::follower_id.eq(follower),
                follows::followee_id.eq(followee),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        Ok(())
    }

    /// `follower` stops following `followee`.
    pub async fn delete(conn: &mut Conn, follower: i64, followee: i64) -> QueryResult<()> {
        diesel::delete(follows::table.find((follower, followee)))
            .execute(conn)
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

    /// How many follow `user` and how many `user` follows.
    pub async fn counts(conn: &mut Conn, user: i64) -> QueryResult<(i64, i64)> {
        let followers = follows::table
            .filter(follows::followee_id.eq(user))
            .count()
            .get_result(conn)
            .await?;
        let following = follows::table
            .filter(follows::follower_id.eq(user))
            .count()
            .get_result(conn)
            .await?;
        Ok((followers, following))
    }

    /// Follower counts of each of `users` (absent means none).
    pub async fn follower_counts(conn: &mut Conn, users: &[i64]) -> QueryResult<HashMap<i64, i64>> {
        if users.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<(i64, i64)> = follows::table
            .filter(follows::followee_id.eq_any(users))
            .group_by(follows::followee_id)
            .select((follows::followee_id, diesel::dsl::count_star()))
            .load(conn)
            .await?;
        Ok(rows.into_iter().collect())
    }
}
