//! `/api/users` and `/api/user`: registration, sign-in, the current user.

pub mod current;
pub mod login;
pub mod register;
pub mod update;

use serde::Deserialize;

/// `{"user": {...}}` request bodies.
#[derive(Deserialize)]
pub struct UserRequest<T> {
    pub user: T,
}
