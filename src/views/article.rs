//! The article page and the editor.

use askama::Template;
use serde::Deserialize;

use crate::domain::FieldErrors;
use crate::routes::web::page::Page;
use crate::services::{ArticleView, CommentView};

/// An article with its comments.
#[derive(Template)]
#[template(path = "article.html")]
pub struct ArticleShowPage<'a> {
    pub page: &'a Page,
    pub article: &'a ArticleView,
    /// The body rendered from Markdown and sanitized.
    pub body_html: String,
    pub comments: &'a [CommentView],
    /// A comment being written, kept when it failed validation.
    pub comment_draft: &'a str,
    pub comment_error: Option<&'a str>,
}

/// The editor form as submitted or prefilled.
#[derive(Debug, Default, Deserialize)]
pub struct ArticleForm {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub tags: String,
}

/// The editor, for a new article or an existing one.
#[derive(Template)]
#[template(path = "editor.html")]
pub struct EditorPage<'a> {
    pub page: &'a Page,
    /// The article being edited; `None` for a new one.
    pub slug: Option<&'a str>,
    pub form: &'a ArticleForm,
    pub errors: &'a FieldErrors,
}
