//! The stack's secrets: the database password and the app servers' signing
//! keys, made once and kept (mode 0600) in the state folder so that data and
//! sessions survive restarts and every app server shares the same keys.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
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
    /// Password of the `replicator` role the replicas stream as (phase 5+).
    /// Files written before it existed get one, saved on first read.
    #[serde(default)]
    pub replication_password: String,
    /// Password of HAProxy's stats page (user `admin`), phase 3+.
    #[serde(default)]
    pub stats_password: String,
    /// Password of the app servers' Redis account (phase 6).
    #[serde(default)]
    pub redis_password: String,
}

impl Secrets {
    /// The secrets kept in `state_dir`, made on first use.
    pub fn load_or_create(state_dir: &Path) -> anyhow::Result<Self> {
        let path = state_dir.join("secrets.json");
        match std::fs::read(&path) {
            Ok(bytes) => {
                let mut secrets: Self = serde_json::from_slice(&bytes)
                    .with_context(|| format!("reading {}", path.display()))?;
                let mut added = false;
                for secret in [
                    &mut secrets.replication_password,
                    &mut secrets.stats_password,
                    &mut secrets.redis_password,
                ] {
                    if secret.is_empty() {
                        *secret = fresh_secret();
                        added = true;
                    }
                }
                if added {
                    write_private(&path, &serde_json::to_vec_pretty(&secrets)?)?;
                }
                return Ok(secrets);
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            // Making new ones would lock the stack out of its own database.
            Err(error) => {
                return Err(error).with_context(|| {
                    format!(
                        "reading {}: fix its permissions, or `make phase-clean` to start afresh",
                        path.display()
                    )
                });
            }
        }
        let secrets = Self {
            database_password: fresh_secret(),
            jwt_secret: fresh_secret(),
            session_secret: fresh_secret(),
            replication_password: fresh_secret(),
            stats_password: fresh_secret(),
            redis_password: fresh_secret(),
        };
        write_private(&path, &serde_json::to_vec_pretty(&secrets)?)?;
        Ok(secrets)
    }
}

/// 48 random letters and digits: safe inside quotes and connection strings.
fn fresh_secret() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 48)
}

/// Writes `bytes` to `path` through a file that is private (0600) from the
/// moment it exists, whatever the umask, and then renamed into place: no
/// one else can read it at any point, and a link planted at `path` is
/// replaced rather than followed.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let temporary = path.with_extension(format!("new.{}", std::process::id()));
    // A leftover from a crash of this very pid; create_new refuses anything there.
    let _ = std::fs::remove_file(&temporary);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)
        .with_context(|| format!("creating {}", temporary.display()))?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written.with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

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

    #[test]
    fn secrets_never_go_where_a_planted_link_points() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("readable-by-all.json");
        std::os::unix::fs::symlink(&elsewhere, dir.path().join("secrets.json")).unwrap();

        Secrets::load_or_create(dir.path()).unwrap();

        assert!(
            !elsewhere.exists(),
            "the secrets were written through the link"
        );
        let metadata = std::fs::symlink_metadata(dir.path().join("secrets.json")).unwrap();
        assert!(metadata.is_file());
        assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind: {left:?}");
    }

    #[test]
    fn a_leftover_temporary_file_does_not_lend_its_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("private");
        // Opening an existing file keeps its mode: it must be made anew.
        let temporary = path.with_extension(format!("new.{}", std::process::id()));
        std::fs::write(&temporary, b"stale").unwrap();
        std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o644)).unwrap();

        write_private(&path, b"secret").unwrap();

        let metadata = std::fs::metadata(&path).unwrap();
        assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), b"secret");
        assert!(!temporary.exists());
    }
}
