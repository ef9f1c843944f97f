//! Rules shared by every free-text field.

/// Trims `raw` and checks its length in characters and its characters.
///
/// PostgreSQL cannot store NUL, and control characters have no place in
/// user-visible text; newlines and tabs are allowed only where `multiline`.
pub fn checked(raw: &str, min: usize, max: usize, multiline: bool) -> Result<String, String> {
    let value = raw.trim();
    if value.is_empty() && min > 0 {
        return Err("can't be blank".to_string());
    }
    let length = value.chars().count();
    if length < min {
        return Err(format!("is too short (minimum is {min} characters)"));
    }
    if length > max {
        return Err(format!("is too long (maximum is {max} characters)"));
    }
    let allowed = |c: char| !c.is_control() || (multiline && matches!(c, '\n' | '\r' | '\t'));
    if !value.chars().all(allowed) {
        return Err("contains characters that are not allowed".to_string());
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_short_long_and_control_characters_are_refused() {
        assert_eq!(checked("  ", 1, 5, false).unwrap_err(), "can't be blank");
        assert!(
            checked("ab", 3, 5, false)
                .unwrap_err()
                .contains("minimum is 3")
        );
        assert!(
            checked("abcdef", 1, 5, false)
                .unwrap_err()
                .contains("maximum is 5")
        );
        assert!(checked("a\0b", 1, 5, false).is_err());
        assert!(checked("a\nb", 1, 5, false).is_err());
        assert_eq!(checked(" a\nb ", 1, 5, true).unwrap(), "a\nb");
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert!(checked("ééééé", 1, 5, false).is_ok());
    }
}
