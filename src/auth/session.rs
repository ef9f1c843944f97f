//! Browser sessions for the HTML pages: who is signed in. Only signed-in
//! browsers have one; the anti-forgery token and notices travel in the
//! browser's own signed cookies ([`super::browser`]).
//!
//! The cookie is HttpOnly and SameSite=Lax, Secure when so configured or when
//! the request came over HTTPS, and its id is renewed at sign-in so a session
//! fixed before sign-in is useless. Each session has an id of its own that
//! signing out revokes, and the server refuses a session unused for longer
//! than `session.ttl_hours`, whatever the cookie says.

use std::collections::HashMap;
use std::sync::Arc;

use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_session::{Session, SessionMiddleware};
use actix_web::body::MessageBody;
use actix_web::cookie::{Key, SameSite, time::Duration};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use rand::distr::{Alphanumeric, SampleString};
use secrecy::ExposeSecret;

use crate::client::ClientInfo;
use crate::models::User;

use super::memory_store::MemorySessionStore;
use crate::settings::{SessionSettings, SessionStoreKind};
use crate::tiers::cookie_sessions;

const USER_ID: &str = "uid";
const GENERATION: &str = "gen";
const SESSION_ID: &str = "sid";
/// When the session was last used (Unix seconds).
const SEEN: &str = "seen";
/// How often a session in use records that it is.
const TOUCH_EVERY_SECS: i64 = 3600;

/// Where session state lives, as configured by `session.store`.
#[derive(Clone)]
pub enum SessionBackend {
    /// This process's memory: a browser is known to one server only.
    Memory(MemorySessionStore),
    /// An encrypted, signed cookie (only in `stateless-sessions` builds).
    Cookie(Arc<cookie_sessions::Store>),
}

impl SessionBackend {
    /// The backend `settings` ask for (checked at start-up to be built in).
    pub fn new(settings: &SessionSettings) -> anyhow::Result<Self> {
        match settings.store {
            SessionStoreKind::Memory => Ok(Self::Memory(MemorySessionStore::default())),
            SessionStoreKind::Cookie => cookie_sessions::store().map(|store| Self::Cookie(Arc::new(store))).ok_or_else(|| {
                anyhow::anyhow!("session.store = \"cookie\" needs a binary built with --features stateless-sessions")
            }),
        }
    }

    /// A short name for pages and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Memory(_) => "in-process memory",
            Self::Cookie(_) => "encrypted cookie",
        }
    }
}

impl SessionStore for SessionBackend {
    async fn load(&self, key: &SessionKey) -> Result<Option<HashMap<String, String>>, LoadError> {
        match self {
            Self::Memory(store) => store.load(key).await,
            Self::Cookie(store) => store.load(key).await,
        }
    }

    async fn save(
        &self,
        state: HashMap<String, String>,
        ttl: &Duration,
    ) -> Result<SessionKey, SaveError> {
        match self {
            Self::Memory(store) => store.save(state, ttl).await,
            Self::Cookie(store) => store.save(state, ttl).await,
        }
    }

    async fn update(
        &self,
        key: SessionKey,
        state: HashMap<String, String>,
        ttl: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        match self {
            Self::Memory(store) => store.update(key, state, ttl).await,
            Self::Cookie(store) => store.update(key, state, ttl).await,
        }
    }

    async fn update_ttl(&self, key: &SessionKey, ttl: &Duration) -> Result<(), anyhow::Error> {
        match self {
            Self::Memory(store) => store.update_ttl(key, ttl).await,
            Self::Cookie(store) => store.update_ttl(key, ttl).await,
        }
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), anyhow::Error> {
        match self {
            Self::Memory(store) => store.delete(key).await,
            Self::Cookie(store) => store.delete(key).await,
        }
    }
}

/// The session middleware for the HTML pages.
pub fn middleware(
    settings: &SessionSettings,
    store: SessionBackend,
) -> SessionMiddleware<SessionBackend> {
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

/// Marks cookies `Secure` when the client came over HTTPS (directly, or
/// through a trusted proxy that says so), whatever `session.cookie_secure` is.
pub async fn secure_cookies_over_https(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let https = ClientInfo::of(request.request()).https;
    let mut response = next.call(request).await?;
    if https {
        let cookies: Vec<HeaderValue> = response
            .headers()
            .get_all(header::SET_COOKIE)
            .cloned()
            .collect();
        response.headers_mut().remove(header::SET_COOKIE);
        for cookie in cookies {
            let text = cookie.to_str().unwrap_or_default();
            let secured = if text
                .split(';')
                .any(|part| part.trim().eq_ignore_ascii_case("secure"))
            {
                cookie
            } else {
                HeaderValue::from_str(&format!("{text}; Secure")).unwrap_or(cookie)
            };
            response.headers_mut().append(header::SET_COOKIE, secured);
        }
    }
    Ok(response)
}

/// What a session says about who is signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The account signed in.
    pub user_id: i64,
    /// This session's own id: signing out revokes it.
    pub session_id: String,
    generation: i32,
}

impl Claim {
    /// Whether the session was signed in under `user`'s current session
    /// generation, i.e. the account has not signed out everywhere (or changed
    /// its password) since.
    pub fn is_current(&self, user: &User) -> bool {
        self.user_id == user.id && self.generation == user.session_generation
    }
}

/// The session's own id, if someone signed in on it.
pub fn session_id(session: &Session) -> Option<String> {
    session.get::<String>(SESSION_ID).ok().flatten()
}

/// Whether the session names a signed-in user at all, current or not.
pub fn claims_someone(session: &Session) -> bool {
    session.get::<i64>(USER_ID).ok().flatten().is_some()
}

/// Who the session says is signed in, if it was used within `idle` (the
/// server checks this itself: a cookie's own expiry is the browser's to keep
/// or ignore). Sessions from before session ids existed claim no one.
pub fn claim(session: &Session, idle: Duration) -> Option<Claim> {
    let user_id = session.get::<i64>(USER_ID).ok().flatten()?;
    let session_id = session.get::<String>(SESSION_ID).ok().flatten()?;
    let seen = session.get::<i64>(SEEN).ok().flatten()?;
    if unix_now() - seen > idle.whole_seconds() {
        return None;
    }
    let generation = session.get::<i32>(GENERATION).ok().flatten().unwrap_or(0);
    Some(Claim {
        user_id,
        session_id,
        generation,
    })
}

/// Notes that the session is in use, so that it does not expire while it is:
/// at most once an hour (or a tenth of `idle`, if shorter), so that most
/// responses do not rewrite the session, and an active session never comes
/// within that of its limit.
pub fn touch(session: &Session, idle: Duration) {
    let seen = session.get::<i64>(SEEN).ok().flatten().unwrap_or(0);
    let every = TOUCH_EVERY_SECS.min(idle.whole_seconds() / 10).max(1);
    if unix_now() - seen >= every {
        let _ = session.insert(SEEN, unix_now());
    }
}

/// Signs `user` in, under a new session id.
pub fn sign_in(session: &Session, user: &User) -> anyhow::Result<()> {
    session.renew();
    let session_id = Alphanumeric.sample_string(&mut rand::rng(), 32);
    session
        .insert(SESSION_ID, session_id)
        .and_then(|()| session.insert(SEEN, unix_now()))
        .map_err(|error| anyhow::anyhow!("storing the session: {error}"))?;
    remember(session, user)
}

/// Keeps this browser signed in as `user` after the account's session
/// generation moved on (the password was changed here).
pub fn remember(session: &Session, user: &User) -> anyhow::Result<()> {
    session
        .insert(USER_ID, user.id)
        .and_then(|()| session.insert(GENERATION, user.session_generation))
        .map_err(|error| anyhow::anyhow!("storing the session: {error}"))
}

/// Forgets everything about this browser.
pub fn sign_out(session: &Session) {
    session.purge();
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use actix_session::SessionExt;
    use actix_web::test::TestRequest;

    use super::*;

    fn session_seen(seconds_ago: i64) -> Session {
        let session = TestRequest::default().to_http_request().get_session();
        session.insert(USER_ID, 7_i64).unwrap();
        session.insert(SESSION_ID, "abc").unwrap();
        session.insert(SEEN, unix_now() - seconds_ago).unwrap();
        session
    }

    #[test]
    fn the_server_refuses_a_session_unused_for_longer_than_its_lifetime() {
        let idle = Duration::hours(2);

        let recent = claim(&session_seen(3600), idle);
        let stale = claim(&session_seen(3 * 3600), idle);

        assert_eq!(recent.map(|claim| claim.user_id), Some(7));
        assert_eq!(stale, None);
    }

    #[test]
    fn sessions_without_an_id_claim_no_one() {
        let session = TestRequest::default().to_http_request().get_session();
        session.insert(USER_ID, 7_i64).unwrap();

        assert_eq!(claim(&session, Duration::hours(2)), None);
        assert!(claims_someone(&session));
    }

    #[test]
    fn a_session_in_use_records_it_at_most_hourly() {
        let fresh = session_seen(60);
        let old = session_seen(2 * 3600);

        touch(&fresh, Duration::hours(24));
        touch(&old, Duration::hours(24));

        let seen = |session: &Session| session.get::<i64>(SEEN).unwrap().unwrap();
        assert!(unix_now() - seen(&fresh) >= 60, "left alone");
        assert!(unix_now() - seen(&old) < 60, "brought up to date");
        let short = session_seen(400);
        touch(&short, Duration::hours(1));
        assert!(
            unix_now() - seen(&short) < 60,
            "a tenth of a one-hour limit"
        );
    }
}
