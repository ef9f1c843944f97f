//! `POST /logout`: sign out.
//!
//! The session ends for good: its id is recorded as revoked, so a copy of
//! the cookie (taken from this browser, or replayed) no longer signs anyone in.

use actix_web::{HttpResponse, web};

use crate::error::PageError;
use crate::routes::web::page::{NoFields, Page, VerifiedForm};
use crate::routes::web::redirect::see_other;
use crate::services::accounts;
use crate::state::AppState;

#[tracing::instrument(skip_all)]
pub async fn submit(
    state: web::Data<AppState>,
    page: Page,
    _: VerifiedForm<NoFields>,
) -> Result<HttpResponse, PageError> {
    if let Some((user, session, expires_at)) = page.session_to_revoke() {
        accounts::end_session(&state, user, &session, expires_at).await?;
    }
    page.sign_out(None);
    Ok(see_other("/"))
}
