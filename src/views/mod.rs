//! HTML pages, rendered by askama from `templates/`. Each page is a struct
//! holding what its template shows; askama escapes every value it prints.

pub mod account;
pub mod architecture;
pub mod article;
mod error;
pub mod home;
pub mod people;
pub mod profile;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

pub use error::ErrorPage;

use crate::domain::paging::Cursor;
use crate::error::{AppError, PageError};

/// Renders `template` as a page with `status`.
pub fn render_with_status(
    status: StatusCode,
    template: &impl Template,
) -> Result<HttpResponse, PageError> {
    let html = template
        .render()
        .map_err(|error| AppError::Internal(anyhow::anyhow!("rendering a page: {error}")))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(html))
}

/// Renders `template` with an `ETag`; answers 304 Not Modified when the
/// browser already has this very page (`If-None-Match`).
pub fn render_validated(
    request: &HttpRequest,
    template: &impl Template,
) -> Result<HttpResponse, PageError> {
    let html = template
        .render()
        .map_err(|error| AppError::Internal(anyhow::anyhow!("rendering a page: {error}")))?;
    let etag = format!("W/\"{:016x}\"", fnv1a(html.as_bytes()));
    let known = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',').map(str::trim).any(|tag| {
                tag == "*" || tag.trim_start_matches("W/") == etag.trim_start_matches("W/")
            })
        });
    let mut response = if known {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response.insert_header((header::ETAG, etag));
    Ok(if known {
        response.finish()
    } else {
        response.content_type("text/html; charset=utf-8").body(html)
    })
}

/// FNV-1a: a fast, stable 64-bit hash, plenty for telling pages apart.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Renders `template` as a 200 page.
pub fn render(template: &impl Template) -> Result<HttpResponse, PageError> {
    render_with_status(StatusCode::OK, template)
}

/// Renders a form page again with its field errors: 422, like the API.
pub fn render_invalid(template: &impl Template) -> Result<HttpResponse, PageError> {
    render_with_status(StatusCode::UNPROCESSABLE_ENTITY, template)
}

/// "Newer / Older" (or "Previous / Next") links of a list paged by cursor.
pub struct KeysetLinks {
    pub newer: Option<String>,
    pub older: Option<String>,
}

impl KeysetLinks {
    /// Links to the pages around one of `path` with `pairs` in its query.
    pub fn new(
        path: &str,
        pairs: &[(&str, &str)],
        newer: Option<Cursor>,
        older: Option<Cursor>,
    ) -> Self {
        let link = |key: &str, cursor: Cursor| {
            let cursor = cursor.to_param();
            let mut all = pairs.to_vec();
            all.push((key, &cursor));
            href(path, &all)
        };
        Self {
            newer: newer.map(|cursor| link("after", cursor)),
            older: older.map(|cursor| link("before", cursor)),
        }
    }

    /// Links to the pages before and after one of a list in name order: the
    /// previous page ends before `previous`, the next starts after `next`.
    pub fn by_name(
        path: &str,
        pairs: &[(&str, &str)],
        previous: Option<&str>,
        next: Option<&str>,
    ) -> Self {
        let link = |key: &str, name: &str| {
            let mut all = pairs.to_vec();
            all.push((key, name));
            href(path, &all)
        };
        Self {
            newer: previous.map(|name| link("before", name)),
            older: next.map(|name| link("after", name)),
        }
    }
}

/// `path` with `pairs` as its query string (values escaped), leaving out empty values.
pub fn href(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (key, value) in pairs.iter().filter(|(_, value)| !value.is_empty()) {
        query.append_pair(key, value);
        any = true;
    }
    if any {
        format!("{path}?{}", query.finish())
    } else {
        path.to_string()
    }
}
