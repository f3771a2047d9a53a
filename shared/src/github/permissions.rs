//! The GitHub App's permissions: the exact set `sentinel github setup`
//! asks for in the App's manifest, and what `sentinel doctor` checks an
//! installation was granted (`docs/github.md`, Permissions).
//!
//! Names and levels are GitHub's
//! (<https://docs.github.com/en/rest/authentication/permissions-required-for-github-apps>).

use std::collections::BTreeMap;

/// (permission, level, what uses it), in the manifest's order.
pub const APP_PERMISSIONS: &[(&str, &str, &str)] = &[
    (
        "checks",
        "write",
        "the check run of each build (queued, in progress, its verdict)",
    ),
    (
        "statuses",
        "write",
        "commit statuses (what a token writes instead of check runs)",
    ),
    (
        "deployments",
        "write",
        "a deployment and its statuses for each environment deployed",
    ),
    (
        "pull_requests",
        "write",
        "the one comment Sentinel keeps up to date on a pull request preview",
    ),
    (
        "contents",
        "read",
        "commits and comparisons: what changed since the last build",
    ),
    (
        "metadata",
        "read",
        "the repository itself (GitHub grants it to every App)",
    ),
];

/// How much a level allows: `admin` ⊃ `write` ⊃ `read`.
fn rank(level: &str) -> u8 {
    match level {
        "admin" => 3,
        "write" => 2,
        "read" => 1,
        _ => 0,
    }
}

/// The required permissions an installation lacks, as `name: level`
/// (with what it has instead, when it has a lower level).
pub fn missing(granted: &BTreeMap<String, String>) -> Vec<String> {
    APP_PERMISSIONS
        .iter()
        .filter_map(|(name, level, _)| {
            let has = granted.get(*name).map(String::as_str);
            match has {
                Some(h) if rank(h) >= rank(level) => None,
                Some(h) => Some(format!("{name}: {level} (has {h})")),
                None => Some(format!("{name}: {level}")),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granted(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_higher_level_covers_a_lower_one_and_extra_permissions_are_fine() {
        let all: Vec<(&str, &str)> = APP_PERMISSIONS.iter().map(|(n, l, _)| (*n, *l)).collect();
        assert!(missing(&granted(&all)).is_empty());
        let mut more = granted(&all);
        more.insert("contents".into(), "write".into());
        more.insert("issues".into(), "read".into());
        assert!(missing(&more).is_empty());
    }

    #[test]
    fn a_missing_or_lower_permission_is_named() {
        let m = missing(&granted(&[
            ("checks", "read"),
            ("statuses", "write"),
            ("deployments", "write"),
            ("contents", "read"),
            ("metadata", "read"),
        ]));
        assert_eq!(m, ["checks: write (has read)", "pull_requests: write"]);
    }
}
