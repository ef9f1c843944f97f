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
