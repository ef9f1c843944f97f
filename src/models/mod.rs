//! Queries, one file per table. Every method takes a connection and returns
//! diesel's `QueryResult`; handlers never write SQL.

pub mod app_server;
pub mod article;
pub mod article_list;
pub mod comment;
pub mod favorite;
pub mod follow;
pub mod lock_order;
pub mod revoked_session;
pub mod tag;
pub mod user;

pub use app_server::AppServer;
pub use article::{Article, ArticleChanges, ArticleFilter, ArticleSummary, NewArticle};
pub use comment::{Comment, NewComment};
pub use favorite::Favorite;
pub use follow::Follow;
pub use revoked_session::RevokedSession;
pub use tag::Tag;
pub use user::{NewUser, User, UserChanges};

/// The connection type every query runs on.
pub type Conn = diesel_async::AsyncPgConnection;

/// One number from a raw query (`SELECT count(*) AS n …`).
#[derive(diesel::QueryableByName)]
pub(crate) struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub n: i64,
}

/// The name of the unique index a write collided with, if that is what failed.
pub fn unique_violation(error: &diesel::result::Error) -> Option<&str> {
    match error {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            info,
        ) => Some(info.constraint_name().unwrap_or_default()),
        _ => None,
    }
}

/// Escapes `%`, `_` and `\` so user text matches literally in a LIKE pattern.
pub fn like_prefix(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_match_wildcards_literally() {
        assert_eq!(like_prefix("ja"), "ja%");
        assert_eq!(like_prefix("100%_\\"), "100\\%\\_\\\\%");
    }
}
