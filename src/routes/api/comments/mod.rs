//! `/api/articles/{slug}/comments`

pub mod create;
pub mod delete;
pub mod list;
