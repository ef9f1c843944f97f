//! What every HTML handler starts from: the signed-in user (if any), the
//! session, and the means to render the layout (anti-forgery token, notices).
//!
//! Finding the viewer is one query, which also refuses a session that signed
//! out (a copied cookie), one from before the account signed out everywhere,
//! and one unused for longer than `session.ttl_hours`.

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::cookie::time::Duration;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::auth::browser::Browser;
use crate::auth::session::{self, Claim, SessionBackend};
use crate::error::{AppError, PageError};
use crate::models::User;
use crate::state::AppState;

/// The request as the page layout needs it.
pub struct Page {
    /// The signed-in user.
    pub viewer: Option<User>,
    /// The path and query of this request, to come back to after signing in.
    pub path: String,
    /// The server answering, shown in the footer.
    pub instance: String,
    /// With sessions in server memory: the server that holds this browser's
    /// session, when it is not this one.
    pub session_elsewhere: Option<String>,
    /// The primary database is down while its replicas serve reads.
    pub read_only: bool,
    session: Session,
    browser: Browser,
    claim: Option<Claim>,
    idle: Duration,
    memory_sessions: bool,
}

impl Page {
    /// The signed-in user's id.
    pub fn viewer_id(&self) -> Option<i64> {
        self.viewer.as_ref().map(|user| user.id)
    }

    /// Whether `username` is the signed-in user.
    pub fn is_viewer(&self, username: &str) -> bool {
        self.viewer
            .as_ref()
            .is_some_and(|user| user.username.eq_ignore_ascii_case(username))
    }

    /// The anti-forgery token for this page's forms.
    pub fn csrf_token(&self) -> String {
        self.browser
            .csrf_token(self.claim.as_ref().map(|claim| claim.session_id.as_str()))
    }

    /// The notice left by the previous request, shown once.
    pub fn take_flash(&self) -> Option<String> {
        self.browser.take_notice()
    }

    /// Leaves a notice for the next page shown.
    pub fn flash(&self, message: &str) {
        self.browser.leave_notice(message);
    }

    /// Signs `user` in on this browser: a new session, a new anti-forgery
    /// token.
    pub fn sign_in(&self, user: &User) -> anyhow::Result<()> {
        session::sign_in(&self.session, user)?;
        self.browser.rotate_csrf();
        if self.memory_sessions {
            self.browser.set_session_server(Some(&self.instance));
        }
        Ok(())
    }

    /// Keeps this browser signed in as `user` after its password changed here.
    pub fn remember(&self, user: &User) -> anyhow::Result<()> {
        session::remember(&self.session, user)
    }

    /// Ends this browser's session and leaves `notice` for the next page.
    pub fn sign_out(&self, notice: Option<&str>) {
        session::sign_out(&self.session);
        self.browser.rotate_csrf();
        if self.memory_sessions {
            self.browser.set_session_server(None);
        }
        if let Some(notice) = notice {
            self.browser.leave_notice(notice);
        }
    }

    /// The session being signed out, and when a copy of its cookie would
    /// have expired anyway: what signing out must revoke.
    pub fn session_to_revoke(&self) -> Option<(i64, String, DateTime<Utc>)> {
        let claim = self.claim.as_ref()?;
        let idle = chrono::Duration::seconds(self.idle.whole_seconds());
        Some((claim.user_id, claim.session_id.clone(), Utc::now() + idle))
    }
}

const SIGNED_OUT_EVERYWHERE: &str = "You have been signed out: your account signed out \
                                     everywhere or its password was changed.";
const EXPIRED: &str = "Your session has expired: please sign in again.";

impl FromRequest for Page {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = request.get_session();
        let browser = Browser::of(request);
        let state = request.app_data::<web::Data<AppState>>().cloned();
        let path = match request.uri().path_and_query() {
            Some(path) => path.as_str().to_string(),
            None => "/".to_string(),
        };
        Box::pin(async move {
            let state =
                state.ok_or_else(|| anyhow::anyhow!("application state is not registered"))?;
            let mut page = Page {
                viewer: None,
                path,
                instance: state.instance.clone(),
                session_elsewhere: None,
                read_only: state.db.read_only(),
                session,
                browser,
                claim: None,
                idle: state.session_idle,
                memory_sessions: matches!(state.sessions, SessionBackend::Memory(_)),
            };
            match session::claim(&page.session, page.idle) {
                Some(claim) => {
                    // The primary: a replica could still show a session
                    // that has just been revoked.
                    let mut conn = state.db.read_current().await?;
                    let found =
                        User::find_for_session(&mut conn, claim.user_id, &claim.session_id).await?;
                    match found {
                        Some((user, false)) if claim.is_current(&user) => {
                            crate::report::viewer(user.id);
                            session::touch(&page.session, page.idle);
                            page.viewer = Some(user);
                            page.claim = Some(claim);
                        }
                        // Signed out: this is a copy of a cookie that ended.
                        Some((_, true)) => page.sign_out(None),
                        Some(_) => page.sign_out(Some(SIGNED_OUT_EVERYWHERE)),
                        // The account was deleted elsewhere.
                        None => page.sign_out(None),
                    }
                }
                None if session::claims_someone(&page.session) => page.sign_out(Some(EXPIRED)),
                None => page.session_elsewhere = page.session_held_elsewhere(),
            }
            Ok(page)
        })
    }
}

impl Page {
    /// With sessions in server memory, a browser signed in on one server is
    /// a stranger to the others: name the server that knows it, so the page
    /// can say why this one does not.
    fn session_held_elsewhere(&self) -> Option<String> {
        if !self.memory_sessions {
            return None;
        }
        let holder = self.browser.session_server()?;
        if holder == self.instance {
            // This server forgot it (a restart, or it expired): start afresh.
            self.browser.set_session_server(None);
            return None;
        }
        Some(holder)
    }
}

/// A submitted form whose anti-forgery token matched the browser's.
pub struct VerifiedForm<T>(pub T);

#[derive(Deserialize)]
struct WithToken<T> {
    #[serde(default)]
    csrf_token: String,
    #[serde(flatten)]
    fields: T,
}

impl<T: DeserializeOwned + 'static> FromRequest for VerifiedForm<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let browser = Browser::of(request);
        let session_id = session::session_id(&request.get_session());
        // Unreadable or oversized forms are answered by the form configuration's handler.
        let form = web::Form::<WithToken<T>>::from_request(request, payload);
        Box::pin(async move {
            let WithToken { csrf_token, fields } = form.await?.into_inner();
            if !browser.csrf_matches(session_id.as_deref(), &csrf_token) {
                return Err(PageError(AppError::CsrfRejected).into());
            }
            Ok(VerifiedForm(fields))
        })
    }
}

/// A form with no fields but the token (buttons such as "Follow").
#[derive(Debug, Default, Deserialize)]
pub struct NoFields {
    /// Where to go afterwards (a local path).
    #[serde(default)]
    pub next: String,
}
