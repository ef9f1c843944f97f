//! `/api/profiles/{username}`: profiles and follows.

pub mod follow;
pub mod show;
pub mod unfollow;
