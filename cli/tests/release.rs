//! What a released binary promises: `--version` names the version and the
//! commit it was built from, and every command that calls AWS has its
//! permissions in docs/iam/operator.json.

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

/// The names under "Commands:" in a help text.
fn commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

fn camel(words: &[&str]) -> String {
    words
        .iter()
        .flat_map(|w| w.split('-'))
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Commands that never call AWS (they read files or a site, or print a
/// completion script or GitHub's App manifest: `github setup`, whose
/// `--stack` only names the App).
const LOCAL: &[&str] = &["validate", "check", "diagnose", "completions", "github"];

#[test]
fn every_command_that_calls_aws_has_a_statement_in_the_operator_policy() {
    let policy: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(workspace().join("docs/iam/operator.json"))
            .expect("docs/iam/operator.json"),
    )
    .expect("JSON");
    let sids: Vec<&str> = policy["Statement"]
        .as_array()
        .expect("Statement")
        .iter()
        .filter_map(|s| s["Sid"].as_str())
        .collect();
    let top = commands(&sentinel(&["--help"]));
    assert!(top.iter().any(|c| c == "rollback"), "{top:?}");
    let mut missing = Vec::new();
    for command in top.iter().filter(|c| !LOCAL.contains(&c.as_str())) {
        let subs = commands(&sentinel(&[command, "--help"]));
        let names: Vec<String> = if subs.is_empty() {
            vec![camel(&[command])]
        } else {
            subs.iter().map(|s| camel(&[command, s])).collect()
        };
        for name in names {
            let covered = sids.iter().any(|sid| {
                sid.strip_prefix("ReadOnly")
                    .or_else(|| sid.strip_prefix("Acting"))
                    .is_some_and(|rest| rest.starts_with(&name))
            });
            if !covered {
                missing.push(name);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "no ReadOnly<Command>/Acting<Command> statement in docs/iam/operator.json for {missing:?}"
    );
    // --stack reads the stack whatever the command.
    assert!(sids.contains(&"ReadOnlyStack"), "{sids:?}");
}
