//! The article page and its buttons: favorite, comment, delete.

pub mod comment;
pub mod delete;
pub mod favorite;
pub mod show;
pub mod uncomment;
pub mod unfavorite;
