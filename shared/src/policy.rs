//! The policy of an app or branch: which variables are required, which names
//! are secrets, how severe each rule is, whether an error stops the build.
//! YAML or JSON (JSON is YAML); `docs/policy.md` documents every field.

use std::collections::BTreeMap;

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::core::error::StoreError;
use crate::core::model::{AppId, BranchName, Environment};
use crate::core::verdicts::Severity;
use crate::validate::catalogue::RULES;
use crate::validate::policy::ValidationPolicy;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchPolicy {
    #[serde(default = "one")]
    pub version: u32,
    /// Required variables: under `all`, and per environment (`dev`,
    /// `staging`, `prod`).
    #[serde(default)]
    pub required: BTreeMap<String, Vec<String>>,
    /// Variables that may be absent, but are checked when present.
    #[serde(default)]
    pub optional: Vec<String>,
    /// Extra variable names (or name fragments) that hold secrets.
    #[serde(default)]
    pub secret_names: Vec<String>,
    /// Rule id → `error`, `warning` or `off`.
    #[serde(default)]
    pub severity: BTreeMap<String, Severity>,
    /// Stop the build (StopJob) when validation finds an error.
    #[serde(default = "yes")]
    pub stop_on_error: bool,
    /// `observe` or `enforce`: overrides the stack's `Enforcement` for this
    /// app or branch (absent: the stack's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforcement: Option<crate::core::enforcement::Enforcement>,
    // --- Builds that should not run (#29 items 8, 9; docs/validation.md) ---
    /// Stop an older build of the branch still pending or running when a
    /// newer one starts (enforce mode; observe mode records "would have
    /// skipped"). Rollback jobs are never stopped.
    #[serde(default = "yes")]
    pub cancel_superseded: bool,
    /// The app's own paths in its repository (globs), besides its app
    /// root: a push that changes nothing under them (nor under
    /// `shared_paths`) is not built.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// Paths every app of the repository builds from (globs: `packages/**`,
    /// lockfiles): a change there always builds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_paths: Vec<String>,
    // --- end of #29 items 8, 9 ---
    /// How the site is checked after a deploy (`docs/policy.md`).
    #[serde(default)]
    pub health: crate::health::policy::HealthPolicy,
    /// How alerts group and repeat (`docs/policy.md`).
    #[serde(default)]
    pub alerts: crate::alert::policy::AlertPolicy,
    /// Automatic rollback and retries (`docs/policy.md`).
    #[serde(default)]
    pub rollback: crate::rollback::policy::RollbackPolicy,
    /// What appears on GitHub (`docs/policy.md`).
    #[serde(default)]
    pub github: crate::github::policy::GitHubPolicy,
}

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}

impl Default for BranchPolicy {
    /// The built-in policy for Next.js on Amplify: every rule at its default
    /// severity, no required variable beyond what the rules infer, builds
    /// with errors stopped.
    fn default() -> Self {
        Self {
            version: 1,
            required: BTreeMap::new(),
            optional: Vec::new(),
            secret_names: Vec::new(),
            severity: BTreeMap::new(),
            stop_on_error: true,
            enforcement: None,
            cancel_superseded: true,
            paths: Vec::new(),
            shared_paths: Vec::new(),
            health: crate::health::policy::HealthPolicy::default(),
            alerts: crate::alert::policy::AlertPolicy::default(),
            rollback: crate::rollback::policy::RollbackPolicy::default(),
            github: crate::github::policy::GitHubPolicy::default(),
        }
    }
}

/// A policy that does not parse: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}:{line}:{column}: {reason}")]
pub struct PolicyError {
    pub source_name: String,
    pub line: usize,
    pub column: usize,
    pub reason: String,
}

const SCOPES: &[&str] = &["all", "dev", "staging", "prod"];

impl BranchPolicy {
    /// Parses YAML or JSON. `source_name` names the file in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, PolicyError> {
        let policy = Self::parse_stored(text, source_name)?;
        policy.check_bake(text, source_name)?;
        Ok(policy)
    }

    /// [`Self::parse`] without the checks added after a policy may have been
    /// stored (`health.bake`'s): a stored policy keeps loading, and the
    /// health checker refuses to run such a bake, saying why.
    pub fn parse_stored(text: &str, source_name: &str) -> Result<Self, PolicyError> {
        let policy: BranchPolicy = serde_yaml_ng::from_str(text).map_err(|e| {
            let (line, column) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((1, 1));
            PolicyError {
                source_name: source_name.to_owned(),
                line,
                column,
                reason: e
                    .to_string()
                    .split(" at line ")
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            }
        })?;
        policy.check(text, source_name)?;
        Ok(policy)
    }

    /// Semantic checks serde cannot do, located by searching the text for the
    /// offending key.
    fn check(&self, text: &str, source_name: &str) -> Result<(), PolicyError> {
        let fail = |key: &str, reason: String| {
            let line = text
                .lines()
                .position(|l| l.contains(key))
                .map(|i| i + 1)
                .unwrap_or(1);
            Err(PolicyError {
                source_name: source_name.to_owned(),
                line,
                column: 1,
                reason,
            })
        };
        if self.version != 1 {
            return fail(
                "version",
                format!("version {} is not supported (use 1)", self.version),
            );
        }
        for scope in self.required.keys() {
            if !SCOPES.contains(&scope.as_str()) {
                return fail(
                    scope,
                    format!("required.{scope}: expected one of {}", SCOPES.join(", ")),
                );
            }
        }
        for rule in self.severity.keys() {
            if !RULES.iter().any(|(id, _, _)| id == rule) {
                return fail(rule, format!("severity.{rule}: no such rule"));
            }
        }
        for (field, globs) in [("paths", &self.paths), ("shared_paths", &self.shared_paths)] {
            for glob in globs.iter() {
                if let Err(reason) =
                    crate::validate::paths::compile(field, std::slice::from_ref(glob))
                {
                    let at = if glob.trim().is_empty() {
                        field
                    } else {
                        glob.as_str()
                    };
                    return fail(at, reason);
                }
            }
        }
        Ok(())
    }

    /// `health.bake`'s problems, the first one located at its key (the
    /// field's name after `health.bake.`).
    fn check_bake(&self, text: &str, source_name: &str) -> Result<(), PolicyError> {
        let Some(problem) = self.health.bake.problems().into_iter().next() else {
            return Ok(());
        };
        let key = problem
            .strip_prefix("health.bake.")
            .and_then(|rest| rest.split([' ', ':']).next())
            .unwrap_or("bake");
        let line = text
            .lines()
            .position(|l| l.contains(key))
            .map_or(1, |i| i + 1);
        Err(PolicyError {
            source_name: source_name.to_owned(),
            line,
            column: 1,
            reason: problem,
        })
    }

    pub fn severity_of(&self, rule: &str) -> Severity {
        ValidationPolicy::from(self).severity_of(rule)
    }

    /// The variables required in `environment`.
    pub fn required_in(&self, environment: Environment) -> Vec<&str> {
        ValidationPolicy::from(self).required_in(environment)
    }
}

/// What the validation engine reads of the policy.
impl<'a> From<&'a BranchPolicy> for ValidationPolicy<'a> {
    fn from(policy: &'a BranchPolicy) -> Self {
        Self {
            required: &policy.required,
            secret_names: &policy.secret_names,
            severity: &policy.severity,
        }
    }
}

/// A policy as stored, with the scope it was found at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPolicy {
    pub policy: BranchPolicy,
    /// `branch` or `app`.
    pub scope: String,
}

/// Policies per app and branch, changeable without a redeploy.
pub trait PolicyStore: Send + Sync {
    /// The branch's policy, else the app's, else `None`.
    fn get_policy(
        &self,
        app_id: &AppId,
        branch_name: &BranchName,
    ) -> impl Future<Output = Result<Option<StoredPolicy>, StoreError>> + Send;

    /// Stores a policy for one branch, or for the whole app (`branch_name` None).
    fn put_policy(
        &self,
        app_id: &AppId,
        branch_name: Option<&BranchName>,
        policy: &BranchPolicy,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_yaml_and_json_alike() {
        let yaml = "required:\n  all: [DATABASE_URL]\n  prod: [NEXTAUTH_SECRET]\nseverity:\n  buildspec.node-memory: error\nstop_on_error: false\n";
        let json = r#"{"required": {"all": ["DATABASE_URL"], "prod": ["NEXTAUTH_SECRET"]},
                      "severity": {"buildspec.node-memory": "error"}, "stop_on_error": false}"#;
        let a = BranchPolicy::parse(yaml, "policy.yaml").unwrap();
        let b = BranchPolicy::parse(json, "policy.json").unwrap();
        assert_eq!(a, b);
        assert_eq!(
            a.required_in(Environment::Prod),
            vec!["DATABASE_URL", "NEXTAUTH_SECRET"]
        );
        assert_eq!(a.required_in(Environment::Dev), vec!["DATABASE_URL"]);
        assert_eq!(a.severity_of("buildspec.node-memory"), Severity::Error);
        assert_eq!(a.severity_of("env.secret-exposed"), Severity::Error);
        assert!(!a.stop_on_error);
        assert_eq!(a.enforcement, None);
    }

    #[test]
    fn enforcement_overrides_the_stack_and_rejects_other_words() {
        use crate::core::enforcement::Enforcement;
        let p = BranchPolicy::parse("enforcement: observe\n", "p.yaml").unwrap();
        assert_eq!(p.enforcement, Some(Enforcement::Observe));
        let p = BranchPolicy::parse("{\"enforcement\": \"enforce\"}", "p.json").unwrap();
        assert_eq!(p.enforcement, Some(Enforcement::Enforce));
        let err = BranchPolicy::parse("stop_on_error: true\nenforcement: dry-run\n", "p.yaml")
            .unwrap_err();
        assert_eq!(err.line, 2, "{err}");
        assert!(err.reason.contains("observe"), "{err}");
    }

    #[test]
    fn skip_fields_default_and_bad_globs_are_named_at_their_line() {
        let p = BranchPolicy::default();
        assert!(p.cancel_superseded && p.paths.is_empty() && p.shared_paths.is_empty());
        let p = BranchPolicy::parse(
            "cancel_superseded: false\npaths: [libs/web/**]\nshared_paths:\n  - packages/**\n  - pnpm-lock.yaml\n",
            "p.yaml",
        )
        .unwrap();
        assert!(!p.cancel_superseded);
        assert_eq!(p.paths, vec!["libs/web/**"]);
        assert_eq!(p.shared_paths, vec!["packages/**", "pnpm-lock.yaml"]);
        let err = BranchPolicy::parse(
            "paths: [apps/web]\nshared_paths:\n  - packages/**\n  - \"libs/{a,b\"\n",
            "p.yaml",
        )
        .unwrap_err();
        assert_eq!(err.line, 4, "{err}");
        assert!(
            err.reason
                .starts_with("shared_paths: \"libs/{a,b\" is not a glob"),
            "{err}"
        );
        let err = BranchPolicy::parse("paths: [/apps/web]\n", "p.yaml").unwrap_err();
        assert!(err.reason.contains("absolute"), "{err}");
        let err = BranchPolicy::parse("cancel_superseded: sometimes\n", "p.yaml").unwrap_err();
        assert!(
            err.reason.contains("cancel_superseded") || err.line == 1,
            "{err}"
        );
    }

    #[test]
    fn a_health_section_overrides_defaults() {
        let p = BranchPolicy::parse(
            "health:\n  url: https://shop.example.com\n  healthy_after: 3\n  endpoints:\n    - path: /api/health\n      json_equals: [/status, ok]\n  version:\n    path: /api/health\n    json_pointer: /commit\n",
            "p.yaml",
        )
        .unwrap();
        assert_eq!(p.health.healthy_after, 3);
        assert_eq!(p.health.latency_limit_ms, 3_000);
        assert_eq!(
            p.health.endpoints[0].json_equals,
            Some(("/status".into(), serde_json::json!("ok")))
        );
        let err =
            BranchPolicy::parse("health:\n  endpoints:\n    - pth: /\n", "p.yaml").unwrap_err();
        assert!(err.reason.contains("pth"), "{err}");
    }

    #[test]
    fn the_site_to_check_is_the_custom_domain_unless_the_policy_says_amplify_s() {
        use crate::health::SiteChoice;
        assert_eq!(
            BranchPolicy::default().health.site,
            SiteChoice::CustomDomain
        );
        let p = BranchPolicy::parse("health:\n  site: amplify_domain\n", "p.yaml").unwrap();
        assert_eq!(p.health.site, SiteChoice::AmplifyDomain);
        let p =
            BranchPolicy::parse("{\"health\": {\"site\": \"custom_domain\"}}", "p.json").unwrap();
        assert_eq!(p.health.site, SiteChoice::CustomDomain);
        let err = BranchPolicy::parse("health:\n  site: cdn\n", "p.yaml").unwrap_err();
        assert_eq!(err.line, 2, "{err}");
        assert!(
            err.reason.contains("cdn")
                && err.reason.contains("custom_domain")
                && err.reason.contains("amplify_domain"),
            "{err}"
        );
    }

    #[test]
    fn github_pr_comment_is_failures_unless_the_policy_says_and_rejects_other_words() {
        use crate::github::PrComment;
        assert_eq!(
            BranchPolicy::default().github.pr_comment,
            PrComment::Failures
        );
        let p = BranchPolicy::parse("github:\n  pr_comment: always\n", "p.yaml").unwrap();
        assert_eq!(p.github.pr_comment, PrComment::Always);
        let p = BranchPolicy::parse("{\"github\": {\"pr_comment\": \"never\"}}", "p.json").unwrap();
        assert_eq!(p.github.pr_comment, PrComment::Never);
        let err = BranchPolicy::parse("github:\n  pr_comment: sometimes\n", "p.yaml").unwrap_err();
        assert_eq!(err.line, 2, "{err}");
        assert!(
            err.reason.contains("sometimes")
                && err.reason.contains("always")
                && err.reason.contains("failures")
                && err.reason.contains("never"),
            "{err}"
        );
        let err = BranchPolicy::parse("github:\n  pr_coment: never\n", "p.yaml").unwrap_err();
        assert!(err.reason.contains("pr_coment"), "{err}");
    }

    #[test]
    fn a_policy_that_does_not_parse_names_the_line_and_reason() {
        let err = BranchPolicy::parse("required:\n  all: [A]\nstop_on_eror: true\n", "p.yaml")
            .unwrap_err();
        assert_eq!((err.source_name.as_str(), err.line), ("p.yaml", 3));
        assert!(err.reason.contains("stop_on_eror"), "{err}");

        let err = BranchPolicy::parse("severity:\n  env.nope: error\n", "p.yaml").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.reason.contains("no such rule"), "{err}");

        let err = BranchPolicy::parse("severity:\n  env.malformed: fatal\n", "p.yaml").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.to_string().starts_with("p.yaml:2:"), "{err}");

        let err = BranchPolicy::parse("required:\n  production: [A]\n", "p.yaml").unwrap_err();
        assert!(
            err.reason
                .contains("expected one of all, dev, staging, prod"),
            "{err}"
        );

        let err = BranchPolicy::parse("required: [unclosed\n", "p.yaml").unwrap_err();
        assert!(err.line >= 1 && !err.reason.is_empty(), "{err}");
    }
}
