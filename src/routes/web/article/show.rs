//! `GET /article/{slug}`: the article, rendered from Markdown, with comments.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use crate::content::markdown;
use crate::error::PageError;
use crate::routes::web::page::Page;
use crate::services::{articles, comments};
use crate::state::AppState;
use crate::views::article::ArticleShowPage;
use crate::views::render_with_status;

pub async fn show(
    state: web::Data<AppState>,
    page: Page,
    slug: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    render_article(&state, &page, &slug, "", None).await
}

/// Renders the article page, with a comment draft and its error when a
/// comment failed validation.
#[tracing::instrument(skip(state, page, draft))]
pub async fn render_article(
    state: &AppState,
    page: &Page,
    slug: &str,
    draft: &str,
    draft_error: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let article = articles::show(state, slug, page.viewer_id()).await?;
    let comments = comments::list_for_article(state, article.summary.id, page.viewer_id()).await?;
    let body_html = markdown::render(article.body.as_deref().unwrap_or_default());
    let status = if draft_error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render_with_status(
        status,
        &ArticleShowPage {
            page,
            article: &article,
            body_html,
            comments: &comments,
            comment_draft: draft,
            comment_error: draft_error,
        },
    )
}
