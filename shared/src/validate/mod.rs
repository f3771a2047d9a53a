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

pub mod catalogue;
pub mod input;
pub mod local;
pub mod paths;
pub mod policy;
pub mod reaction;
pub mod rules;
pub mod skip;

pub use crate::core::verdicts::{Finding, Report, Severity};
pub use catalogue::{RULES, default_severity};
pub use input::{InputError, Platform, Secrets, SourceFile, ValidationInput, secret_paths};
pub use policy::ValidationPolicy;

use rules::{buildspec, deps, env, package};

/// Runs every rule and applies the policy's severities.
pub fn validate<'a>(
    input: &ValidationInput,
    policy: impl Into<ValidationPolicy<'a>>,
) -> Result<Report, InputError> {
    let policy = policy.into();
    let mut findings = Vec::new();
    let mut skipped = Vec::new();

    findings.extend(env::check(input, &policy));
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
        notes: env::notes(input, &policy),
    })
}

#[cfg(test)]
pub(crate) mod tests;
