//! The stack's secrets: the database password and the app servers' signing
//! keys, made once and kept (mode 0600) in the state folder so that data and
//! sessions survive restarts and every app server shares the same keys.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::Context;
use rand::distr::{Alphanumeric, SampleString};
use serde::{Deserialize, Serialize};

/// Secrets shared by the stack's components.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Secrets {
    /// Password of the `million` database role.
    pub database_password: String,
    /// The app servers' `auth.jwt_secret`.
    pub jwt_secret: String,
    /// The app servers' `session.secret`.
    pub session_secret: String,
}

impl Secrets {
    /// The secrets kept in `state_dir`, made on first use.
    pub fn load_or_create(state_dir: &Path) -> anyhow::Result<Self> {
        let path = state_dir.join("secrets.json");
        if let Ok(bytes) = std::fs::read(&path) {
            return serde_json::from_slice(&bytes)
                .with_context(|| format!("reading {}", path.display()));
        }
        let fresh = || Alphanumeric.sample_string(&mut rand::rng(), 48);
        let secrets = Self {
            database_password: fresh(),
            jwt_secret: fresh(),
            session_secret: fresh(),
        };
        std::fs::write(&path, serde_json::to_vec_pretty(&secrets)?)
            .with_context(|| format!("writing {}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        Ok(secrets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_made_once_and_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let first = Secrets::load_or_create(dir.path()).unwrap();
        let again = Secrets::load_or_create(dir.path()).unwrap();
        assert_eq!(first.database_password, again.database_password);
        assert!(first.jwt_secret.len() >= 32);
        let mode = std::fs::metadata(dir.path().join("secrets.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
