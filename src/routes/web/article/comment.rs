//! `POST /article/{slug}/comments`: add a comment.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::show::render_article;
use crate::error::{AppError, PageError};
use crate::routes::web::page::{Page, VerifiedForm};
use crate::routes::web::redirect::{see_other, to_login};
use crate::services::comments;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct CommentForm {
    #[serde(default)]
    body: String,
}

#[tracing::instrument(skip(state, page, form))]
pub async fn submit(
    state: web::Data<AppState>,
    page: Page,
    slug: web::Path<String>,
    VerifiedForm(form): VerifiedForm<CommentForm>,
) -> Result<HttpResponse, PageError> {
    let Some(user) = &page.viewer else {
        return Ok(to_login(&format!("/article/{slug}")));
    };
    match comments::add(&state, user, &slug, &form.body).await {
        Ok(comment) => Ok(see_other(&format!(
            "/article/{slug}#comment-{}",
            comment.id
        ))),
        Err(AppError::Validation(errors)) => {
            let message = errors.get("body").unwrap_or("is not valid").to_string();
            render_article(&state, &page, &slug, &form.body, Some(&message)).await
        }
        Err(other) => Err(other.into()),
    }
}
