//! Redirects after form posts (303, so a reload does not post again).

use actix_web::HttpResponse;
use actix_web::http::header::{self, HeaderValue};

/// Sends the browser to `location` with a GET (home, should `location` not
/// be a valid header value).
pub fn see_other(location: &str) -> HttpResponse {
    let location = HeaderValue::from_str(location).unwrap_or(HeaderValue::from_static("/"));
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// Sends a signed-out visitor to the sign-in page, to come back to `path`.
pub fn to_login(path: &str) -> HttpResponse {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("next", path)
        .finish();
    see_other(&format!("/login?{query}"))
}

/// `next` if it is a path on this site, else `fallback`: a form must not be
/// able to send the browser elsewhere.
pub fn local_or(next: &str, fallback: &str) -> String {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control);
    if local {
        next.to_string()
    } else {
        fallback.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_or("/article/x", "/"), "/article/x");
        assert_eq!(local_or("https://evil.example", "/"), "/");
        assert_eq!(local_or("//evil.example", "/"), "/");
        assert_eq!(local_or("/\\evil.example", "/"), "/");
        assert_eq!(local_or("", "/home"), "/home");
    }
}
