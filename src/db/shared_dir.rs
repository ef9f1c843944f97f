//! Folders kept where every user may create files: as root, PostgreSQL's
//! data (of `million serve` and of the stack) goes to a folder under
//! `/var/tmp` when the postgres account cannot reach the project. Its name is predictable, so whoever
//! makes it first owns it: we make it ourselves, or refuse to use a folder
//! that someone else made or can change.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, bail};

/// Makes `dir` (mode 0755: PostgreSQL's account must pass through it), or
/// checks with [`check`] that the one already there is ours alone.
pub fn claim(dir: &Path) -> anyhow::Result<()> {
    match std::fs::DirBuilder::new().mode(0o755).create(dir) {
        // Made just now by us: no one else can replace it in a sticky /var/tmp.
        Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("setting permissions of {}", dir.display()))?,
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(error).with_context(|| format!("creating {}", dir.display())),
    }
    check(dir)
}

/// Refuses `dir` unless it is a real folder (not a link), owned by the user
/// we run as, that no one else may write to.
pub fn check(dir: &Path) -> anyhow::Result<()> {
    let metadata =
        std::fs::symlink_metadata(dir).with_context(|| format!("looking at {}", dir.display()))?;
    let advice = format!(
        "check what is in it and who made it, then remove it (`rm -rf {}`) and try again",
        dir.display()
    );
    if metadata.file_type().is_symlink() {
        bail!(
            "{} is a symbolic link, not the folder the stack makes there: someone else may \
             have planted it; {advice}",
            dir.display()
        );
    }
    if !metadata.is_dir() {
        bail!("{} is not a folder; {advice}", dir.display());
    }
    let me = nix::unistd::Uid::effective().as_raw();
    if metadata.uid() != me {
        bail!(
            "{} belongs to user {}, not to us (user {me}): someone else made it, and could read \
             or replace the database kept there; {advice}",
            dir.display(),
            metadata.uid()
        );
    }
    let mode = metadata.mode() & 0o7777;
    if mode & 0o022 != 0 {
        bail!(
            "{} can be changed by other users (mode {mode:o}), who could replace the database \
             kept there: `chmod go-w {}` if you made it so, otherwise {advice}",
            dir.display(),
            dir.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_folder_is_made_ours_and_kept() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("million-0123");

        claim(&dir).unwrap();
        claim(&dir).unwrap();

        let metadata = std::fs::metadata(&dir).unwrap();
        assert_eq!(metadata.mode() & 0o777, 0o755);
        assert_eq!(metadata.uid(), nix::unistd::Uid::effective().as_raw());
    }

    #[test]
    fn a_folder_others_can_write_to_is_refused() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("million-0123");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();

        let error = format!("{:#}", claim(&dir).unwrap_err());

        assert!(error.contains("other users"), "{error}");
        assert!(error.contains("chmod go-w"), "{error}");
    }

    #[test]
    fn a_planted_link_is_refused() {
        let parent = tempfile::tempdir().unwrap();
        let target = parent.path().join("target");
        std::fs::create_dir(&target).unwrap();
        let dir = parent.path().join("million-0123");
        std::os::unix::fs::symlink(&target, &dir).unwrap();

        let error = format!("{:#}", claim(&dir).unwrap_err());

        assert!(error.contains("symbolic link"), "{error}");
    }

    #[test]
    fn a_folder_someone_else_made_is_refused() {
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!("skipped: only root can give a folder to another user");
            return;
        }
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("million-0123");
        std::fs::create_dir(&dir).unwrap();
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();

        let error = format!("{:#}", claim(&dir).unwrap_err());

        assert!(error.contains("belongs to user 65534"), "{error}");
        assert!(error.contains("rm -rf"), "{error}");
    }
}
