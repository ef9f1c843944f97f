//! `POST /article/{slug}/favorite`

use actix_web::{HttpResponse, web};

use crate::error::PageError;
use crate::routes::web::page::{NoFields, Page, VerifiedForm};
use crate::routes::web::redirect::{local_or, see_other, to_login};
use crate::services::articles;
use crate::state::AppState;

#[tracing::instrument(skip(state, page, form))]
pub async fn submit(
    state: web::Data<AppState>,
    page: Page,
    slug: web::Path<String>,
    VerifiedForm(form): VerifiedForm<NoFields>,
) -> Result<HttpResponse, PageError> {
    let article_path = format!("/article/{slug}");
    let Some(viewer) = page.viewer_id() else {
        return Ok(to_login(&article_path));
    };
    articles::favorite(&state, viewer, &slug).await?;
    Ok(see_other(&local_or(&form.next, &article_path)))
}
