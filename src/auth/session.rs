//! Browser sessions for the HTML pages: who is signed in, the anti-forgery
//! token, and one-time notices.
//!
//! The cookie is HttpOnly and SameSite=Lax, Secure when so configured, and
//! its id is renewed at sign-in so a session fixed before sign-in is useless.

use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::{Session, SessionMiddleware};
use actix_web::cookie::{Key, SameSite, time::Duration};
use secrecy::ExposeSecret;

use super::memory_store::MemorySessionStore;
use crate::settings::SessionSettings;

const USER_ID: &str = "uid";
const FLASH: &str = "flash";

/// The store sessions live in.
pub type SessionStoreImpl = MemorySessionStore;

/// The session middleware for the HTML pages.
pub fn middleware(
    settings: &SessionSettings,
    store: SessionStoreImpl,
) -> SessionMiddleware<SessionStoreImpl> {
    let key = Key::derive_from(settings.secret.expose_secret().as_bytes());
    SessionMiddleware::builder(store, key)
        .cookie_name(settings.cookie_name.clone())
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Lax)
        .cookie_secure(settings.cookie_secure)
        .cookie_content_security(CookieContentSecurity::Private)
        .session_lifecycle(
            PersistentSession::default().session_ttl(Duration::hours(settings.ttl_hours)),
        )
        .build()
}

/// The signed-in user's id, if any.
pub fn user_id(session: &Session) -> Option<i64> {
    session.get::<i64>(USER_ID).ok().flatten()
}

/// Signs `user_id` in, under a new session id and a new anti-forgery token.
pub fn sign_in(session: &Session, user_id: i64) -> anyhow::Result<()> {
    session.renew();
    super::csrf::rotate(session);
    session
        .insert(USER_ID, user_id)
        .map_err(|error| anyhow::anyhow!("storing the session: {error}"))
}

/// Forgets everything about this browser.
pub fn sign_out(session: &Session) {
    session.purge();
}

/// Forgets the signed-in user but keeps a notice for the next page.
pub fn sign_out_with_notice(session: &Session, message: &str) {
    session.clear();
    session.renew();
    flash(session, message);
}

/// Leaves a notice for the next page shown.
pub fn flash(session: &Session, message: &str) {
    let _ = session.insert(FLASH, message);
}

/// Takes the notice left for this page, if any.
pub fn take_flash(session: &Session) -> Option<String> {
    session.remove_as::<String>(FLASH).and_then(Result::ok)
}
