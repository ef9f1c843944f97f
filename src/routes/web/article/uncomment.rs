//! `POST /article/{slug}/comments/{id}/delete`: delete one's own comment.

use actix_web::{HttpResponse, web};

use crate::error::{AppError, PageError};
use crate::routes::web::page::{NoFields, Page, VerifiedForm};
use crate::routes::web::redirect::{see_other, to_login};
use crate::services::comments;
use crate::state::AppState;

#[tracing::instrument(skip(state, page))]
pub async fn submit(
    state: web::Data<AppState>,
    page: Page,
    path: web::Path<(String, String)>,
    _: VerifiedForm<NoFields>,
) -> Result<HttpResponse, PageError> {
    let (slug, id) = path.into_inner();
    let Some(viewer) = page.viewer_id() else {
        return Ok(to_login(&format!("/article/{slug}")));
    };
    let id: i64 = id.parse().map_err(|_| AppError::NotFound("comment"))?;
    comments::delete(&state, viewer, &slug, id).await?;
    Ok(see_other(&format!("/article/{slug}#comments")))
}
