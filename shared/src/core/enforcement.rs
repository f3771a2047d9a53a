//! Observe or enforce: whether Sentinel acts on Amplify (StopJob,
//! UpdateBranch, StartJob) or only says what it would have done.
//!
//! The stack chooses the default (`Enforcement`, `SENTINEL_ENFORCEMENT`;
//! `observe` unless the user chose otherwise) and a branch's or app's
//! policy may override it either way, so that a team switches to enforce
//! app by app. In observe mode every reaction still runs — validation,
//! checks, diagnosis, alerts, metrics — and each action it would have taken
//! is recorded on the job's deployment ([`ObservedAction`]), published as
//! "Action Observed" and alerted as "would have …". The operator's own
//! commands (`sentinel rollback`, `sentinel unlock`) act in both modes: a
//! person asked for them.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::core::model::{JobId, ParseError, preview};

/// Whether automatic actions reach Amplify.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Enforcement {
    /// Nothing acts on Amplify; what would have happened is recorded,
    /// published and alerted. The default of a first install.
    #[default]
    Observe,
    /// Builds that cannot succeed are stopped, bad deploys rolled back and
    /// transient failures retried, as the policy allows.
    Enforce,
}

impl Enforcement {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Observe => "observe",
            Self::Enforce => "enforce",
        }
    }

    pub fn acts(self) -> bool {
        self == Self::Enforce
    }

    /// The mode for one branch: its policy's choice, else the stack's.
    pub fn for_branch(stack: Enforcement, policy: Option<Enforcement>) -> Enforcement {
        policy.unwrap_or(stack)
    }
}

impl FromStr for Enforcement {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "observe" => Ok(Self::Observe),
            "enforce" => Ok(Self::Enforce),
            other => Err(ParseError::new(
                "enforcement",
                format!("{} is not one of observe, enforce", preview(other)),
            )),
        }
    }
}

impl fmt::Display for Enforcement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An action Sentinel would have taken in enforce mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObservedKind {
    /// StopJob of a build whose configuration cannot succeed.
    StopBuild,
    /// Auto-build off and StartJob RETRY of the last known good job.
    Rollback,
    /// StartJob RETRY of a build that failed transiently.
    Retry,
    /// StopJob of a build that should not run: superseded by a newer one,
    /// or no change under the app's paths.
    Skip,
}

impl ObservedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StopBuild => "stop-build",
            Self::Rollback => "rollback",
            Self::Retry => "retry",
            Self::Skip => "skip",
        }
    }

    /// "would have stopped this build", as alerts and reports say it.
    pub fn would_have(self) -> &'static str {
        match self {
            Self::StopBuild => "would have stopped this build",
            Self::Rollback => "would have rolled back",
            Self::Retry => "would have retried this build",
            Self::Skip => "would have skipped this build",
        }
    }
}

/// One "would have", recorded on the deployment it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedAction {
    pub action: ObservedKind,
    /// The sentence alerts show: "would have rolled back to job 41: …".
    pub summary: String,
    /// The job a rollback or retry would have started from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_job: Option<JobId>,
    /// The command that does it by hand, where there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    pub at: DateTime<Utc>,
}

/// What the record keeps of a summary: the budget of an alert's paragraph,
/// well below EventBridge's 256 KB and SNS's limits.
pub const SUMMARY_MAX: usize = 1_000;

impl ObservedAction {
    pub fn new(action: ObservedKind, why: &str, at: DateTime<Utc>) -> Self {
        let summary = format!("{}: {why}", action.would_have());
        Self {
            action,
            summary: truncate(&crate::core::redact::mask_in_text(&summary), SUMMARY_MAX),
            target_job: None,
            command: None,
            at,
        }
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Records `action` once per kind: the same reaction twice (a redelivery)
/// keeps the first. Answers whether the list changed.
pub fn record(list: &mut Vec<ObservedAction>, action: ObservedAction) -> bool {
    if list.iter().any(|a| a.action == action.action) {
        return false;
    }
    list.push(action);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_modes_and_names_a_bad_one() {
        assert_eq!(
            "observe".parse::<Enforcement>().unwrap(),
            Enforcement::Observe
        );
        assert_eq!(
            " enforce\n".parse::<Enforcement>().unwrap(),
            Enforcement::Enforce
        );
        let err = "enforced".parse::<Enforcement>().unwrap_err().to_string();
        assert!(
            err.contains("enforcement") && err.contains("\"enforced\""),
            "{err}"
        );
        assert!(err.contains("observe, enforce"), "{err}");
        assert_eq!(Enforcement::default(), Enforcement::Observe);
    }

    #[test]
    fn a_branch_policy_overrides_the_stack_either_way() {
        use Enforcement::*;
        assert_eq!(Enforcement::for_branch(Observe, None), Observe);
        assert_eq!(Enforcement::for_branch(Observe, Some(Enforce)), Enforce);
        assert_eq!(Enforcement::for_branch(Enforce, Some(Observe)), Observe);
        assert!(Enforce.acts() && !Observe.acts());
    }

    #[test]
    fn an_action_is_recorded_once_per_kind_bounded_and_masked() {
        let now = Utc::now();
        let mut list = Vec::new();
        let secret = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB";
        let why = format!("{secret} {}", "x".repeat(5_000));
        assert!(record(
            &mut list,
            ObservedAction::new(ObservedKind::StopBuild, &why, now)
        ));
        assert!(!record(
            &mut list,
            ObservedAction::new(ObservedKind::StopBuild, "again", now)
        ));
        assert!(record(
            &mut list,
            ObservedAction::new(ObservedKind::Retry, "net", now)
        ));
        assert_eq!(list.len(), 2);
        assert!(
            list[0]
                .summary
                .starts_with("would have stopped this build: ")
        );
        assert!(list[0].summary.chars().count() <= SUMMARY_MAX);
        assert!(!list[0].summary.contains(secret), "{}", list[0].summary);
    }
}
