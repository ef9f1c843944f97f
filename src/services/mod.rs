//! What the application does, shared by the JSON API and the HTML pages:
//! each function validates its input, talks to the models and returns what
//! both faces render. No HTTP here.

pub mod accounts;
mod article_reads;
pub mod articles;
pub mod cached;
pub mod comments;
pub mod profiles;
pub mod views;

pub use views::{ArticlePage, ArticleView, CommentView, ProfileView};

/// Maps the error of a write that refers to `what` to 404 when `what` was
/// deleted after it was looked up (the reference then fails).
pub(crate) fn unless_gone(
    what: &'static str,
) -> impl Fn(diesel::result::Error) -> crate::error::AppError {
    use diesel::result::{DatabaseErrorKind, Error};
    move |error| match error {
        Error::DatabaseError(
            DatabaseErrorKind::ForeignKeyViolation | DatabaseErrorKind::NotNullViolation,
            _,
        ) => crate::error::AppError::NotFound(what),
        other => other.into(),
    }
}
