//! What every HTML handler starts from: the signed-in user (if any), the
//! session, and the means to render the layout (anti-forgery token, notices).

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::auth::{csrf, session};
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
    session: Session,
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
        csrf::token(&self.session)
    }

    /// The notice left by the previous request, shown once.
    pub fn take_flash(&self) -> Option<String> {
        session::take_flash(&self.session)
    }

    /// The browser session.
    pub fn session(&self) -> &Session {
        &self.session
    }
}

impl FromRequest for Page {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = request.get_session();
        let state = request.app_data::<web::Data<AppState>>().cloned();
        let path = match request.uri().path_and_query() {
            Some(path) => path.as_str().to_string(),
            None => "/".to_string(),
        };
        Box::pin(async move {
            let state =
                state.ok_or_else(|| anyhow::anyhow!("application state is not registered"))?;
            let viewer = match session::user_id(&session) {
                Some(id) => {
                    let mut conn = state.db.read().await?;
                    match User::find(&mut conn, id).await? {
                        Some(user) if session::is_current(&session, &user) => Some(user),
                        Some(_) => {
                            session::sign_out_with_notice(
                                &session,
                                "You have been signed out: your account signed out \
                                 everywhere or its password was changed.",
                            );
                            None
                        }
                        None => {
                            // The account was deleted elsewhere.
                            session::sign_out(&session);
                            None
                        }
                    }
                }
                None => None,
            };
            Ok(Page {
                viewer,
                path,
                instance: state.instance.clone(),
                session,
            })
        })
    }
}

/// A submitted form whose anti-forgery token matched the session's.
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
        let session = request.get_session();
        // Unreadable or oversized forms are answered by the form configuration's handler.
        let form = web::Form::<WithToken<T>>::from_request(request, payload);
        Box::pin(async move {
            let WithToken { csrf_token, fields } = form.await?.into_inner();
            if !csrf::verify(&session, &csrf_token) {
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
