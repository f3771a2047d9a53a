//! The part of a branch policy the validation engine reads: which
//! variables are required, which names are secrets, how severe each rule
//! is. `crate::policy::BranchPolicy` gives it (`From<&BranchPolicy>`), so
//! the engine never imports the whole policy.

use std::collections::BTreeMap;

use crate::core::model::Environment;
use crate::core::verdicts::Severity;

use super::catalogue::default_severity;

/// A view of the policy's validation fields.
#[derive(Debug, Clone, Copy)]
pub struct ValidationPolicy<'a> {
    /// Required variables: under `all`, and per environment.
    pub required: &'a BTreeMap<String, Vec<String>>,
    /// Extra variable names (or name fragments) that hold secrets.
    pub secret_names: &'a [String],
    /// Rule id → its severity, where the policy sets one.
    pub severity: &'a BTreeMap<String, Severity>,
}

impl<'a> ValidationPolicy<'a> {
    /// The policy's severity of `rule`, else the rule's default.
    pub fn severity_of(&self, rule: &str) -> Severity {
        self.severity
            .get(rule)
            .copied()
            .unwrap_or_else(|| default_severity(rule))
    }

    /// The variables required in `environment`.
    pub fn required_in(&self, environment: Environment) -> Vec<&'a str> {
        let mut names: Vec<&'a str> = ["all", environment.as_str()]
            .iter()
            .filter_map(|scope| self.required.get(*scope))
            .flatten()
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}
