//! The signed-in user's settings, signing out everywhere and account deletion.

pub mod delete;
pub mod edit;
pub mod sign_out_everywhere;
