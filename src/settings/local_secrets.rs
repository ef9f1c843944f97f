//! Development secrets, made once per data folder.
//!
//! Outside production no secret ships with the project: the first run makes
//! random signing keys and keeps them in `{application.data_dir}/secrets.toml`
//! (mode 0600), as Rails keeps its development secret under `tmp/`. Tokens
//! and sessions then survive restarts, and nobody can forge them from a key
//! printed in the repository. Production never reaches this: it refuses to
//! start without secrets of its own.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use anyhow::{Context, bail};
use rand::distr::{Alphanumeric, SampleString};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The signing keys kept for local runs.
#[derive(Serialize, Deserialize)]
pub struct LocalSecrets {
    pub jwt_secret: String,
    pub session_secret: String,
}

const FILE: &str = "secrets.toml";

impl LocalSecrets {
    /// The secrets kept in `dir`, made and saved on first use.
    pub fn load_or_create(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(FILE);
        if let Some(secrets) = Self::read(&path)? {
            return Ok(secrets);
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        let fresh = || Alphanumeric.sample_string(&mut rand::rng(), 48);
        let secrets = Self {
            jwt_secret: fresh(),
            session_secret: fresh(),
        };
        let text = format!(
            "# Signing keys for local runs, made on first start. Never used in production.\n{}",
            toml::to_string(&secrets)?
        );
        // Written whole under a private name, then linked into place: another
        // process starting at the same moment sees no file or a complete one,
        // and whichever links first wins for both.
        let partial = dir.join(format!(".{FILE}.{}", std::process::id()));
        // A leftover of an earlier run that died with this process id (in a
        // container, every run may be process 1).
        let _ = std::fs::remove_file(&partial);
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&partial)
            .and_then(|mut file| {
                file.write_all(text.as_bytes())
                    .and_then(|()| file.sync_all())
            });
        let linked = written.and_then(|()| std::fs::hard_link(&partial, &path));
        let _ = std::fs::remove_file(&partial);
        match linked {
            Ok(()) => Ok(secrets),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Self::read(&path)?
                .with_context(|| format!("{} vanished while being read", path.display())),
            Err(error) => Err(error).with_context(|| format!("writing {}", path.display())),
        }
    }

    fn read(path: &Path) -> anyhow::Result<Option<Self>> {
        // Opened without following a link, then checked as opened: a file
        // someone else planted or can read is refused.
        let opened = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path);
        let mut file = match opened {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) if error.raw_os_error() == Some(libc::ELOOP) => bail!(
                "{} is not a regular file but a symbolic link: remove it and start again",
                path.display()
            ),
            Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
        };
        let metadata = file
            .metadata()
            .with_context(|| format!("reading {}", path.display()))?;
        let ours = metadata.uid() == nix::unistd::geteuid().as_raw();
        if !metadata.is_file() || !ours || metadata.mode() & 0o077 != 0 {
            bail!(
                "{} is not a regular file that only this user can read: check who made it, \
                 then remove it and start again (new secrets sign everyone out)",
                path.display()
            );
        }
        let mut text = String::new();
        file.read_to_string(&mut text)
            .with_context(|| format!("reading {}", path.display()))?;
        let secrets = toml::from_str(&text).with_context(|| {
            format!(
                "{} is damaged: delete it to make new secrets (signing everyone out)",
                path.display()
            )
        })?;
        Ok(Some(secrets))
    }

    /// Fills whichever of `jwt_secret` and `session_secret` is empty.
    pub fn fill(&self, jwt_secret: &mut SecretString, session_secret: &mut SecretString) {
        if jwt_secret.expose_secret().is_empty() {
            *jwt_secret = SecretString::from(self.jwt_secret.clone());
        }
        if session_secret.expose_secret().is_empty() {
            *session_secret = SecretString::from(self.session_secret.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn secrets_are_random_made_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = LocalSecrets::load_or_create(&data).unwrap();
        let again = LocalSecrets::load_or_create(&data).unwrap();
        let elsewhere = LocalSecrets::load_or_create(&dir.path().join("other")).unwrap();

        assert_eq!(first.jwt_secret, again.jwt_secret);
        assert_eq!(first.session_secret, again.session_secret);
        assert_ne!(first.jwt_secret, elsewhere.jwt_secret);
        assert_ne!(first.jwt_secret, first.session_secret);
        assert!(first.jwt_secret.len() >= 32);
        let mode = std::fs::metadata(data.join(FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let leftovers = std::fs::read_dir(&data).unwrap().count();
        assert_eq!(leftovers, 1, "only secrets.toml is left behind");
    }

    #[test]
    fn only_empty_secrets_are_filled() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = LocalSecrets::load_or_create(dir.path()).unwrap();
        let mut jwt = SecretString::from("set-by-the-operator-and-long-enough-to-use".to_string());
        let mut session = SecretString::from(String::new());
        secrets.fill(&mut jwt, &mut session);
        assert_eq!(
            jwt.expose_secret(),
            "set-by-the-operator-and-long-enough-to-use"
        );
        assert_eq!(session.expose_secret(), secrets.session_secret);
    }

    #[test]
    fn a_symlink_in_place_of_the_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join(FILE)).unwrap();
        let Err(error) = LocalSecrets::load_or_create(dir.path()) else {
            panic!("a symlinked secrets file was followed");
        };
        let error = error.to_string();
        assert!(error.contains("not a regular file"), "{error}");
    }

    #[test]
    fn a_secrets_file_others_can_read_is_refused_and_leftovers_do_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let leftover = dir.path().join(format!(".{FILE}.{}", std::process::id()));
        std::fs::write(&leftover, "half written").unwrap();
        LocalSecrets::load_or_create(dir.path()).unwrap();
        assert!(!leftover.exists());
        let path = dir.path().join(FILE);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let Err(error) = LocalSecrets::load_or_create(dir.path()) else {
            panic!("a readable secrets file was used");
        };
        assert!(error.to_string().contains("only this user"), "{error}");
    }
}
