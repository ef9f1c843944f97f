//! API tokens: JSON Web Tokens signed with HMAC-SHA256, sent by clients as
//! `Authorization: Token <jwt>`.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

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
    iat: u64,
    exp: u64,
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

    /// A token for `user_id`.
    pub fn issue(&self, user_id: i64) -> anyhow::Result<String> {
        let now = unix_now();
        let claims = Claims {
            sub: user_id.to_string(),
            iat: now,
            exp: now + self.ttl.as_secs(),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// The user id in `token`, if it is ours, well-formed and unexpired.
    pub fn verify(&self, token: &str) -> Option<i64> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 30;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).ok()?;
        data.claims.sub.parse().ok()
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
        let token = tokens.issue(42).unwrap();
        assert_eq!(tokens.verify(&token), Some(42));
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
        let token = theirs.issue(42).unwrap();
        assert_eq!(ours.verify(&token), None);
        assert_eq!(ours.verify("not.a.token"), None);
        assert_eq!(ours.verify(""), None);
        let mut tampered = ours.issue(1).unwrap();
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
            iat: 1,
            exp: 2,
        };
        let old = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &tokens.encoding)
            .unwrap();
        assert_eq!(tokens.verify(&old), None);
    }
}
