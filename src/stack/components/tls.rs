//! Certificates for the servers that speak TLS (phase 6), from the stack's
//! own authority ([`crate::stack::authority`]): made again at every start
//! for the addresses the plan gives each server.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::stack::authority::{Authority, Issued};
use crate::stack::plan::Plan;

/// A new certificate for server `name` at `address`, written into `dir`;
/// with `owner`, the key belongs to that account (a server that drops
/// privileges, or refuses a key it does not own, as PostgreSQL does).
pub(super) fn issue(
    plan: &Plan,
    name: &str,
    address: IpAddr,
    dir: &Path,
    owner: Option<&nix::unistd::User>,
) -> anyhow::Result<Issued> {
    let authority = Authority::open_or_create(&plan.authority_dir())?;
    make_dir(dir)?;
    let issued = authority.issue(name, &[address], dir)?;
    if let Some(user) = owner {
        for file in [&issued.key, &issued.bundle] {
            nix::unistd::chown(file, Some(user.uid), Some(user.gid))
                .with_context(|| format!("giving {} to {}", file.display(), user.name))?;
        }
    }
    Ok(issued)
}

/// A copy of the authority's certificate in `dir`, readable by every
/// account: what the app servers and replicas verify servers against.
pub(super) fn trust(plan: &Plan, dir: &Path) -> anyhow::Result<PathBuf> {
    let authority = Authority::open_or_create(&plan.authority_dir())?;
    make_dir(dir)?;
    let copy = dir.join("ca.pem");
    std::fs::copy(authority.certificate(), &copy)
        .with_context(|| format!("copying the authority's certificate to {}", copy.display()))?;
    set_mode(&copy, 0o644)?;
    Ok(copy)
}

/// The folder holding `trust`'s copy for the app servers.
pub(super) fn app_trust_dir(plan: &Plan) -> PathBuf {
    plan.state_dir.join("tls")
}

fn make_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // Entered by the servers' accounts; the keys inside are 0600.
    set_mode(dir, 0o755)
}

fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting the mode of {}", path.display()))
}
