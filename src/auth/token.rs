//! API tokens: JSON Web Tokens signed with HMAC-SHA256, sent by clients as
//! `Authorization: Token <jwt>`.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::models::User;

/// Issues and checks API tokens.
#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: Duration,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// The user id.
    sub: String,
    /// The account's session generation when the token was issued; the token
    /// is refused once the account signs out everywhere or changes password.
    #[serde(default)]
    generation: i32,
    iat: u64,
    exp: u64,
}

/// Who a valid token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bearer {
    pub user_id: i64,
    /// See [`crate::models::User::session_generation`].
    pub generation: i32,
}

impl Tokens {
    /// Tokens signed with `secret`, valid for `ttl`.
    pub fn new(secret: &SecretString, ttl: Duration) -> Self {
        let key = secret.expose_secret().as_bytes();
        Self {
            encoding: EncodingKey::from_secret(key),
            decoding: DecodingKey::from_secret(key),
            ttl,
        }
    }

    /// A token for `user`, valid until it expires or the account's session
    /// generation moves on.
    pub fn issue(&self, user: &User) -> anyhow::Result<String> {
        self.issue_for(user.id, user.session_generation)
    }

    fn issue_for(&self, user_id: i64, generation: i32) -> anyhow::Result<String> {
        let now = unix_now();
        let claims = Claims {
            sub: user_id.to_string(),
            generation,
            iat: now,
            exp: now + self.ttl.as_secs(),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// Who `token` speaks for, if it is ours, well-formed and unexpired.
    pub fn verify(&self, token: &str) -> Option<Bearer> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 30;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).ok()?;
        Some(Bearer {
            user_id: data.claims.sub.parse().ok()?,
            generation: data.claims.generation,
        })
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(secret: &str, ttl: Duration) -> Tokens {
        Tokens::new(&SecretString::from(secret.to_string()), ttl)
    }

    #[test]
    fn issued_tokens_verify() {
        let tokens = tokens(
            "a-secret-of-at-least-32-characters!!",
            Duration::from_secs(60),
        );
        let token = tokens.issue_for(42, 3).unwrap();
        assert_eq!(
            tokens.verify(&token),
            Some(Bearer {
                user_id: 42,
                generation: 3
            })
        );
    }

    #[test]
    fn foreign_tampered_and_junk_tokens_do_not() {
        let ours = tokens(
            "a-secret-of-at-least-32-characters!!",
            Duration::from_secs(60),
        );
        let theirs = tokens(
            "another-secret-of-at-least-32-chars!",
            Duration::from_secs(60),
        );
        let token = theirs.issue_for(42, 0).unwrap();
        assert_eq!(ours.verify(&token), None);
        assert_eq!(ours.verify("not.a.token"), None);
        assert_eq!(ours.verify(""), None);
        let mut tampered = ours.issue_for(1, 0).unwrap();
        tampered.push('x');
        assert_eq!(ours.verify(&tampered), None);
    }

    #[test]
    fn expired_tokens_do_not() {
        let tokens = tokens(
            "a-secret-of-at-least-32-characters!!",
            Duration::from_secs(0),
        );
        let claims = Claims {
            sub: "7".into(),
            generation: 0,
            iat: 1,
            exp: 2,
        };
        let old = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &tokens.encoding)
            .unwrap();
        assert_eq!(tokens.verify(&old), None);
    }
}
