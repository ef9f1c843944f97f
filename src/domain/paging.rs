//! Pagination: the API's `limit`/`offset`, and the pages' "Newer / Older"
//! links, which carry a cursor (the time and id of the last article shown)
//! so that page 5,000 costs what page 1 costs.

use chrono::{DateTime, Utc};

/// A window into a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// How many items to return.
    pub limit: i64,
    /// How many items to skip.
    pub offset: i64,
}

impl Window {
    /// Largest `limit` the API accepts.
    pub const MAX_LIMIT: i64 = 100;
    /// Largest `offset` the API accepts. Skipping is an index-only walk,
    /// cheap but proportional to the offset, so it is bounded; the pages use
    /// cursors instead and have no such limit.
    pub const MAX_OFFSET: i64 = 100_000;
    /// Largest `offset` the API's feed accepts: the feed reads `offset +
    /// limit` keys of every followed author to find a page.
    pub const MAX_FEED_OFFSET: i64 = 1_000;
    /// Items per page on the HTML pages.
    pub const PAGE_SIZE: i64 = 10;

    /// Parses the API's `limit` (default 20) and `offset` (default 0).
    pub fn from_api(
        limit: Option<&str>,
        offset: Option<&str>,
    ) -> Result<Self, Vec<(&'static str, String)>> {
        let mut errors = Vec::new();
        let limit = parse_bounded(limit, 20, 1, Self::MAX_LIMIT)
            .map_err(|message| errors.push(("limit", message)))
            .ok();
        let offset = parse_bounded(offset, 0, 0, Self::MAX_OFFSET)
            .map_err(|message| errors.push(("offset", message)))
            .ok();
        match (limit, offset) {
            (Some(limit), Some(offset)) => Ok(Self { limit, offset }),
            _ => Err(errors),
        }
    }
}

/// A place in a list shown newest first: an article's time and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub id: i64,
}

impl Cursor {
    /// Reads a cursor from a link (`{microseconds}.{id}`); anything else is
    /// no cursor at all.
    pub fn parse(raw: &str) -> Option<Self> {
        let (micros, id) = raw.trim().split_once('.')?;
        // Years 1 to 9999: well inside what PostgreSQL can store.
        let micros: i64 = micros.parse().ok()?;
        if !(-62_135_596_800_000_000..=253_402_300_799_999_999).contains(&micros) {
            return None;
        }
        let at = DateTime::from_timestamp_micros(micros)?;
        let id = id.parse().ok().filter(|id: &i64| *id > 0)?;
        Some(Self { at, id })
    }

    /// The cursor as a link carries it.
    pub fn to_param(self) -> String {
        format!("{}.{}", self.at.timestamp_micros(), self.id)
    }
}

/// A place in the people directory: the name or username a person matched
/// by (lowercase) and their id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameCursor {
    pub key: String,
    pub id: i64,
}

impl NameCursor {
    /// Reads a cursor from a link (`{id}.{key}`); anything else is none.
    pub fn parse(raw: &str) -> Option<Self> {
        let (id, key) = raw.split_once('.')?;
        let id = id.parse().ok().filter(|id: &i64| *id > 0)?;
        let plausible =
            !key.is_empty() && key.chars().count() <= 100 && !key.chars().any(char::is_control);
        plausible.then(|| Self {
            key: key.to_string(),
            id,
        })
    }

    /// The cursor as a link carries it.
    pub fn to_param(&self) -> String {
        format!("{}.{}", self.id, self.key)
    }
}

/// Which part of the people directory to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamePosition {
    /// From the start.
    Start,
    /// The people just after this one.
    After(NameCursor),
    /// The people just before this one.
    Before(NameCursor),
}

/// Which part of a list to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// Skip this many items (the API).
    Offset(i64),
    /// The items just older than this one.
    Older(Cursor),
    /// The items just newer than this one.
    Newer(Cursor),
}

impl Position {
    /// The position a page's `?before=` or `?after=` asks for; the newest
    /// items when neither holds a cursor.
    pub fn from_page(before: Option<&str>, after: Option<&str>) -> Self {
        match (
            before.and_then(Cursor::parse),
            after.and_then(Cursor::parse),
        ) {
            (Some(cursor), _) => Self::Older(cursor),
            (None, Some(cursor)) => Self::Newer(cursor),
            (None, None) => Self::Offset(0),
        }
    }
}

fn parse_bounded(raw: Option<&str>, default: i64, min: i64, max: i64) -> Result<i64, String> {
    let Some(raw) = raw.map(str::trim).filter(|raw| !raw.is_empty()) else {
        return Ok(default);
    };
    match raw.parse::<i64>() {
        Ok(value) if (min..=max).contains(&value) => Ok(value),
        _ => Err(format!("must be a whole number from {min} to {max}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_windows_have_defaults_and_bounds() {
        assert_eq!(
            Window::from_api(None, None).unwrap(),
            Window {
                limit: 20,
                offset: 0
            }
        );
        assert_eq!(
            Window::from_api(Some("5"), Some("10")).unwrap(),
            Window {
                limit: 5,
                offset: 10
            }
        );
        let errors = Window::from_api(Some("0"), Some("-1")).unwrap_err();
        assert_eq!(errors.len(), 2);
        assert!(Window::from_api(Some("abc"), None).is_err());
        assert!(Window::from_api(None, Some("99999999999999999999999")).is_err());
        assert!(Window::from_api(Some("101"), None).is_err());
        assert!(Window::from_api(None, Some("100000")).is_ok());
        assert!(Window::from_api(None, Some("100001")).is_err());
    }

    #[test]
    fn cursors_round_trip_and_junk_is_no_cursor() {
        let cursor = Cursor {
            at: DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap(),
            id: 42,
        };
        assert_eq!(Cursor::parse(&cursor.to_param()), Some(cursor));
        for junk in [
            "",
            "42",
            "abc.1",
            "1.abc",
            "1.-5",
            "1.0",
            "99999999999999999999.1",
            "-300000000000000000.1",
            "300000000000000000.1",
        ] {
            assert_eq!(Cursor::parse(junk), None, "{junk}");
        }
        assert_eq!(
            Position::from_page(Some(&cursor.to_param()), None),
            Position::Older(cursor)
        );
        assert_eq!(
            Position::from_page(None, Some(&cursor.to_param())),
            Position::Newer(cursor)
        );
        assert_eq!(Position::from_page(Some("junk"), None), Position::Offset(0));
    }
}
