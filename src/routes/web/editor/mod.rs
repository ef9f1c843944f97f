//! Writing and editing articles.

pub mod create;
pub mod edit;
