//! What the cache holds, under which keys, and what each kind of write must
//! forget. Entries hold only what every viewer sees; whether *this* viewer
//! follows an author or favorited an article is looked up separately.

use std::time::Duration;

use crate::tiers::cache::Invalidation;

/// The generation every cached page of the global article list is keyed
/// under: advancing it orphans them all at once.
pub const LIST_GENERATION: &str = "articles";

/// How deep into the global list pages are cached (the first pages are
/// the hot ones).
pub const CACHED_LIST_DEPTH: i64 = 100;

/// The two tag lists: the sidebar's and the API's.
pub const TAG_LIST_SIZES: [i64; 2] = [20, 100];

/// A profile, by username in any case.
pub fn profile(username: &str) -> String {
    format!("profile:{}", username.to_lowercase())
}

/// A user's follower and following counts.
pub fn follow_counts(user_id: i64) -> String {
    format!("follows:{user_id}")
}

/// An article with its body, by slug.
pub fn article(slug: &str) -> String {
    format!("article:{slug}")
}

/// The comments on an article.
pub fn comments(article_id: i64) -> String {
    format!("comments:{article_id}")
}

/// The `limit` most used tags.
pub fn tags(limit: i64) -> String {
    format!("tags:{limit}")
}

/// A page of the global article list under a generation.
pub fn list(generation: u64, limit: i64, offset: i64) -> String {
    format!("articles:{generation}:{limit}:{offset}")
}

/// A TTL in seconds.
pub fn ttl(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

/// After an article was written: its entries (under every slug it had), the
/// global list, and the tag lists when its tags may have changed.
pub fn article_written(slugs: &[&str], tags_changed: bool) -> Invalidation {
    let mut keys: Vec<String> = slugs.iter().map(|slug| article(slug)).collect();
    if tags_changed {
        keys.extend(TAG_LIST_SIZES.map(tags));
    }
    Invalidation {
        keys,
        generations: vec![LIST_GENERATION.to_string()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_keys_ignore_case() {
        assert_eq!(profile("Jake"), profile("jake"));
    }

    #[test]
    fn an_article_write_forgets_the_lists_too() {
        let forget = article_written(&["old", "new"], true);
        assert_eq!(
            forget.keys,
            ["article:old", "article:new", "tags:20", "tags:100"]
        );
        assert_eq!(forget.generations, ["articles"]);
    }
}
