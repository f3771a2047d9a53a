//! Rules on the build spec (`amplify.yml`, or the app's/branch's build spec
//! in Amplify).

use std::sync::LazyLock;

use regex::Regex;
use serde_yaml_ng::Value;

use super::package::Package;
use crate::core::verdicts::Finding;
use crate::validate::input::{Platform, SourceFile, ValidationInput};

/// Variables Amplify or Node read themselves: never exported to .env.
const RESERVED_PREFIXES: &[&str] = &[
    "AMPLIFY_",
    "AWS_",
    "_",
    "NODE_",
    "NPM_",
    "NEXT_PUBLIC_",
    "CI",
];

static HEAP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"--max-old-space-size[= ](\d+)").expect("valid regex"));
static GREP_PATTERNS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:-e\s+|grep\s+)([A-Za-z_][A-Za-z0-9_]*)").expect("valid regex")
});

/// A build spec, parsed as far as it goes.
pub struct BuildSpec<'a> {
    pub file: Option<&'a SourceFile>,
    pub doc: Option<Value>,
    pub parse_error: Option<String>,
}

impl<'a> BuildSpec<'a> {
    pub fn read(file: Option<&'a SourceFile>) -> Self {
        let Some(file) = file else {
            return Self {
                file: None,
                doc: None,
                parse_error: None,
            };
        };
        match serde_yaml_ng::from_str::<Value>(&file.text) {
            Ok(doc) if doc.is_mapping() => Self {
                file: Some(file),
                doc: Some(doc),
                parse_error: None,
            },
            Ok(_) => Self {
                file: Some(file),
                doc: None,
                parse_error: Some(format!("{}:1: is not a YAML mapping", file.name)),
            },
            Err(e) => {
                let at = e
                    .location()
                    .map(|l| format!("{}:{}", l.line(), l.column()))
                    .unwrap_or_else(|| "1".into());
                let reason = e.to_string();
                let reason = reason.split(" at line ").next().unwrap_or_default();
                Self {
                    file: Some(file),
                    doc: None,
                    parse_error: Some(format!("{}:{at}: {reason}", file.name)),
                }
            }
        }
    }

    /// The frontend section (monorepos: the first application's).
    fn frontend(&self) -> Option<&Value> {
        let doc = self.doc.as_ref()?;
        doc.get("frontend").or_else(|| {
            doc.get("applications")?
                .as_sequence()?
                .first()?
                .get("frontend")
        })
    }

    /// The `appRoot` of each of `applications[]` (a monorepo's build spec),
    /// in order, without a leading `./` or trailing `/`.
    pub fn app_roots(&self) -> Vec<String> {
        let Some(apps) = self
            .doc
            .as_ref()
            .and_then(|d| d.get("applications")?.as_sequence())
        else {
            return Vec::new();
        };
        apps.iter()
            .filter_map(|a| a.get("appRoot")?.as_str())
            .map(normalise_root)
            .filter(|r| !r.is_empty())
            .collect()
    }

    /// Every command of every phase, in order.
    pub fn commands(&self) -> Vec<String> {
        let Some(phases) = self.frontend().and_then(|f| f.get("phases")) else {
            return Vec::new();
        };
        ["preBuild", "build", "postBuild"]
            .iter()
            .filter_map(|p| phases.get(*p)?.get("commands")?.as_sequence())
            .flatten()
            .filter_map(|c| c.as_str().map(str::to_owned))
            .collect()
    }

    fn str_at(&self, path: &[&str]) -> Option<String> {
        let mut v = self.frontend()?;
        for key in path {
            v = v.get(*key)?;
        }
        v.as_str().map(str::to_owned)
    }

    fn cache_paths(&self) -> Vec<String> {
        self.frontend()
            .and_then(|f| f.get("cache")?.get("paths")?.as_sequence().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p.as_str().map(str::to_owned))
            .collect()
    }

    fn name(&self) -> &str {
        self.file.map(|f| f.name.as_str()).unwrap_or("build spec")
    }
}

fn is_nextjs(input: &ValidationInput, package: Option<&Package>) -> bool {
    input
        .framework
        .as_deref()
        .is_some_and(|f| f.contains("Next"))
        || package.is_some_and(|p| p.declared("next").is_some())
}

pub fn check(input: &ValidationInput, spec: &BuildSpec, package: Option<&Package>) -> Vec<Finding> {
    let mut out = Vec::new();
    if spec.file.is_some() {
        invalid(spec, &mut out);
        if spec.doc.is_some() {
            artifacts_basedir(input, spec, package, &mut out);
            cache_oversized(spec, &mut out);
            server_vars_not_exported(input, spec, &mut out);
        }
    }
    node_memory(input, spec, &mut out);
    out
}

fn invalid(spec: &BuildSpec, out: &mut Vec<Finding>) {
    let name = spec.name();
    let fix = "start from the amplify.yml in docs/validation.md (version: 1, frontend.phases.build.commands, frontend.artifacts.baseDirectory)";
    if let Some(error) = &spec.parse_error {
        out.push(Finding::new("buildspec.invalid", error.clone(), fix).at(name));
        return;
    }
    let doc = spec.doc.as_ref();
    let mut missing = Vec::new();
    if doc.and_then(|d| d.get("version")).is_none() {
        missing.push("version");
    }
    match spec.frontend().and_then(|f| f.get("phases")) {
        None => missing.push("frontend.phases"),
        Some(_)
            if spec.commands().is_empty()
                || spec
                    .frontend()
                    .and_then(|f| f.get("phases")?.get("build")?.get("commands"))
                    .is_none() =>
        {
            missing.push("frontend.phases.build.commands")
        }
        Some(_) => {}
    }
    if spec.str_at(&["artifacts", "baseDirectory"]).is_none() {
        missing.push("frontend.artifacts.baseDirectory");
    }
    if !missing.is_empty() {
        out.push(
            Finding::new(
                "buildspec.invalid",
                format!("{name} lacks {}", missing.join(", ")),
                fix,
            )
            .at(name),
        );
    }
}

fn artifacts_basedir(
    input: &ValidationInput,
    spec: &BuildSpec,
    package: Option<&Package>,
    out: &mut Vec<Finding>,
) {
    let (Some(platform), true) = (input.platform, is_nextjs(input, package)) else {
        return;
    };
    let Some(base) = spec.str_at(&["artifacts", "baseDirectory"]) else {
        return;
    };
    let normalised = base.trim().trim_start_matches("./").trim_end_matches('/');
    let (want, why) = match platform {
        Platform::WebCompute => (
            ".next",
            "Next.js on WEB_COMPUTE (SSR) deploys the .next build output",
        ),
        Platform::Web => (
            "out",
            "Next.js on WEB (static) deploys the `next export` output",
        ),
    };
    if normalised != want {
        out.push(
            Finding::new(
                "buildspec.artifacts-basedir",
                format!("artifacts.baseDirectory is {base:?}; {why}"),
                format!("set frontend.artifacts.baseDirectory: {want}"),
            )
            .at(spec.name()),
        );
    }
}

fn node_memory(input: &ValidationInput, spec: &BuildSpec, out: &mut Vec<Finding>) {
    if spec.doc.is_none() && !input.variables.contains_key("NODE_OPTIONS") {
        return;
    }
    let limit_mib = u64::from(input.build_memory_gib) * 1024;
    let advised = limit_mib * 3 / 4;
    let mut sources: Vec<String> = spec.commands();
    sources.extend(input.variables.get("NODE_OPTIONS").cloned());
    let set: Vec<u64> = sources
        .iter()
        .filter_map(|s| HEAP.captures(s)?.get(1)?.as_str().parse().ok())
        .collect();
    let fix = format!(
        "set NODE_OPTIONS=--max-old-space-size={advised} (about 3/4 of the {} GiB build instance) in the app's environment variables",
        input.build_memory_gib
    );
    match set.iter().max() {
        None => out.push(
            Finding::new(
                "buildspec.node-memory",
                "no --max-old-space-size is set: Node's default heap is far below the build instance's memory, and large Next.js builds die with \"JavaScript heap out of memory\"",
                fix,
            )
            .at("NODE_OPTIONS"),
        ),
        Some(&mib) if mib > limit_mib => out.push(
            Finding::new(
                "buildspec.node-memory",
                format!("--max-old-space-size={mib} is above the build instance's {limit_mib} MiB: the build is killed before Node collects garbage"),
                fix,
            )
            .at("NODE_OPTIONS"),
        ),
        Some(_) => {}
    }
}

fn cache_oversized(spec: &BuildSpec, out: &mut Vec<Finding>) {
    let paths = spec.cache_paths();
    let has = |p: &str| paths.iter().any(|x| x.trim() == p);
    if has("node_modules/**/*") && has(".next/cache/**/*") && !has("!node_modules/.cache") {
        out.push(
            Finding::new(
                "buildspec.cache-oversized",
                "cache.paths holds node_modules/**/* and .next/cache/**/*: node_modules/.cache duplicates the webpack cache and the caching step runs out of memory",
                "add \"!node_modules/.cache\" to frontend.cache.paths (or cache .npm/**/* instead of node_modules/**/*)",
            )
            .at(spec.name()),
        );
    }
}

fn server_vars_not_exported(input: &ValidationInput, spec: &BuildSpec, out: &mut Vec<Finding>) {
    if input.platform != Some(Platform::WebCompute) {
        return;
    }
    let writers: Vec<String> = spec
        .commands()
        .into_iter()
        .filter(|c| c.contains(".env.production") || c.contains(">> .env") || c.contains("> .env"))
        .collect();
    if writers.iter().any(|c| {
        let t = c.trim_start();
        (t.starts_with("env >") || t.starts_with("printenv >")) && !t.contains('|')
    }) {
        return;
    }
    let patterns: Vec<String> = writers
        .iter()
        .flat_map(|c| {
            GREP_PATTERNS
                .captures_iter(c)
                .filter_map(|m| m.get(1).map(|g| g.as_str().to_owned()))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut missing: Vec<&str> = input
        .declared
        .iter()
        .map(String::as_str)
        .filter(|name| !RESERVED_PREFIXES.iter().any(|p| name.starts_with(p)))
        .filter(|name| {
            !writers.iter().any(|c| c.contains(name))
                && !patterns.iter().any(|p| name.starts_with(p.as_str()))
        })
        .collect();
    missing.sort_unstable();
    missing.dedup();
    if missing.is_empty() {
        return;
    }
    let greps: String = missing.iter().map(|n| format!(" -e {n}")).collect();
    out.push(
        Finding::new(
            "env.server-vars-not-exported",
            format!(
                "{} {} never written to .env.production: on WEB_COMPUTE the server reads variables from that file, so {} undefined at run time",
                missing.join(", "),
                if missing.len() == 1 { "is" } else { "are" },
                if missing.len() == 1 { "it is" } else { "they are" },
            ),
            format!("add to frontend.phases.build.commands, before the build: - env | grep{greps} >> .env.production"),
        )
        .at(spec.name()),
    );
}
/// A root as written (`./apps/web/`) as a repository path (`apps/web`).
pub fn normalise_root(raw: &str) -> String {
    let mut root = raw.trim();
    while let Some(rest) = root.strip_prefix("./") {
        root = rest;
    }
    root.trim_matches('/').to_owned()
}
