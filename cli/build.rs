//! The commit `sentinel --version` prints: `SENTINEL_COMMIT` when set (the
//! release workflow passes the tag's commit), else this checkout's
//! `git rev-parse --short HEAD`, else "unknown" (a source tarball, no git).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=SENTINEL_COMMIT");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let commit = std::env::var("SENTINEL_COMMIT")
        .ok()
        .map(|c| c.trim().chars().take(7).collect::<String>())
        .filter(|c| !c.is_empty() && c.chars().all(|ch| ch.is_ascii_alphanumeric()))
        .or_else(|| git_commit(&manifest))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=SENTINEL_COMMIT={commit}");
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
}

/// Only this workspace's own repository counts: a copy of the sources
/// vendored inside another repository must not print that repository's commit.
fn git_commit(manifest: &Path) -> Option<String> {
    let workspace = manifest.parent()?.canonicalize().ok()?;
    let top = PathBuf::from(git(manifest, &["rev-parse", "--show-toplevel"])?);
    if top.canonicalize().ok()? != workspace {
        return None;
    }
    // Rebuild when HEAD moves (a commit, a checkout); HEAD and the branch's
    // ref live in the git directory, which a worktree keeps elsewhere.
    for path in ["HEAD", "packed-refs"] {
        if let Some(p) = git(manifest, &["rev-parse", "--git-path", path]) {
            println!(
                "cargo:rerun-if-changed={}",
                absolute(manifest, &p).display()
            );
        }
    }
    if let Some(name) = git(manifest, &["symbolic-ref", "-q", "HEAD"])
        && let Some(p) = git(manifest, &["rev-parse", "--git-path", &name])
    {
        println!(
            "cargo:rerun-if-changed={}",
            absolute(manifest, &p).display()
        );
    }
    git(manifest, &["rev-parse", "--short=7", "HEAD"])
}

fn absolute(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}
