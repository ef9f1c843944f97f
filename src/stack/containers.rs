//! Phase 7's app servers run as containers of the project's image
//! (`deploy/images/app.Containerfile`, built by `make images`), with rootful
//! Podman: a container joins its host's network namespace
//! (`--network ns:/run/netns/…`), or this machine's network where hosts have
//! none, so a containerised app server sits exactly where a plain one would.
//!
//! The supervisor keeps `podman run` in the foreground as the component's
//! process: its output is the server's log, and SIGTERM sent to it reaches
//! the server (Podman passes signals on), which finishes its requests and
//! exits.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

use super::plan::Plan;

/// The container engine: Podman, which can join a named network namespace.
pub fn engine() -> anyhow::Result<PathBuf> {
    let podman = super::components::program("podman", "podman")?;
    if !nix::unistd::Uid::effective().is_root() {
        bail!(
            "phase 7 runs its app servers as containers with rootful Podman: run it as root \
             (sudo make phase7)"
        );
    }
    Ok(podman)
}

/// Whether the engine has `image`; if not, says how to build it.
pub fn require_image(image: &str) -> anyhow::Result<()> {
    let found = Command::new(engine()?)
        .args(["image", "exists", image])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("asking Podman for the image")?;
    if !found.success() {
        bail!("there is no image {image}: build it with `make images` (scripts/build-images)");
    }
    Ok(())
}

/// The container name of app server `name` in the stack kept in
/// `state_dir`: the same for every start of that server, different between
/// stacks (a test's stack beside `make phase7`'s).
pub fn container_name(state_dir: &Path, name: &str) -> String {
    let hash = super::fingerprint(state_dir);
    format!("million-{:08x}-{name}", hash & 0xffff_ffff)
}

/// `podman run` for a one-off or long-running container of `image` on the
/// network of the host at `host`: the variables named in `env` are passed
/// by name, their values taken from the returned command's environment so
/// that no secret shows in `ps`; `mounts` are read-only, at the same path.
pub fn run_command(
    plan: &Plan,
    name: &str,
    image: &str,
    host: std::net::IpAddr,
    env: &[(&str, String)],
    mounts: &[PathBuf],
    args: &[&str],
) -> anyhow::Result<Command> {
    let mut command = Command::new(engine()?);
    command.args(["run", "--rm", "--replace", "--name", name]);
    command.arg(format!(
        "--network={}",
        match plan.namespace_of(host) {
            Some(namespace) => format!("ns:{}", namespace.display()),
            None => "host".to_string(),
        }
    ));
    // The supervisor probes the server itself; Podman's own health timer
    // needs systemd, which a stack's machine may not run.
    command.args(["--no-healthcheck", "--log-driver=none", "--stop-timeout=30"]);
    for mount in mounts {
        command.arg(format!("--volume={0}:{0}:ro", mount.display()));
    }
    for (variable, value) in env {
        command.arg(format!("--env={variable}"));
        command.env(variable, value);
    }
    command.arg(image).args(args);
    Ok(command)
}

/// Removes the containers of app servers `names` at once, if any are left:
/// a `podman run` killed outright (a crash, or a start that timed out)
/// leaves its container running, and a server that ignores SIGTERM would
/// hold up the next start under the same name for the stop timeout.
pub fn remove(state_dir: &Path, names: &[String]) {
    let Ok(engine) = super::components::program("podman", "podman") else {
        return;
    };
    let containers: Vec<String> = names
        .iter()
        .map(|name| container_name(state_dir, name))
        .collect();
    let _ = Command::new(engine)
        .args(["rm", "--force", "--ignore", "--time=0"])
        .args(&containers)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stack_names_its_containers_apart() {
        let one = container_name(Path::new("/work/a/.million/stack"), "app-1");
        let other = container_name(Path::new("/work/b/.million/stack"), "app-1");
        assert_ne!(one, other);
        assert!(
            one.starts_with("million-") && one.ends_with("-app-1"),
            "{one}"
        );
        assert_eq!(
            one,
            container_name(Path::new("/work/a/.million/stack"), "app-1")
        );
    }
}
