//! `POST /article/{slug}/delete`: the author deletes their article.

use actix_web::{HttpResponse, web};

use crate::error::PageError;
use crate::routes::web::page::{NoFields, Page, VerifiedForm};
use crate::routes::web::redirect::{see_other, to_login};
use crate::services::articles;
use crate::state::AppState;

#[tracing::instrument(skip(state, page))]
pub async fn submit(
    state: web::Data<AppState>,
    page: Page,
    slug: web::Path<String>,
    _: VerifiedForm<NoFields>,
) -> Result<HttpResponse, PageError> {
    let Some(user) = &page.viewer else {
        return Ok(to_login(&format!("/article/{slug}")));
    };
    articles::delete(&state, user.id, &slug).await?;
    page.flash("The article has been deleted.");
    Ok(see_other(&format!("/profile/{}", user.username)))
}
