//! One error type for the whole application, shown two ways: as the RealWorld
//! JSON error shape on `/api` ([`ApiError`]) and as an HTML page elsewhere
//! ([`PageError`]).
//!
//! Bad input is 422, a missing or bad token 401, someone else's thing 403,
//! nothing there 404, a saturated resource 503 with `Retry-After`, and anything
//! unexpected an opaque 500 whose whole cause chain goes to the log.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::domain::FieldErrors;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input failed validation (422).
    #[error("validation failed: {0:?}")]
    Validation(FieldErrors),
    /// A token or session is required, or the one given is not valid (401).
    #[error("authentication required: {0}")]
    Unauthenticated(&'static str),
    /// Sign-in with an unknown email or the wrong password (401).
    #[error("email or password is invalid")]
    InvalidCredentials,
    /// Signed in, but not allowed to do this (403).
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// A form came without a valid anti-forgery token (403).
    #[error("cross-site request forgery check failed")]
    CsrfRejected,
    /// The named thing does not exist (404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The body is larger than allowed (413).
    #[error("request body too large")]
    PayloadTooLarge,
    /// A bounded resource is saturated; try again shortly (503).
    #[error("{what} is busy")]
    Busy {
        /// What is saturated, for the message.
        what: &'static str,
        /// Seconds the client should wait.
        retry_after_secs: u64,
    },
    /// Too many failed sign-ins on this account lately (429).
    #[error("too many sign-in attempts")]
    TooManyAttempts {
        /// Seconds until the account's window ends.
        retry_after_secs: u64,
    },
    /// The database cannot be reached or is overloaded (503).
    #[error("database unavailable")]
    DatabaseUnavailable(#[source] anyhow::Error),
    /// The primary is down while replicas still serve reads: nothing can be
    /// changed for now (503).
    #[error("read-only: the primary database is unavailable")]
    ReadOnly(#[source] anyhow::Error),
    /// Anything else (500).
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl AppError {
    /// A validation failure of one field.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Validation(FieldErrors::single(field, message))
    }

    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthenticated(_) | Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::CsrfRejected => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Busy { .. } | Self::DatabaseUnavailable(_) | Self::ReadOnly(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Sentences for the user, safe to show: internals never appear here.
    pub fn sentences(&self) -> Vec<String> {
        match self {
            Self::Validation(errors) => errors.sentences(),
            Self::Unauthenticated(reason) => vec![format!("token {reason}")],
            Self::InvalidCredentials => vec!["email or password is invalid".to_string()],
            Self::Forbidden(action) => vec![format!("you are not allowed to {action}")],
            Self::CsrfRejected => {
                vec!["this form has expired; reload the page and try again".to_string()]
            }
            Self::NotFound(what) => vec![format!("{what} not found")],
            Self::TooManyAttempts { retry_after_secs } => vec![format!(
                "too many failed sign-ins on this account; try again in {} minute(s)",
                retry_after_secs.div_ceil(60)
            )],
            Self::PayloadTooLarge => vec!["request body is too large".to_string()],
            Self::Busy { what, .. } => {
                vec![format!("{what} is busy; try again in a moment")]
            }
            Self::DatabaseUnavailable(_) => {
                vec!["the database is unavailable; try again in a moment".to_string()]
            }
            Self::ReadOnly(_) => vec![
                "the site is read-only for now: reading works, but nothing can be saved until \
                 the primary database is back; try again in a minute"
                    .to_string(),
            ],
            Self::Internal(_) => vec!["something went wrong on our side".to_string()],
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Busy {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            Self::DatabaseUnavailable(_) => Some(1),
            Self::ReadOnly(_) => Some(30),
            Self::TooManyAttempts { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// Logs server-side failures with their whole cause chain.
    fn log(&self) {
        match self {
            Self::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "request failed")
            }
            Self::DatabaseUnavailable(error) => {
                tracing::warn!(error = format!("{error:#}"), "database unavailable")
            }
            Self::ReadOnly(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "primary unavailable; read-only"
                )
            }
            Self::Busy { what, .. } => tracing::warn!("{what} saturated; answered 503"),
            _ => {}
        }
    }
}

impl From<anyhow::Error> for AppError {
    fn from(error: anyhow::Error) -> Self {
        if is_unavailable(&error) {
            Self::DatabaseUnavailable(error)
        } else {
            Self::Internal(error)
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(error: diesel::result::Error) -> Self {
        anyhow::Error::from(error).into()
    }
}

impl From<FieldErrors> for AppError {
    fn from(errors: FieldErrors) -> Self {
        Self::Validation(errors)
    }
}

/// Whether an error means "the database is unreachable or overloaded" rather
/// than a bug: lost connections, statement timeouts, too many clients.
fn is_unavailable(error: &anyhow::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    error.chain().any(|cause| {
        if let Some(diesel_error) = cause.downcast_ref::<Error>() {
            return match diesel_error {
                Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _)
                | Error::DatabaseError(DatabaseErrorKind::UnableToSendCommand, _)
                | Error::BrokenTransactionManager => true,
                Error::DatabaseError(_, info) => {
                    let message = info.message();
                    message.contains("statement timeout")
                        || message.contains("too many clients")
                        || message.contains("connection")
                        // A replica cancelling a query whose rows replay
                        // is about to remove: worth trying again.
                        || message.contains("conflict with recovery")
                }
                _ => false,
            };
        }
        cause.downcast_ref::<tokio_postgres::Error>().is_some()
            || cause.downcast_ref::<std::io::Error>().is_some()
    })
}

/// An [`AppError`] answered in the RealWorld JSON shape.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ApiError(#[from] pub AppError);

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        Self(error.into())
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        Self(error.into())
    }
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        Self(errors.into())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0.status()
    }

    fn error_response(&self) -> HttpResponse {
        self.0.log();
        let mut response = HttpResponse::build(self.status_code());
        if let Some(seconds) = self.0.retry_after() {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if matches!(self.0, AppError::Unauthenticated(_)) {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Token")));
        }
        response.json(json!({ "errors": { "body": self.0.sentences() } }))
    }
}

/// An [`AppError`] answered as an HTML page.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct PageError(#[from] pub AppError);

impl From<diesel::result::Error> for PageError {
    fn from(error: diesel::result::Error) -> Self {
        Self(error.into())
    }
}

impl From<anyhow::Error> for PageError {
    fn from(error: anyhow::Error) -> Self {
        Self(error.into())
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.0.status()
    }

    fn error_response(&self) -> HttpResponse {
        self.0.log();
        let status = self.status_code();
        let mut response = HttpResponse::build(status);
        if let Some(seconds) = self.0.retry_after() {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        let page = crate::views::ErrorPage::new(status, &self.0);
        response
            .content_type("text/html; charset=utf-8")
            .body(page.render_or_plain())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let error = AppError::Internal(anyhow::anyhow!("password=hunter2 at 10.0.0.1"));
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!error.sentences().join(" ").contains("hunter2"));
    }

    #[test]
    fn validation_errors_are_unprocessable_with_field_sentences() {
        let error = AppError::invalid("email", "can't be blank");
        assert_eq!(error.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error.sentences(), ["email can't be blank"]);
    }

    #[test]
    fn lost_connections_mean_unavailable() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let error: AppError = anyhow::Error::from(io).context("loading profile").into();
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
