//! The page shown when a request fails.

use actix_web::http::StatusCode;
use askama::Template;

use crate::error::AppError;

/// An error page: the status, a title and what the user can do.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub status: u16,
    pub title: &'static str,
    pub messages: Vec<String>,
}

impl ErrorPage {
    /// The page for `error`.
    pub fn new(status: StatusCode, error: &AppError) -> Self {
        let title = match status.as_u16() {
            401 => "Please sign in",
            403 => "Not allowed",
            404 => "Page not found",
            413 => "Too much data",
            422 => "That did not work",
            503 => "Busy right now",
            _ => "Something went wrong",
        };
        Self {
            status: status.as_u16(),
            title,
            messages: error.sentences(),
        }
    }

    /// The rendered page, or plain text should rendering itself fail.
    pub fn render_or_plain(&self) -> String {
        self.render()
            .unwrap_or_else(|_| format!("{} {}", self.status, self.title))
    }
}
