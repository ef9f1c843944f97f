//! Markdown to safe HTML: pulldown-cmark renders, ammonia removes anything
//! that could run script or break out of the article (tags, attributes and
//! URL schemes outside its allow-list), and links get `rel="noopener nofollow ugc"`.

use pulldown_cmark::{Options, Parser, html};

/// Renders `markdown` to sanitized HTML.
pub fn render(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES;
    let mut unsafe_html = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut unsafe_html, Parser::new_ext(markdown, options));
    ammonia::Builder::default()
        .link_rel(Some("noopener nofollow ugc"))
        .clean(&unsafe_html)
        .to_string()
}

/// Renders `markdown` on a blocking thread: a long body takes milliseconds,
/// which an async worker must not spend.
pub async fn render_off_thread(markdown: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || render(&markdown))
        .await
        .map_err(|error| anyhow::anyhow!("rendering Markdown: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_html() {
        let html = render("# Title\n\nSome *emphasis* and `code`.");
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<em>emphasis</em>"), "{html}");
        assert!(html.contains("<code>code</code>"), "{html}");
    }

    #[test]
    fn scripts_and_handlers_are_removed() {
        let html = render("<script>alert(1)</script><img src=x onerror=alert(1)>");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        let link = render("[click](javascript:alert(1))");
        assert!(!link.contains("javascript:"), "{link}");
    }

    #[test]
    fn links_cannot_pass_on_trust() {
        let html = render("[site](https://example.com)");
        assert!(html.contains("rel=\"noopener nofollow ugc\""), "{html}");
    }
}
