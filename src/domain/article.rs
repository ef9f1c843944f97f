//! Article fields, tags and slugs.

use std::collections::BTreeSet;

use super::text;

/// An article title, 1 to 200 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    /// Parses a submitted title.
    pub fn parse(raw: &str) -> Result<Self, String> {
        text::checked(raw, 1, 200, false).map(Self)
    }

    /// The title text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The slug this title gives: lowercase words joined by hyphens.
    pub fn slug(&self) -> String {
        let slug = slug::slugify(&self.0);
        let mut cut = String::new();
        for word in slug.split('-') {
            if !cut.is_empty() && cut.len() + word.len() + 1 > 80 {
                break;
            }
            if !cut.is_empty() {
                cut.push('-');
            }
            cut.push_str(word);
        }
        cut.truncate(80);
        if cut.is_empty() {
            "article".to_string()
        } else {
            cut
        }
    }
}

/// A short description shown in lists, 1 to 300 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(String);

impl Description {
    /// Parses a submitted description.
    pub fn parse(raw: &str) -> Result<Self, String> {
        text::checked(raw, 1, 300, false).map(Self)
    }

    /// The description text.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// An article body in Markdown, 1 to 60 000 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body(String);

impl Body {
    /// Parses a submitted body.
    pub fn parse(raw: &str) -> Result<Self, String> {
        text::checked(raw, 1, 60_000, true).map(Self)
    }

    /// The Markdown source.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Up to ten distinct tags, sorted by name (as the RealWorld reference back
/// end returns them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagList(Vec<String>);

impl TagList {
    /// Most tags on one article.
    pub const MAX_TAGS: usize = 10;
    /// Longest tag.
    pub const MAX_LENGTH: usize = 40;
    /// Most entries a submitted list may have, repeats and blanks included:
    /// anything longer is refused before a single entry is looked at.
    pub const MAX_ENTRIES: usize = 100;

    /// Parses a list of tags (the API's `tagList`).
    ///
    /// The cost is bounded whatever is sent: the length of the list is
    /// checked first, duplicates are found in a set, and parsing stops at the
    /// first tag beyond the limit.
    pub fn parse<S: AsRef<str>>(raw: &[S]) -> Result<Self, String> {
        let too_many = || format!("has too many tags (maximum is {})", Self::MAX_TAGS);
        if raw.len() > Self::MAX_ENTRIES {
            return Err(too_many());
        }
        let mut tags = BTreeSet::new();
        for tag in raw {
            let tag = Self::parse_one(tag.as_ref())?;
            if !tag.is_empty() {
                tags.insert(tag);
                if tags.len() > Self::MAX_TAGS {
                    return Err(too_many());
                }
            }
        }
        Ok(Self(tags.into_iter().collect()))
    }

    /// Parses tags typed in one field, separated by spaces or commas (the editor page).
    pub fn parse_field(raw: &str) -> Result<Self, String> {
        let words: Vec<&str> = raw
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|word| !word.is_empty())
            .take(Self::MAX_ENTRIES + 1)
            .collect();
        Self::parse(&words)
    }

    fn parse_one(raw: &str) -> Result<String, String> {
        let tag = text::checked(raw, 0, Self::MAX_LENGTH, false)
            .map_err(|message| format!("tag {message}"))?;
        if tag.chars().any(|c| c.is_whitespace() || c == ',') {
            return Err("tags may not contain spaces or commas".to_string());
        }
        Ok(tag)
    }

    /// The tags, sorted by name.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// The tags joined by spaces, as the editor shows them.
    pub fn to_field(&self) -> String {
        self.0.join(" ")
    }
}

/// A slug taken from a URL: checked before it reaches the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    /// Accepts what [`Title::slug`] and its suffixes can produce; anything else
    /// cannot name an article.
    pub fn parse(raw: &str) -> Option<Self> {
        let plausible = !raw.is_empty()
            && raw.len() <= 100
            && raw
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        plausible.then(|| Self(raw.to_string()))
    }

    /// The slug text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_give_readable_slugs() {
        let title = Title::parse("How to train your Dragon!").unwrap();
        assert_eq!(title.slug(), "how-to-train-your-dragon");
        assert_eq!(Title::parse("!!!").unwrap().slug(), "article");
        assert_eq!(Title::parse("Ça va, Zoë?").unwrap().slug(), "ca-va-zoe");
        let long = Title::parse(&"word ".repeat(40)).unwrap().slug();
        assert!(long.len() <= 80 && !long.ends_with('-'), "{long}");
    }

    #[test]
    fn tag_lists_drop_duplicates_and_blanks_and_sort_by_name() {
        let tags = TagList::parse(&["web", "rust", "web", " "]).unwrap();
        assert_eq!(tags.as_slice(), ["rust", "web"]);
        let typed = TagList::parse_field("training, dragons  rust").unwrap();
        assert_eq!(typed.as_slice(), ["dragons", "rust", "training"]);
    }

    #[test]
    fn tag_lists_are_bounded() {
        let many: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
        assert!(TagList::parse(&many).is_err());
        assert!(TagList::parse(&["two words"]).is_err());
        assert!(TagList::parse(&["x".repeat(41)]).is_err());
        let repeated = vec!["rust"; TagList::MAX_ENTRIES];
        assert_eq!(TagList::parse(&repeated).unwrap().as_slice(), ["rust"]);
    }

    #[test]
    fn hostile_tag_lists_are_refused_at_once() {
        let many: Vec<String> = (0..40_000).map(|i| format!("tag{i}")).collect();
        let error = TagList::parse(&many).unwrap_err();
        assert!(error.contains("too many tags"), "{error}");
        let typed = many.join(" ");
        assert!(TagList::parse_field(&typed).is_err());
        let repeated = vec!["rust"; TagList::MAX_ENTRIES + 1];
        assert!(TagList::parse(&repeated).is_err());
    }

    #[test]
    fn parsing_stops_at_the_first_tag_beyond_the_limit() {
        // Were the whole list parsed, the NUL at the end would be the error.
        let mut eleven: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
        eleven.push("bad\0tag".to_string());
        let error = TagList::parse(&eleven).unwrap_err();
        assert!(error.contains("too many tags"), "{error}");
        // Too long a list is refused before any entry is looked at.
        let mut long = vec!["bad\0tag".to_string()];
        long.extend((0..TagList::MAX_ENTRIES).map(|_| "rust".to_string()));
        let error = TagList::parse(&long).unwrap_err();
        assert!(error.contains("too many tags"), "{error}");
    }

    #[test]
    fn slugs_from_urls_are_checked() {
        assert!(Slug::parse("how-to-train-your-dragon").is_some());
        assert!(Slug::parse("").is_none());
        assert!(Slug::parse("'; DROP TABLE articles; --").is_none());
        assert!(Slug::parse(&"a".repeat(101)).is_none());
    }

    #[test]
    fn bodies_keep_their_lines() {
        assert_eq!(
            Body::parse("# Hi\n\ntext").unwrap().into_inner(),
            "# Hi\n\ntext"
        );
        assert_eq!(Body::parse("").unwrap_err(), "can't be blank");
    }
}
