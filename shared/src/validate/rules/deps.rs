//! Rules on package.json and package-lock.json: lockfile present and in sync,
//! peer majors that make `npm ci` fail, and the Node version the build uses.

use std::sync::LazyLock;

use regex::Regex;
use semver::{Version, VersionReq};
use serde_json::Value;

use super::buildspec::BuildSpec;
use super::package::Package;
use crate::core::verdicts::Finding;
use crate::validate::input::ValidationInput;

/// The Node major of Amplify's default build image (Amazon Linux 2023) when
/// neither the build spec nor live package updates choose one.
pub const IMAGE_DEFAULT_NODE: u64 = 18;

static NVM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\bnvm\s+(?:use|install)\s+v?(\d+(?:\.\d+){0,2})").expect("valid regex")
});

/// An npm semver range (`>=18.17 <21`, `^18 || ^20`, `18.x`) as alternatives
/// the semver crate understands.
pub fn npm_range(range: &str) -> Option<Vec<VersionReq>> {
    range
        .split("||")
        .map(|alternative| {
            let tokens: Vec<String> = alternative
                .split_whitespace()
                .map(|t| {
                    t.trim_start_matches('v')
                        .replace(".x", ".*")
                        .replace(".X", ".*")
                })
                .collect();
            let text = if tokens.is_empty() {
                "*".to_owned()
            } else {
                tokens.join(", ")
            };
            VersionReq::parse(&text).ok()
        })
        .collect()
}

fn satisfies(version: &Version, range: &str) -> Option<bool> {
    Some(npm_range(range)?.iter().any(|r| r.matches(version)))
}

/// The Node version the build will run, and what decided it.
pub fn build_node(input: &ValidationInput, spec: &BuildSpec) -> (Version, String) {
    let from_spec = spec
        .commands()
        .iter()
        .find_map(|c| NVM.captures(c)?.get(1).map(|m| m.as_str().to_owned()));
    let from_live = input.variables.get("_LIVE_UPDATES").and_then(|raw| {
        let updates: Value = serde_json::from_str(raw).ok()?;
        updates.as_array()?.iter().find_map(|u| {
            (u.get("pkg")?.as_str()? == "node")
                .then(|| u.get("version")?.as_str().map(str::to_owned))?
        })
    });
    let (raw, source) = match (from_spec, from_live) {
        (Some(v), _) => (v, "`nvm use` in the build spec"),
        (None, Some(v)) => (v, "live package updates (_LIVE_UPDATES)"),
        (None, None) => (IMAGE_DEFAULT_NODE.to_string(), "the build image's default"),
    };
    // "20" or "20.9" mean the newest release of that line.
    let parts: Vec<u64> = raw.split('.').filter_map(|p| p.parse().ok()).collect();
    let version = Version::new(
        parts.first().copied().unwrap_or(IMAGE_DEFAULT_NODE),
        parts.get(1).copied().unwrap_or(99),
        parts.get(2).copied().unwrap_or(99),
    );
    (version, format!("Node {raw} from {source}"))
}

/// The Node versions Next.js majors require (their `engines.node`).
fn next_requires(major: u64) -> Option<&'static str> {
    match major {
        13 => Some(">=16.14.0"),
        14 => Some(">=18.17.0"),
        15 => Some(">=18.18.0"),
        16.. => Some(">=20.9.0"),
        _ => None,
    }
}

/// React majors each Next.js major accepts as a peer.
fn react_for_next(major: u64) -> &'static [u64] {
    match major {
        0..=12 => &[17, 18],
        13 | 14 => &[18],
        _ => &[18, 19],
    }
}

pub fn check(input: &ValidationInput, spec: &BuildSpec, package: &Package) -> Vec<Finding> {
    let mut out = Vec::new();
    lockfile_missing(spec, package, &mut out);
    lockfile_out_of_sync(package, &mut out);
    peer_conflict(package, &mut out);
    node_version(input, spec, package, &mut out);
    out
}

fn lockfile_missing(spec: &BuildSpec, package: &Package, out: &mut Vec<Finding>) {
    if package.lock.is_none() && spec.commands().iter().any(|c| c.contains("npm ci")) {
        out.push(
            Finding::new(
                "deps.lockfile-missing",
                "the build runs `npm ci`, which needs package-lock.json, and there is none",
                "run `npm install` locally and commit package-lock.json (or use `npm install` in the build spec)",
            )
            .at(&package.manifest_name),
        );
    }
}

fn lockfile_out_of_sync(package: &Package, out: &mut Vec<Finding>) {
    let Some(lock) = &package.lock else { return };
    let lock_name = package
        .lock_name
        .clone()
        .unwrap_or_else(|| "package-lock.json".into());
    let root = lock.get("packages").and_then(|p| p.get(""));
    let mut problems = Vec::new();
    for (name, range) in package.declared_all() {
        if let Some(root) = root {
            let locked = ["dependencies", "devDependencies"]
                .iter()
                .find_map(|s| root.get(s)?.get(&name)?.as_str());
            match locked {
                None => problems.push(format!("{name} is in package.json but not in the lockfile")),
                Some(l) if l != range => problems.push(format!(
                    "{name} is {range} in package.json but {l} in the lockfile"
                )),
                Some(_) => {}
            }
        }
        if let Some(installed) = package.installed(&name) {
            if satisfies(&installed, &range) == Some(false) {
                problems.push(format!(
                    "the lockfile installs {name} {installed}, outside {range}"
                ));
            }
        } else if root.is_none() && lock.get("dependencies").is_some() {
            problems.push(format!("{name} is in package.json but not in the lockfile"));
        }
    }
    if let Some(root) = root {
        for section in ["dependencies", "devDependencies"] {
            for name in root
                .get(section)
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|m| m.keys())
            {
                if package.declared(name).is_none() {
                    problems.push(format!(
                        "{name} is in the lockfile but no longer in package.json"
                    ));
                }
            }
        }
    }
    if !problems.is_empty() {
        problems.truncate(10);
        out.push(
            Finding::new(
                "deps.lockfile-out-of-sync",
                format!(
                    "package.json and {lock_name} disagree, so `npm ci` will refuse: {}",
                    problems.join("; ")
                ),
                "run `npm install` locally and commit the updated package-lock.json",
            )
            .at(&lock_name),
        );
    }
}

fn peer_conflict(package: &Package, out: &mut Vec<Finding>) {
    let react = package.major("react");
    if let (Some(r), Some(d)) = (react, package.major("react-dom"))
        && r != d
    {
        out.push(
            Finding::new(
                "deps.peer-conflict",
                format!(
                    "react is major {r} but react-dom is major {d}: npm ci fails with ERESOLVE"
                ),
                format!("use the same major for both: npm install react@{r} react-dom@{r}"),
            )
            .at(&package.manifest_name),
        );
    }
    if let (Some(n), Some(r)) = (package.major("next"), react) {
        let accepted = react_for_next(n);
        if !accepted.contains(&r) {
            let want = accepted.last().copied().unwrap_or(18);
            out.push(Finding::new(
                "deps.peer-conflict",
                format!("next {n} requires react {}, and the project uses react {r}", accepted.iter().map(u64::to_string).collect::<Vec<_>>().join(" or ")),
                format!("npm install react@{want} react-dom@{want} (or move next to a major that supports react {r})"),
            ).at(&package.manifest_name));
        }
    }
    if let Some(packages) = package
        .lock
        .as_ref()
        .and_then(|l| l.get("packages"))
        .and_then(Value::as_object)
    {
        let mut majors: Vec<u64> = packages
            .iter()
            .filter(|(path, _)| {
                *path == "node_modules/react" || path.ends_with("/node_modules/react")
            })
            .filter_map(|(_, p)| {
                Version::parse(p.get("version")?.as_str()?)
                    .ok()
                    .map(|v| v.major)
            })
            .collect();
        majors.sort_unstable();
        majors.dedup();
        if majors.len() > 1 {
            out.push(Finding::new(
                "deps.peer-conflict",
                format!("the lockfile installs react majors {}: two copies of React break hooks at run time", majors.iter().map(u64::to_string).collect::<Vec<_>>().join(" and ")),
                "run `npm dedupe`, or add an `overrides` entry pinning react, then commit the lockfile",
            ).at(package.lock_name.as_deref().unwrap_or("package-lock.json")));
        }
    }
}

fn node_version(
    input: &ValidationInput,
    spec: &BuildSpec,
    package: &Package,
    out: &mut Vec<Finding>,
) {
    let (node, source) = build_node(input, spec);
    let mut wants = Vec::new();
    if let Some(engines) = package
        .manifest
        .get("engines")
        .and_then(|e| e.get("node"))
        .and_then(Value::as_str)
    {
        wants.push((
            engines.to_owned(),
            "engines.node in package.json".to_owned(),
        ));
    }
    if let Some(n) = package.major("next")
        && let Some(req) = next_requires(n)
    {
        wants.push((req.to_owned(), format!("next {n}")));
    }
    for (range, who) in wants {
        if satisfies(&node, &range) == Some(false) {
            let major = npm_range(&range)
                .and_then(|alts| {
                    [18u64, 20, 22, 24]
                        .into_iter()
                        .find(|m| alts.iter().any(|r| r.matches(&Version::new(*m, 99, 99))))
                })
                .unwrap_or(20);
            out.push(
                Finding::new(
                    "node.version-mismatch",
                    format!("the build uses {source}, but {who} requires Node {range}"),
                    format!("add `- nvm use {major}` as the first preBuild command (or set live package updates: Node.js version {major})"),
                )
                .at(spec.file.map(|f| f.name.as_str()).unwrap_or("amplify.yml")),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npm_ranges_are_understood() {
        let v = |s: &str| Version::parse(s).unwrap();
        assert_eq!(satisfies(&v("20.11.0"), ">=18.17 <21"), Some(true));
        assert_eq!(satisfies(&v("22.1.0"), ">=18.17 <21"), Some(false));
        assert_eq!(satisfies(&v("20.1.0"), "^18 || ^20"), Some(true));
        assert_eq!(satisfies(&v("18.20.1"), "18.x"), Some(true));
        assert_eq!(satisfies(&v("16.0.0"), ">=18"), Some(false));
    }
}
