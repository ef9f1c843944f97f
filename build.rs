//! Names the release this binary is built from: the git commit (or
//! `MILLION_COMMIT` where there is no repository, as in a container build)
//! and the build time, read by `src/release.rs`.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=MILLION_COMMIT");
    let git = Path::new(".git");
    // Rebuilt when HEAD moves: a checkout, or a commit on the current branch.
    // A path named here that does not exist would rerun this script, and so
    // rebuild the crate, on every build: only existing files are named.
    if git.is_dir() {
        let mut watched = vec![".git/HEAD".to_string(), ".git/packed-refs".to_string()];
        if let Ok(head) = std::fs::read_to_string(git.join("HEAD"))
            && let Some(reference) = head.trim().strip_prefix("ref: ")
        {
            watched.push(format!(".git/{reference}"));
        }
        for path in watched.iter().filter(|path| Path::new(path).exists()) {
            println!("cargo:rerun-if-changed={path}");
        }
    } else {
        // No repository: nothing else changes what is printed below.
        println!("cargo:rerun-if-changed=build.rs");
    }
    let commit = std::env::var("MILLION_COMMIT").ok().or_else(|| {
        Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .output()
            .ok()
            .filter(|output| output.status.success())
            .and_then(|output| String::from_utf8(output.stdout).ok())
            .map(|commit| commit.trim().to_string())
    });
    println!(
        "cargo:rustc-env=MILLION_BUILD_COMMIT={}",
        commit.unwrap_or_else(|| "unknown".into())
    );
    let built = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0);
    println!("cargo:rustc-env=MILLION_BUILD_TIME={built}");
}
