//! `GET /article/{slug}`: the article, rendered from Markdown, with comments.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::content::markdown;
use crate::error::PageError;
use crate::routes::web::page::Page;
use crate::services::{ArticleView, CommentView};
use crate::services::{articles, comments};
use crate::state::AppState;
use crate::views::article::ArticleShowPage;
use crate::views::{render_validated, render_with_status};

pub async fn show(
    state: web::Data<AppState>,
    page: Page,
    request: HttpRequest,
    slug: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let (article, comments) = load(&state, &page, &slug).await?;
    render_validated(&request, &view(&page, &article, &comments, "", None))
}

async fn load(
    state: &AppState,
    page: &Page,
    slug: &str,
) -> Result<(ArticleView, Vec<CommentView>), PageError> {
    let article = articles::show(state, slug, page.viewer_id()).await?;
    let comments = comments::list_for_article(state, article.summary.id, page.viewer_id()).await?;
    Ok((article, comments))
}

fn view<'a>(
    page: &'a Page,
    article: &'a ArticleView,
    comments: &'a [CommentView],
    draft: &'a str,
    draft_error: Option<&'a str>,
) -> ArticleShowPage<'a> {
    ArticleShowPage {
        page,
        article,
        // Rendered when written; articles from before that are rendered now.
        body_html: article
            .body_html
            .clone()
            .unwrap_or_else(|| markdown::render(article.body.as_deref().unwrap_or_default())),
        comments,
        comment_draft: draft,
        comment_error: draft_error,
    }
}

/// Renders the article page again with a comment that failed validation.
#[tracing::instrument(skip(state, page, draft))]
pub async fn render_article(
    state: &AppState,
    page: &Page,
    slug: &str,
    draft: &str,
    draft_error: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let (article, comments) = load(state, page, slug).await?;
    render_with_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        &view(page, &article, &comments, draft, draft_error),
    )
}
