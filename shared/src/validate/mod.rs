//! The validation engine: checks a build's configuration before (or as) it
//! runs, and says exactly what to change.
//!
//! Two entry points feed it: the validator function (app and branch read
//! through Amplify's API) and `sentinel validate` (process environment and
//! files of a checkout). Both build a [`ValidationInput`]; the engine runs
//! every rule whose inputs are present and returns a [`Report`].
//!
//! Secret values never leave this module: a finding names the variable and
//! the reason, at most with a value masked by [`crate::core::redact::mask`]
//! (a URL shows no part of itself), and [`validate`] masks every finding
//! once more as a whole ([`Finding::masked`]) on its way out.

pub mod local;
pub mod paths;
pub mod reaction;
pub mod rules;
pub mod skip;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::core::model::{AppId, BranchName, Environment};
pub use crate::core::verdicts::{Finding, Report, Severity};
use crate::policy::BranchPolicy;
use rules::{buildspec, deps, env, package};

/// Every rule: id, default severity, what it checks.
pub const RULES: &[(&str, Severity, &str)] = &[
    (
        "env.required-missing",
        Severity::Error,
        "a required variable is absent or empty",
    ),
    (
        "env.secrets-unchecked",
        Severity::Warning,
        "Amplify secrets (SSM Parameter Store) could not be listed: required variables absent from Amplify's variables are not reported missing",
    ),
    (
        "env.secret-exposed",
        Severity::Error,
        "a secret in a NEXT_PUBLIC_ variable, which is sent to every browser",
    ),
    (
        "env.secret-suspected",
        Severity::Warning,
        "a NEXT_PUBLIC_ variable named like a secret, or holding a random key, of no known format",
    ),
    (
        "env.malformed",
        Severity::Error,
        "a URL, database URL or numeric setting that does not parse",
    ),
    (
        "env.server-vars-not-exported",
        Severity::Warning,
        "server-side variables never written to .env.production on WEB_COMPUTE",
    ),
    (
        "buildspec.invalid",
        Severity::Error,
        "amplify.yml is not YAML or lacks version, phases, build commands or artifacts.baseDirectory",
    ),
    (
        "buildspec.artifacts-basedir",
        Severity::Error,
        "the artifacts base directory does not fit the platform",
    ),
    (
        "buildspec.node-memory",
        Severity::Warning,
        "no --max-old-space-size, or one above the build instance's memory",
    ),
    (
        "buildspec.cache-oversized",
        Severity::Warning,
        "cache paths known to exhaust memory in the caching step",
    ),
    (
        "node.version-mismatch",
        Severity::Error,
        "the build's Node version does not satisfy engines.node or Next.js",
    ),
    (
        "deps.lockfile-out-of-sync",
        Severity::Error,
        "package.json and package-lock.json disagree: npm ci will refuse",
    ),
    (
        "deps.peer-conflict",
        Severity::Error,
        "react, react-dom and next majors that make npm ci fail with ERESOLVE",
    ),
    (
        "deps.lockfile-missing",
        Severity::Error,
        "the build runs npm ci without a lockfile",
    ),
];

pub fn default_severity(rule: &str) -> Severity {
    RULES
        .iter()
        .find(|(id, _, _)| *id == rule)
        .map(|(_, s, _)| *s)
        .unwrap_or(Severity::Error)
}

impl Finding {
    pub fn new(rule: &str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            rule: rule.to_owned(),
            severity: default_severity(rule),
            message: message.into(),
            fix: fix.into(),
            location: None,
        }
    }
}

/// The hosting platform: static (`WEB`) or server-side rendering (`WEB_COMPUTE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Platform {
    #[serde(rename = "WEB")]
    Web,
    #[serde(rename = "WEB_COMPUTE")]
    WebCompute,
}

impl Platform {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "WEB" | "WEB_DYNAMIC" => Some(Self::Web),
            "WEB_COMPUTE" => Some(Self::WebCompute),
            _ => None,
        }
    }
}

/// A text file given to the engine, with the name findings will cite.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
}

/// What is known of the branch's Amplify secrets (SSM Parameter Store,
/// `/amplify/{appId}/{branch}/` and `/amplify/shared/{appId}/`): names and
/// where each was found, never a value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Secrets {
    /// Not looked up: `sentinel validate` (a checkout has no Amplify
    /// secrets), or every required variable is among the variables.
    #[default]
    NotLooked,
    /// Name → the path it was found under (the branch's wins).
    Found(BTreeMap<String, String>),
    /// The lookup failed (access denied, …): why, in SSM's words.
    Unchecked(String),
}

impl Secrets {
    /// Where `name` was found, if it was.
    pub fn location(&self, name: &str) -> Option<&str> {
        match self {
            Self::Found(names) => names.get(name).map(String::as_str),
            _ => None,
        }
    }
}

/// Where an Amplify build reads its secrets (SSM Parameter Store): the
/// branch's path, then the app's shared one (Amplify's documentation:
/// `/amplify/{appId}/{branch}/NAME` and `/amplify/shared/{appId}/NAME`).
pub fn secret_paths(app_id: &AppId, branch: &BranchName) -> [String; 2] {
    [
        format!("/amplify/{app_id}/{branch}/"),
        format!("/amplify/shared/{app_id}/"),
    ]
}

/// Everything a validation looks at. Absent parts skip the rules that need
/// them (listed in the report's `skipped`).
#[derive(Debug, Clone)]
pub struct ValidationInput {
    pub environment: Environment,
    pub platform: Option<Platform>,
    /// Amplify's framework string of the branch (e.g. "Next.js - SSR").
    pub framework: Option<String>,
    /// The build's environment variables, app and branch merged.
    pub variables: BTreeMap<String, String>,
    /// Variables the user declared (Amplify console, env file): the ones
    /// `env.server-vars-not-exported` considers. The process environment of a
    /// shell holds many more that are not the app's.
    pub declared: Vec<String>,
    pub build_spec: Option<SourceFile>,
    pub package_json: Option<SourceFile>,
    pub package_lock: Option<SourceFile>,
    /// Memory of the build instance in GiB: 8 (standard), 16 (large), 72 (xlarge).
    pub build_memory_gib: u32,
    /// The names of the branch's Amplify secrets, when they were looked up.
    pub secrets: Secrets,
}

impl ValidationInput {
    pub fn new(environment: Environment) -> Self {
        Self {
            environment,
            platform: None,
            framework: None,
            variables: BTreeMap::new(),
            declared: Vec::new(),
            build_spec: None,
            package_json: None,
            package_lock: None,
            build_memory_gib: 8,
            secrets: Secrets::NotLooked,
        }
    }

    /// Memory of Amplify's build compute types.
    pub fn memory_for_compute_type(compute_type: &str) -> u32 {
        match compute_type {
            "LARGE_16GB" => 16,
            "XLARGE_72GB" => 72,
            _ => 8,
        }
    }
}

/// A package.json or lockfile that cannot be read: the validation cannot
/// run, and the caller says which file and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {reason}")]
pub struct InputError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub reason: String,
}

/// Runs every rule and applies the policy's severities.
pub fn validate(input: &ValidationInput, policy: &BranchPolicy) -> Result<Report, InputError> {
    let mut findings = Vec::new();
    let mut skipped = Vec::new();

    findings.extend(env::check(input, policy));
    let spec = buildspec::BuildSpec::read(input.build_spec.as_ref());
    let package = package::Package::read(input.package_json.as_ref(), input.package_lock.as_ref())?;
    findings.extend(buildspec::check(input, &spec, package.as_ref()));
    match &package {
        Some(package) => findings.extend(deps::check(input, &spec, package)),
        None => skipped.extend(
            [
                "node.version-mismatch",
                "deps.lockfile-out-of-sync",
                "deps.peer-conflict",
                "deps.lockfile-missing",
            ]
            .map(String::from),
        ),
    }
    if input.build_spec.is_none() {
        skipped.extend(
            [
                "buildspec.invalid",
                "buildspec.artifacts-basedir",
                "buildspec.cache-oversized",
            ]
            .map(String::from),
        );
    }

    for f in &mut findings {
        f.severity = policy.severity_of(&f.rule);
    }
    findings.retain(|f| f.severity != Severity::Off);
    // Every report leaves through here: masking here covers every rule.
    let mut findings: Vec<Finding> = findings.into_iter().map(Finding::masked).collect();
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.rule.cmp(&b.rule))
    });
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .count();
    Ok(Report {
        passed: errors == 0,
        errors,
        warnings,
        findings,
        skipped,
        notes: env::notes(input, policy),
    })
}

#[cfg(test)]
pub(crate) mod tests;
