//! Every validation rule: its id, default severity and what it checks, as
//! the policy's `severity` keys and `sentinel policy` list them.

use crate::core::verdicts::{Finding, Severity};

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
