//! Each database server of a stack held to a share of one core, as if it
//! had a small host of its own: on one machine every "host" shares the same
//! cores, so a replica adds a process, not a CPU, unless each is capped.
//!
//! Linux cgroups (v1's `cpu` controller or v2's `cpu.max`), as root. Each
//! server's postmaster and its running children are moved into a group of
//! their own; the connections it forks later inherit it. Dropping the caps
//! moves them back and removes the groups.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::stack::Stack;
use crate::stack::components::Kind;

/// The groups made for one stack.
pub(super) struct CpuCaps {
    groups: Vec<PathBuf>,
    /// Where a process goes back to.
    root: PathBuf,
    /// `cgroup.procs` (v2) or `cgroup.procs` under the v1 `cpu` hierarchy.
    v2: bool,
}

const PERIOD_US: u64 = 100_000;

impl CpuCaps {
    /// Caps every PostgreSQL server of `stack` (the primary and each
    /// replica) at `share` of a core.
    pub(super) fn apply(stack: &Stack, share: f64) -> anyhow::Result<Self> {
        if !nix::unistd::Uid::effective().is_root() {
            bail!("capping the database servers' CPU needs root (cgroups)");
        }
        let (root, v2) = if Path::new("/sys/fs/cgroup/cgroup.controllers").is_file() {
            (PathBuf::from("/sys/fs/cgroup"), true)
        } else if Path::new("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").is_file() {
            (PathBuf::from("/sys/fs/cgroup/cpu"), false)
        } else {
            bail!("no cgroup cpu controller at /sys/fs/cgroup or /sys/fs/cgroup/cpu");
        };
        let mut caps = Self {
            groups: Vec::new(),
            root,
            v2,
        };
        let quota = ((share * PERIOD_US as f64) as u64).max(1_000);
        for component in stack.components() {
            if !matches!(component.kind(), Kind::Postgres | Kind::Replica) {
                continue;
            }
            let Some(postmaster) = component.pid() else {
                continue;
            };
            let group = caps
                .root
                .join(format!("million-bench-{}-{postmaster}", component.name));
            std::fs::create_dir_all(&group)
                .with_context(|| format!("creating the cgroup {}", group.display()))?;
            caps.groups.push(group.clone());
            if caps.v2 {
                std::fs::write(group.join("cpu.max"), format!("{quota} {PERIOD_US}"))?;
            } else {
                std::fs::write(group.join("cpu.cfs_period_us"), PERIOD_US.to_string())?;
                std::fs::write(group.join("cpu.cfs_quota_us"), quota.to_string())?;
            }
            for pid in std::iter::once(postmaster).chain(crate::process::children(postmaster)) {
                // A child may be gone by now; the postmaster must move.
                let moved = std::fs::write(group.join("cgroup.procs"), pid.to_string());
                if pid == postmaster {
                    moved.with_context(|| format!("moving {} into its cgroup", component.name))?;
                }
            }
        }
        Ok(caps)
    }
}

impl Drop for CpuCaps {
    fn drop(&mut self) {
        for group in &self.groups {
            if let Ok(pids) = std::fs::read_to_string(group.join("cgroup.procs")) {
                for pid in pids.lines() {
                    let _ = std::fs::write(self.root.join("cgroup.procs"), pid);
                }
            }
            let _ = std::fs::remove_dir(group);
        }
    }
}
