//! Profile pages and follow buttons.

pub mod follow;
pub mod show;
pub mod unfollow;
