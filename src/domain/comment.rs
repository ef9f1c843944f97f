//! Comment text.

use super::text;

/// A comment, 1 to 5000 characters over any number of lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentBody(String);

impl CommentBody {
    /// Parses a submitted comment.
    pub fn parse(raw: &str) -> Result<Self, String> {
        text::checked(raw, 1, 5000, true).map(Self)
    }

    /// The comment text.
    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_must_say_something() {
        assert_eq!(CommentBody::parse(" \n ").unwrap_err(), "can't be blank");
        assert!(CommentBody::parse("Nice\npost").is_ok());
        assert!(CommentBody::parse(&"c".repeat(5001)).is_err());
    }
}
