//! Stateless sessions (built with `stateless-sessions`): the whole session
//! travels in an encrypted, signed cookie, so any app server can serve any
//! request without sharing memory.

/// The cookie session store.
pub type Store = actix_session::storage::CookieSessionStore;

/// A cookie session store.
pub fn store() -> Option<Store> {
    Some(Store::default())
}
