//! What every request handler can reach.

use crate::auth::password::Passwords;
use crate::auth::token::Tokens;
use crate::db::Db;

/// Shared, cheaply cloned application state.
#[derive(Clone)]
pub struct AppState {
    /// The databases.
    pub db: Db,
    /// Bounded password hashing.
    pub passwords: Passwords,
    /// API token issuing and checking.
    pub tokens: Tokens,
    /// This server's name, as sent in `X-Served-By`.
    pub instance: String,
}
