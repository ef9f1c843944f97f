//! Account credentials: usernames, email addresses, passwords.

use secrecy::SecretString;

use super::text;

/// A username: 1 to 40 ASCII letters, digits, `_` or `-`, unique without regard to case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Longest accepted username.
    pub const MAX: usize = 40;

    /// Parses a submitted username.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let value = text::checked(raw, 1, Self::MAX, false)?;
        if !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err("may only contain letters, digits, `_` and `-`".to_string());
        }
        Ok(Self(value))
    }

    /// The username as typed.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address, stored as typed and compared without case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses a submitted email address.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let value = text::checked(raw, 1, 254, false)?;
        let invalid = || "is invalid".to_string();
        let (local, domain) = value.rsplit_once('@').ok_or_else(invalid)?;
        let well_formed = !local.is_empty()
            && local.len() <= 64
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && domain.contains('.')
            && !domain.contains("..")
            && !value.chars().any(char::is_whitespace)
            && !domain.contains('@');
        if well_formed {
            Ok(Self(value))
        } else {
            Err(invalid())
        }
    }

    /// The address as typed.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password: 8 to 128 characters, kept secret in memory and logs.
#[derive(Debug, Clone)]
pub struct Password(SecretString);

impl Password {
    /// Parses a password being set. Spaces count: they are not trimmed.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() {
            return Err("can't be blank".to_string());
        }
        let length = raw.chars().count();
        if length < 8 {
            return Err("is too short (minimum is 8 characters)".to_string());
        }
        if length > 128 {
            return Err("is too long (maximum is 128 characters)".to_string());
        }
        if raw.contains('\0') {
            return Err("contains characters that are not allowed".to_string());
        }
        Ok(Self(SecretString::from(raw.to_string())))
    }

    /// The secret itself.
    pub fn secret(&self) -> &SecretString {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_ascii_words() {
        assert_eq!(Username::parse(" jake_1 ").unwrap().as_str(), "jake_1");
        assert_eq!(Username::parse("").unwrap_err(), "can't be blank");
        assert!(Username::parse("jake smith").is_err());
        assert!(Username::parse("<script>").is_err());
        assert!(Username::parse("jos\u{e9}").is_err());
        assert!(Username::parse(&"a".repeat(41)).is_err());
        assert!(Username::parse(&"a".repeat(40)).is_ok());
    }

    #[test]
    fn email_addresses_need_a_local_part_and_a_domain() {
        assert!(EmailAddress::parse("jake@jake.jake").is_ok());
        assert_eq!(EmailAddress::parse("").unwrap_err(), "can't be blank");
        for bad in [
            "jake",
            "@jake.jake",
            "jake@",
            "jake@jake",
            "ja ke@x.y",
            "a@b..c",
            "a@.b.c",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_have_bounded_length() {
        assert!(Password::parse("jakejake").is_ok());
        assert!(Password::parse("   spaces   ").is_ok());
        assert_eq!(Password::parse("").unwrap_err(), "can't be blank");
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"x".repeat(129)).is_err());
    }
}
