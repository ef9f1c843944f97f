//! `/api/articles`: lists, the feed, one article, writing, favorites.

pub mod create;
pub mod delete;
pub mod favorite;
pub mod feed;
pub mod list;
pub mod show;
pub mod unfavorite;
pub mod update;

use serde::Deserialize;

use crate::domain::FieldErrors;
use crate::domain::paging::Window;
use crate::error::AppError;

/// `{"article": {...}}` request bodies.
#[derive(Deserialize)]
pub struct ArticleRequest<T> {
    pub article: T,
}

/// The `limit` and `offset` query parameters.
#[derive(Deserialize)]
pub struct Paging {
    limit: Option<String>,
    offset: Option<String>,
}

impl Paging {
    /// The window asked for, or 422 naming the bad parameter.
    pub fn window(&self) -> Result<Window, AppError> {
        Window::from_api(self.limit.as_deref(), self.offset.as_deref()).map_err(|problems| {
            let mut errors = FieldErrors::default();
            for (field, message) in problems {
                errors.add(field, message);
            }
            AppError::Validation(errors)
        })
    }
}
