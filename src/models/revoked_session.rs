//! The `revoked_sessions` table: browser sessions that signed out, kept until
//! they would have expired anyway.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Conn;
use crate::schema::revoked_sessions;

/// Expired entries removed by each new revocation: more than are added, so
/// the table never grows beyond the sessions that could still be used.
const SWEEP: i64 = 20;

/// A browser session that signed out.
pub struct RevokedSession;

impl RevokedSession {
    /// Records that session `id` of `user` is over, until `expires_at`, and
    /// sweeps a few entries that have expired.
    pub async fn revoke(
        conn: &mut Conn,
        id: &str,
        user: i64,
        expires_at: DateTime<Utc>,
    ) -> QueryResult<()> {
        diesel::insert_into(revoked_sessions::table)
            .values((
                revoked_sessions::id.eq(id),
                revoked_sessions::user_id.eq(user),
                revoked_sessions::expires_at.eq(expires_at),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        diesel::sql_query(
            "DELETE FROM revoked_sessions WHERE id IN \
             (SELECT id FROM revoked_sessions WHERE expires_at < now() LIMIT $1)",
        )
        .bind::<diesel::sql_types::BigInt, _>(SWEEP)
        .execute(conn)
        .await?;
        Ok(())
    }
}
