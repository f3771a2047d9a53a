//! What a released binary promises: `--version` names the version and the
//! commit it was built from.

use std::path::Path;
use std::process::Command;

fn sentinel(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sentinel"))
        .args(args)
        .output()
        .expect("run sentinel");
    assert!(out.status.success(), "sentinel {args:?}: {out:?}");
    String::from_utf8(out.stdout).expect("utf-8")
}

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace holds cli/")
}

#[test]
fn version_names_the_package_version_and_the_commit() {
    let printed = sentinel(&["--version"]);
    let rest = printed
        .trim_end()
        .strip_prefix(&format!("sentinel {} (", env!("CARGO_PKG_VERSION")))
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("not `sentinel VERSION (COMMIT)`: {printed:?}"));
    assert!(
        rest == "unknown" || (rest.len() >= 7 && rest.chars().all(|c| c.is_ascii_hexdigit())),
        "{rest:?} is no commit"
    );
    // Built from this checkout without SENTINEL_COMMIT: its HEAD, not a
    // stale one (build.rs reruns when HEAD moves).
    if std::env::var_os("SENTINEL_COMMIT").is_none()
        && let Ok(out) = Command::new("git")
            .arg("-C")
            .arg(workspace())
            .args(["rev-parse", "--short=7", "HEAD"])
            .output()
        && out.status.success()
    {
        assert_eq!(rest, String::from_utf8_lossy(&out.stdout).trim());
    }
}
