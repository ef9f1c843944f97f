//! What a user shows about themselves: display name, bio, avatar.

use super::text;

/// An optional display name, up to 80 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// Parses a submitted name; empty means none.
    pub fn parse(raw: &str) -> Result<Self, String> {
        text::checked(raw, 0, 80, false).map(Self)
    }

    /// The name, possibly empty.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// An optional biography, up to 1000 characters over several lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bio(String);

impl Bio {
    /// Parses a submitted bio; empty means none.
    pub fn parse(raw: &str) -> Result<Self, String> {
        text::checked(raw, 0, 1000, true).map(Self)
    }

    /// The bio, possibly empty.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// An optional avatar: an absolute `http` or `https` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUrl(Option<String>);

impl ImageUrl {
    /// Parses a submitted URL; empty means the default avatar.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let value = text::checked(raw, 0, 2048, false)?;
        if value.is_empty() {
            return Ok(Self(None));
        }
        match url::Url::parse(&value) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                Ok(Self(Some(value)))
            }
            _ => Err("must be an http:// or https:// address".to_string()),
        }
    }

    /// The URL, or `None` for the default avatar.
    pub fn into_inner(self) -> Option<String> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avatars_must_be_web_addresses() {
        assert_eq!(ImageUrl::parse("").unwrap().into_inner(), None);
        assert!(ImageUrl::parse("https://example.com/a.png").is_ok());
        assert!(ImageUrl::parse("javascript:alert(1)").is_err());
        assert!(ImageUrl::parse("data:image/png;base64,AAAA").is_err());
        assert!(ImageUrl::parse("not a url").is_err());
    }

    #[test]
    fn bios_may_span_lines_but_names_may_not() {
        assert!(Bio::parse("line one\nline two").is_ok());
        assert!(DisplayName::parse("Ada\nLovelace").is_err());
        assert!(Bio::parse(&"b".repeat(1001)).is_err());
    }
}
