//! `GET|POST /editor`: write a new article.

use actix_web::{HttpResponse, web};

use crate::domain::FieldErrors;
use crate::error::{AppError, PageError};
use crate::routes::web::page::{Page, VerifiedForm};
use crate::routes::web::redirect::{see_other, to_login};
use crate::services::articles::{self, Draft, TagInput};
use crate::state::AppState;
use crate::views::article::{ArticleForm, EditorPage};
use crate::views::{render, render_invalid};

pub async fn form(page: Page) -> Result<HttpResponse, PageError> {
    if page.viewer.is_none() {
        return Ok(to_login("/editor"));
    }
    render(&EditorPage {
        page: &page,
        slug: None,
        form: &ArticleForm::default(),
        errors: &FieldErrors::default(),
    })
}

#[tracing::instrument(skip_all)]
pub async fn submit(
    state: web::Data<AppState>,
    page: Page,
    VerifiedForm(form): VerifiedForm<ArticleForm>,
) -> Result<HttpResponse, PageError> {
    let Some(user) = &page.viewer else {
        return Ok(to_login("/editor"));
    };
    let draft = Draft {
        title: &form.title,
        description: &form.description,
        body: &form.body,
        tags: TagInput::Field(&form.tags),
    };
    match articles::publish(&state, user, draft).await {
        Ok(article) => Ok(see_other(&format!("/article/{}", article.summary.slug))),
        Err(AppError::Validation(errors)) => render_invalid(&EditorPage {
            page: &page,
            slug: None,
            form: &form,
            errors: &errors,
        }),
        Err(other) => Err(other.into()),
    }
}
