//! The `app_servers` table: which release each running app server runs, as
//! each last said (the architecture page's view of a rolling deploy).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Conn;
use crate::schema::app_servers;

/// One app server as it last announced itself.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = app_servers)]
pub struct AppServer {
    pub name: String,
    pub release: String,
    pub started_at: DateTime<Utc>,
    pub seen_at: DateTime<Utc>,
}

/// At most this many servers are listed: far more than a topology has.
const SHOWN: i64 = 64;

impl AppServer {
    /// Records that server `name`, up since `started_at`, runs `release` now.
    pub async fn announce(
        conn: &mut Conn,
        name: &str,
        release: &str,
        started_at: DateTime<Utc>,
    ) -> QueryResult<()> {
        let now = Utc::now();
        diesel::insert_into(app_servers::table)
            .values((
                app_servers::name.eq(name),
                app_servers::release.eq(release),
                app_servers::started_at.eq(started_at),
                app_servers::seen_at.eq(now),
            ))
            .on_conflict(app_servers::name)
            .do_update()
            .set((
                app_servers::release.eq(release),
                app_servers::started_at.eq(started_at),
                app_servers::seen_at.eq(now),
            ))
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Forgets server `name` if it still says it runs `release` (it stops).
    pub async fn retire(conn: &mut Conn, name: &str, release: &str) -> QueryResult<()> {
        diesel::delete(
            app_servers::table
                .filter(app_servers::name.eq(name))
                .filter(app_servers::release.eq(release)),
        )
        .execute(conn)
        .await?;
        Ok(())
    }

    /// The servers heard from since `since`, by name.
    pub async fn seen_since(conn: &mut Conn, since: DateTime<Utc>) -> QueryResult<Vec<Self>> {
        app_servers::table
            .filter(app_servers::seen_at.gt(since))
            .order(app_servers::name)
            .limit(SHOWN)
            .select(Self::as_select())
            .load(conn)
            .await
    }
}
