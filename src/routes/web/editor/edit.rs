//! `GET|POST /editor/{slug}`: the author edits their article.

use actix_web::{HttpResponse, web};

use crate::domain::FieldErrors;
use crate::error::{AppError, PageError};
use crate::routes::web::page::{Page, VerifiedForm};
use crate::routes::web::redirect::{see_other, to_login};
use crate::services::articles::{self, Revision, TagInput};
use crate::state::AppState;
use crate::views::article::{ArticleForm, EditorPage};
use crate::views::{render, render_invalid};

pub async fn form(
    state: web::Data<AppState>,
    page: Page,
    slug: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let Some(user) = &page.viewer else {
        return Ok(to_login(&format!("/editor/{slug}")));
    };
    let article = articles::show(&state, &slug, Some(user.id)).await?;
    if article.author.id != user.id {
        return Err(AppError::Forbidden("edit someone else's article").into());
    }
    let form = ArticleForm {
        title: article.summary.title.clone(),
        description: article.summary.description.clone(),
        body: article.body.clone().unwrap_or_default(),
        tags: article.tags.join(" "),
    };
    render(&EditorPage {
        page: &page,
        slug: Some(&article.summary.slug),
        form: &form,
        errors: &FieldErrors::default(),
    })
}

#[tracing::instrument(skip(state, page, form))]
pub async fn submit(
    state: web::Data<AppState>,
    page: Page,
    slug: web::Path<String>,
    VerifiedForm(form): VerifiedForm<ArticleForm>,
) -> Result<HttpResponse, PageError> {
    let Some(user) = &page.viewer else {
        return Ok(to_login(&format!("/editor/{slug}")));
    };
    let revision = Revision {
        title: Some(&form.title),
        description: Some(&form.description),
        body: Some(&form.body),
        tags: TagInput::Field(&form.tags),
    };
    match articles::revise(&state, user, &slug, revision).await {
        Ok(article) => Ok(see_other(&format!("/article/{}", article.summary.slug))),
        Err(AppError::Validation(errors)) => render_invalid(&EditorPage {
            page: &page,
            slug: Some(&slug),
            form: &form,
            errors: &errors,
        }),
        Err(other) => Err(other.into()),
    }
}
