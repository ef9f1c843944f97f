//! What a browser carries for itself, in small signed cookies, so that
//! visitors who are not signed in cost the server no memory:
//!
//! - the anti-forgery token of its forms (`{cookie_name}_csrf`);
//! - a one-time notice for the next page (`{cookie_name}_notice`);
//! - with sessions kept in server memory, the server that holds this
//!   browser's session (`{cookie_name}_server`), so that another server can
//!   say why it does not know it.
//!
//! Each cookie is HttpOnly, SameSite=Lax and signed with a key derived from
//! `session.secret`, its value naming the cookie it belongs to, so a browser
//! can neither forge one nor pass one off as another. Once someone is signed
//! in, forms carry a token bound to their session instead (an HMAC of the
//! session's id), so a token planted from elsewhere is worthless. The
//! middleware reads them before the handler runs and writes back only what
//! the handler changed.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, CookieJar, Key, SameSite, time::Duration};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest};
use hmac::{Hmac, Mac};
use rand::distr::{Alphanumeric, SampleString};
use secrecy::ExposeSecret;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::settings::SessionSettings;

/// How long a notice waits for the page that shows it.
const NOTICE_TTL: Duration = Duration::minutes(5);

/// The names and signing key of the browser cookies.
pub struct BrowserCookies {
    key: Key,
    csrf: String,
    notice: String,
    server: String,
    ttl: Duration,
    secure: bool,
}

impl BrowserCookies {
    /// The cookies for `settings` (their names start with `session.cookie_name`).
    pub fn new(settings: &SessionSettings) -> Self {
        // A key of its own, so that these cookies and the session cookie can
        // never be swapped for one another.
        let material = format!("browser-cookies:{}", settings.secret.expose_secret());
        Self {
            key: Key::derive_from(material.as_bytes()),
            csrf: format!("{}_csrf", settings.cookie_name),
            notice: format!("{}_notice", settings.cookie_name),
            server: format!("{}_server", settings.cookie_name),
            ttl: Duration::hours(settings.ttl_hours),
            secure: settings.cookie_secure,
        }
    }

    fn read(self: &Arc<Self>, request: &ServiceRequest) -> Browser {
        let mut jar = CookieJar::new();
        for name in [&self.csrf, &self.notice, &self.server] {
            if let Some(cookie) = request.cookie(name) {
                jar.add_original(cookie);
            }
        }
        let signed = jar.signed(&self.key);
        // The signature covers the value only, so the value names its cookie:
        // one cookie's value cannot be passed off as another's.
        let value = |name: &str| {
            let cookie = signed.get(name)?;
            let value = cookie.value().strip_prefix(name)?.strip_prefix(':')?;
            (!value.is_empty()).then(|| value.to_string())
        };
        Browser {
            cookies: Rc::new(RefCell::new(Cookies {
                csrf: value(&self.csrf),
                notice: value(&self.notice),
                notice_was_sent: request.cookie(&self.notice).is_some(),
                server: value(&self.server),
                ..Cookies::default()
            })),
            config: Some(Arc::clone(self)),
        }
    }

    /// The anti-forgery token of the signed-in session `session_id`: bound
    /// to that session, so a token (or a cookie) from any other browser or
    /// session is worthless against it.
    fn session_token(&self, session_id: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.key.signing())
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(b"csrf:");
        mac.update(session_id.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    fn cookie(&self, name: &str, value: String, max_age: Duration) -> Cookie<'static> {
        let mut cookie = Cookie::build(name.to_string(), format!("{name}:{value}"))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .max_age(max_age)
            .finish();
        if max_age.is_zero() {
            cookie.make_removal();
        }
        let mut jar = CookieJar::new();
        jar.signed_mut(&self.key).add(cookie);
        jar.get(name)
            .cloned()
            .unwrap_or_else(|| Cookie::named(name.to_string()))
    }

    fn outgoing(&self, cookies: &Cookies) -> Vec<Cookie<'static>> {
        let mut outgoing = Vec::new();
        if let Some(token) = &cookies.new_csrf {
            outgoing.push(self.cookie(&self.csrf, token.clone(), self.ttl));
        }
        match &cookies.new_notice {
            Some(notice) => outgoing.push(self.cookie(&self.notice, notice.clone(), NOTICE_TTL)),
            None if cookies.notice_taken => {
                outgoing.push(self.cookie(&self.notice, String::new(), Duration::ZERO));
            }
            None => {}
        }
        match &cookies.new_server {
            Some(Some(server)) => {
                outgoing.push(self.cookie(&self.server, server.clone(), self.ttl))
            }
            Some(None) if cookies.server.is_some() => {
                outgoing.push(self.cookie(&self.server, String::new(), Duration::ZERO));
            }
            _ => {}
        }
        outgoing
    }
}

#[derive(Default)]
struct Cookies {
    /// The token that came with the request, if its signature held.
    csrf: Option<String>,
    /// A token made for this response.
    new_csrf: Option<String>,
    notice: Option<String>,
    /// Whether the request came with a notice cookie (to be removed once shown).
    notice_was_sent: bool,
    notice_taken: bool,
    new_notice: Option<String>,
    server: Option<String>,
    new_server: Option<Option<String>>,
}

/// This request's browser cookies, as read and as they will be written.
#[derive(Clone)]
pub struct Browser {
    cookies: Rc<RefCell<Cookies>>,
    config: Option<Arc<BrowserCookies>>,
}

impl Browser {
    /// The browser cookies of `request` (empty outside the page scope).
    pub fn of(request: &HttpRequest) -> Self {
        request
            .extensions()
            .get::<Browser>()
            .cloned()
            .unwrap_or_else(|| Browser {
                cookies: Rc::default(),
                config: None,
            })
    }

    /// The anti-forgery token to put in this page's forms: bound to the
    /// session when one is signed in (`session_id`), else the browser's own
    /// (or a new one that the response hands it).
    pub fn csrf_token(&self, session_id: Option<&str>) -> String {
        if let (Some(session_id), Some(config)) = (session_id, &self.config) {
            return config.session_token(session_id);
        }
        let mut cookies = self.cookies.borrow_mut();
        if let Some(token) = cookies.new_csrf.clone().or_else(|| cookies.csrf.clone()) {
            return token;
        }
        let token = new_token();
        cookies.new_csrf = Some(token.clone());
        token
    }

    /// Gives the browser a new anti-forgery token (at sign-in and sign-out),
    /// so that a token seen before can no longer be used.
    pub fn rotate_csrf(&self) {
        self.cookies.borrow_mut().new_csrf = Some(new_token());
    }

    /// Whether `submitted` is the token of signed-in session `session_id`,
    /// or, with no session, the token the browser sent in its cookie.
    pub fn csrf_matches(&self, session_id: Option<&str>, submitted: &str) -> bool {
        let expected = match (session_id, &self.config) {
            (Some(session_id), Some(config)) => Some(config.session_token(session_id)),
            (Some(_), None) => None,
            (None, _) => self.cookies.borrow().csrf.clone(),
        };
        match expected {
            Some(expected) => {
                !submitted.is_empty() && bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()))
            }
            None => false,
        }
    }

    /// Leaves `message` for the next page shown.
    pub fn leave_notice(&self, message: &str) {
        self.cookies.borrow_mut().new_notice = Some(message.to_string());
    }

    /// Takes the notice left for this page (by an earlier request, or
    /// earlier in this one), if any.
    pub fn take_notice(&self) -> Option<String> {
        let mut cookies = self.cookies.borrow_mut();
        let notice = cookies.new_notice.take().or_else(|| cookies.notice.take());
        // Whatever notice cookie came (even one whose signature failed) is
        // spent once a page has had the chance to show it.
        cookies.notice_taken = cookies.notice_was_sent;
        notice
    }

    /// The server that holds this browser's session in its memory, if any.
    pub fn session_server(&self) -> Option<String> {
        self.cookies.borrow().server.clone()
    }

    /// Records which server holds this browser's session (`None`: none).
    pub fn set_session_server(&self, server: Option<&str>) {
        self.cookies.borrow_mut().new_server = Some(server.map(str::to_string));
    }
}

fn new_token() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 43)
}

/// Reads the browser cookies before the handler and writes what it changed
/// after it.
pub async fn middleware(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let config = request.app_data::<Arc<BrowserCookies>>().cloned();
    let Some(config) = config else {
        return next.call(request).await;
    };
    let browser = config.read(&request);
    request.extensions_mut().insert(browser.clone());
    let mut response = next.call(request).await?;
    let outgoing = config.outgoing(&browser.cookies.borrow());
    for cookie in outgoing {
        response.response_mut().add_cookie(&cookie)?;
    }
    Ok(response)
}
