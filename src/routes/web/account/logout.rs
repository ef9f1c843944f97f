//! `POST /logout`: sign out.

use actix_web::HttpResponse;

use crate::auth::session;
use crate::routes::web::page::{NoFields, Page, VerifiedForm};
use crate::routes::web::redirect::see_other;

pub async fn submit(page: Page, _: VerifiedForm<NoFields>) -> HttpResponse {
    session::sign_out(page.session());
    see_other("/")
}
