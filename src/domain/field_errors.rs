//! Validation messages gathered per input field.
//!
//! Both faces of the app show them: the API lists them in the RealWorld error
//! shape, the pages print each one under its field.

/// The fields of one submission that failed validation, in the order checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(Vec<(&'static str, String)>);

impl FieldErrors {
    /// An error list holding one message.
    pub fn single(field: &'static str, message: impl Into<String>) -> Self {
        let mut errors = Self::default();
        errors.add(field, message);
        errors
    }

    /// Records `message` for `field`.
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push((field, message.into()));
    }

    /// Keeps the value of a successful parse, or records its message.
    pub fn check<T>(&mut self, field: &'static str, parsed: Result<T, String>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(message) => {
                self.add(field, message);
                None
            }
        }
    }

    /// Whether nothing failed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first message recorded for `field`.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| *name == field)
            .map(|(_, message)| message.as_str())
    }

    /// Every message, each prefixed with its field: `username can't be blank`.
    pub fn sentences(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|(field, message)| format!("{field} {message}"))
            .collect()
    }

    /// Adds every message of `other`.
    pub fn extend(&mut self, other: FieldErrors) {
        self.0.extend(other.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_kept_in_order_and_prefixed() {
        let mut errors = FieldErrors::default();
        assert_eq!(
            errors.check::<u8>("email", Err("can't be blank".into())),
            None
        );
        assert_eq!(errors.check("bio", Ok(3)), Some(3));
        errors.add("password", "is too short");
        assert_eq!(errors.get("email"), Some("can't be blank"));
        assert_eq!(errors.get("bio"), None);
        assert_eq!(
            errors.sentences(),
            ["email can't be blank", "password is too short"]
        );
    }
}
