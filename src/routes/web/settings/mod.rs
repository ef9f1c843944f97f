//! The signed-in user's settings and account deletion.

pub mod delete;
pub mod edit;
