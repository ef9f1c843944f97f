//! Anti-forgery tokens for every state-changing form (the synchronizer-token
//! pattern): a random token lives in the session, each form carries it in a
//! hidden `csrf_token` field, and a submission whose token does not match is
//! refused with 403 before anything changes.

use actix_session::Session;
use rand::distr::{Alphanumeric, SampleString};
use subtle::ConstantTimeEq;

const KEY: &str = "csrf";

/// The session's token, created on first use.
pub fn token(session: &Session) -> String {
    if let Ok(Some(token)) = session.get::<String>(KEY) {
        return token;
    }
    rotate(session)
}

/// Replaces the session's token (at sign-in) and returns the new one.
pub fn rotate(session: &Session) -> String {
    let token = Alphanumeric.sample_string(&mut rand::rng(), 43);
    let _ = session.insert(KEY, &token);
    token
}

/// Whether `submitted` is the session's token.
pub fn verify(session: &Session, submitted: &str) -> bool {
    match session.get::<String>(KEY) {
        Ok(Some(expected)) => {
            !submitted.is_empty() && bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()))
        }
        _ => false,
    }
}
