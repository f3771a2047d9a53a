//! What the reactions conclude about a build, as the deployment record and
//! the domain events carry it: the health verdict, the validation report and
//! the diagnosis. The engines that produce them live in their features
//! (`health`, `validate`, `diagnose`); these are only the shapes, so that the
//! record can hold them without the kernel importing a feature.

use serde::{Deserialize, Serialize};

// Health (the engine: `crate::health`).

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Healthy,
    Unhealthy,
    Inconclusive,
}

/// Whose fault a failed request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    Passed,
    /// The site answered wrongly (status, latency, content, redirect).
    SiteFailed,
    /// The site serves another version; counts as a failure after the grace.
    WrongVersion,
    /// We could not ask (DNS, connection refused, TLS handshake).
    OurSide,
}

/// Per endpoint, over every round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointReport {
    pub url: String,
    pub last_status: Option<u16>,
    pub last_latency_ms: u64,
    pub verdict: Outcome,
    pub reason: Option<String>,
    pub attempts: usize,
    pub p50_ms: u64,
    pub p95_ms: u64,
}

// Validation (the engine and its rules: `crate::validate`).

/// How bad a finding is. `Off` only appears in policies (a rule switched off).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Off,
    Warning,
    Error,
}

/// One problem found, with the change that fixes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub rule: String,
    pub severity: Severity,
    /// What is wrong, naming the variable, file or setting (never a secret value).
    pub message: String,
    /// The setting, command or change to make.
    pub fix: String,
    /// Where: a variable name, or `file:line`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

impl Finding {
    pub fn at(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }

    /// The finding with every secret in its text masked
    /// ([`crate::core::redact::mask_in_text`]). A rule may quote a file's
    /// line or a tool's error; this is the one place that guards what all
    /// of them write, before the finding reaches the record, the events,
    /// the archive, alerts and `--json`.
    pub fn masked(self) -> Self {
        use crate::core::redact::mask_in_text;
        Self {
            message: mask_in_text(&self.message),
            fix: mask_in_text(&self.fix),
            location: self.location.as_deref().map(mask_in_text),
            ..self
        }
    }
}

/// The result of one validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub passed: bool,
    pub errors: usize,
    pub warnings: usize,
    pub findings: Vec<Finding>,
    /// Rules that could not run for lack of input (e.g. no lockfile in the
    /// validator function, which sees configuration, not the repository).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
    /// What the validation established besides findings, e.g. that a
    /// required variable is present as an Amplify secret (a name and where
    /// it was found, never a value).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Report {
    pub fn has_errors(&self) -> bool {
        self.errors > 0
    }
}

// Diagnosis (the engine and its catalogue: `crate::diagnose`).

/// A line kept as evidence: its number in the log (1-based) and its text,
/// cleaned and with secret values masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub line: u64,
    pub text: String,
}

/// Another cause found in the same log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secondary {
    pub category: String,
    pub title: String,
    pub line: u64,
}

/// What the engine concluded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// A stable id from the catalogue (`node-heap-oom`, …, `unknown`).
    pub category: String,
    pub title: String,
    /// Whether retrying the same commit can succeed.
    pub transient: bool,
    pub fix: String,
    pub evidence: Vec<Evidence>,
    #[serde(default)]
    pub secondary: Vec<Secondary>,
    /// The last command Amplify ran before the failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// `exitCode` (records written before it was camelCase say `exit_code`).
    #[serde(
        default,
        rename = "exitCode",
        alias = "exit_code",
        skip_serializing_if = "Option::is_none"
    )]
    pub exit_code: Option<i32>,
    /// Why the log was not read to its end (its size or time budget):
    /// the diagnosis is of what was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut: Option<String>,
    /// Lines and bytes read.
    #[serde(default)]
    pub lines: u64,
    #[serde(default)]
    pub bytes: u64,
    /// Sent by a deploy script (`sentinel report failed --log`): its text is
    /// the reporter's, not Sentinel's reading of a log. Set by ingest
    /// whatever the sender wrote (`ingest::report_event`).
    #[serde(default, rename = "fromReport", skip_serializing_if = "is_false")]
    pub from_report: bool,
}

fn is_false(b: &bool) -> bool {
    !b
}

#[cfg(test)]
mod naming {
    use super::*;

    #[test]
    fn a_diagnosis_is_camel_case_and_reads_what_was_stored_before() {
        let old = r#"{"category":"node-heap-oom","title":"t","transient":false,"fix":"f",
                      "evidence":[],"exit_code":134}"#;
        let d: Diagnosis = serde_json::from_str(old).unwrap();
        assert_eq!(d.exit_code, Some(134));
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["exitCode"], 134);
        assert!(json.get("exit_code").is_none());
    }
}
